#!/usr/bin/env node
// CPU time per message in the dispatch core when every message opens a new group and the oldest idle
// groups are forgotten (maxGroups 10,000): the path where a queue's group bookkeeping (the list operators
// page through, the count of groups with queued messages) is paid most. Compare two checkouts:
//
//   npm run build && node interop/bench/group-churn.mjs [ROOT ...]      # ROOT: a built checkout, default this one
//
// CPU time of this process (process.cpuUsage), not wall time, so that other work on the machine moves it less.
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const roots = process.argv.slice(2);
if (roots.length === 0) roots.push(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..'));
const MESSAGES = 400_000;
const options = {
  groupKey: null, maxGroups: 10_000, groupIdleTimeoutMs: null, groupRebalance: false,
  maxInFlightPerGroup: null, exclusive: false, maxDeliveryAttempts: 10, deadLetterQueue: 'DLQ',
};

function cpuMicrosPerMessage(apply, createCoreState) {
  const state = createCoreState(() => options);
  for (let c = 0; c < 8; c++) {
    apply(state, { type: 'attach', consumerId: `c${c}`, queue: 'q', priority: 0, exclusive: false, settleOnSend: false }, 0);
    apply(state, { type: 'credit', consumerId: `c${c}`, credit: 1e9, drain: false }, 0);
  }
  const body = Buffer.alloc(0);
  const started = process.cpuUsage();
  for (let i = 0; i < MESSAGES; i++) {
    const meta = { groupId: `g-${i}`, closesGroup: false, expiresAtMs: null, deliveryCount: 0, durable: false };
    for (const effect of apply(state, { type: 'enqueue', queue: 'q', meta, body }, 0)) {
      if (effect.type === 'deliver') apply(state, { type: 'settle', consumerId: effect.consumerId, deliveryId: effect.deliveryId, outcome: { type: 'accepted' } }, 0);
    }
  }
  const used = process.cpuUsage(started);
  return (used.user + used.system) / MESSAGES;
}

for (let round = 0; round < 3; round++) {
  for (const root of roots) {
    const { apply } = require(path.join(root, 'dist/core/apply.js'));
    const { createCoreState } = require(path.join(root, 'dist/core/state.js'));
    const runs = Array.from({ length: 5 }, () => cpuMicrosPerMessage(apply, createCoreState)).sort((a, b) => a - b);
    console.log(JSON.stringify({ root, cpuMicrosPerMessageMedianOf5: Number(runs[2].toFixed(2)) }));
  }
}
