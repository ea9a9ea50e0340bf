#!/usr/bin/env node
// Heap bytes per remembered message group (issue 3), measured in the dispatch core directly.
//
//   npm run build && node --expose-gc interop/bench/group-memory.mjs [--groups 100000] [--consumers 8]
//
// Builds N groups the way traffic does: one message per group, delivered to one of the consumers
// (which then owns the group) and accepted, so every group ends owned and idle — the state a broker
// remembers for a group between its messages (DESIGN.md §2, default options: never forgotten).
// Heap is measured after a full GC before and after; message bodies are gone by then (accepted),
// so the difference is the groups: the Group records, their ids, the queue's group and idle-LRU
// maps and each owner's set of groups. Prints one JSON line.
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { numberOption } from './support.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(import.meta.url);
const { apply } = require(path.join(ROOT, 'dist/core/apply.js'));
const { createCoreState } = require(path.join(ROOT, 'dist/core/state.js'));

if (typeof global.gc !== 'function') {
  console.error('group-memory.mjs: run with node --expose-gc');
  process.exit(2);
}
const GROUPS = numberOption('--groups', 100000);
const CONSUMERS = numberOption('--consumers', 8);
const CREDIT = 1000;

const options = {
  groupKey: null, maxGroups: null, groupIdleTimeoutMs: null, groupRebalance: false,
  maxInFlightPerGroup: null, exclusive: false, maxDeliveryAttempts: 10, deadLetterQueue: 'DLQ',
};
const state = createCoreState(() => options);
const body = Buffer.alloc(100);
let now = 1;
const run = (command) => apply(state, command, now++);

for (let c = 0; c < CONSUMERS; c++) {
  run({ type: 'attach', consumerId: `c${c}`, queue: 'orders', priority: 0, exclusive: false, settleOnSend: false });
  run({ type: 'credit', consumerId: `c${c}`, credit: CREDIT, drain: false });
}
// A group id is decoded from the message's bytes: a fresh flat string, as the broker's decoder makes it.
// (A template literal would make a rope of two strings, about 24 bytes more per group than the broker holds.)
const groupId = (i) => Buffer.from(`order-${String(i).padStart(8, '0')}`, 'latin1').toString('utf8');

function heapUsed() {
  for (let i = 0; i < 3; i++) global.gc();
  return process.memoryUsage().heapUsed;
}

const before = heapUsed();
for (let i = 0; i < GROUPS; i++) {
  const meta = { groupId: groupId(i), closesGroup: false, expiresAtMs: null, deliveryCount: 0, durable: false };
  for (const effect of run({ type: 'enqueue', queue: 'orders', meta, body })) {
    if (effect.type !== 'deliver') continue;
    run({ type: 'settle', consumerId: effect.consumerId, deliveryId: effect.deliveryId, outcome: { type: 'accepted' } });
    run({ type: 'credit', consumerId: effect.consumerId, credit: CREDIT, drain: false });
  }
}
const after = heapUsed();

const queue = state.queues.get('orders');
const owned = [...queue.groups.values()].filter((g) => g.owner !== null && g.queued === 0 && g.inFlight === 0).length;
if (owned !== GROUPS || queue.idleGroups.size !== GROUPS || queue.queuedCount !== 0 || queue.inFlightCount !== 0) {
  console.error(`group-memory.mjs: expected ${GROUPS} owned idle groups, got ${owned} (idle ${queue.idleGroups.size})`);
  process.exit(1);
}
console.log(JSON.stringify({
  groups: GROUPS,
  consumers: CONSUMERS,
  group_id_example: groupId(0),
  heap_bytes_total: after - before,
  heap_bytes_per_group: Math.round((after - before) / GROUPS),
}));
