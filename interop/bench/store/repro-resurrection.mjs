#!/usr/bin/env node
// Reproduction (store problem found while measuring): deleting a fully consumed segment also deletes the
// Remove records it holds for messages that live in OLDER segments that are kept; after a restart those
// consumed messages come back.
//
//   node interop/bench/store/repro-resurrection.mjs [--root DIR]
//
// Uses JournalStore from dist/ directly, segmentBytes 65536 (the smallest allowed), 1 KiB bodies:
//   segment 1: A1..A20 (queue A, never consumed) + B1..B30 (queue B)
//   segment 2: C1..C30, then the Remove records of B1..B30 (B is consumed)
//   segment 3: D1..D60 (rolls on); C and D are consumed
//   reclaim(): segment 2 has no live message -> deleted; segment 1 keeps 20 of 50 live (40 % >= 25 %),
//   so it is neither deleted nor compacted.
// Reopen: expected A = 20 messages and nothing else; the bug gives B1..B30 back as well.
import { createRequire } from 'node:module';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { BENCH_RECV, benchSend, convoyRoot, parseArgs, sleep, startBroker, tmpDir } from './lib.mjs';

const opt = parseArgs(process.argv.slice(2), { root: '' });
const root = convoyRoot(opt.root);
const req = createRequire(join(root, 'package.json'));
const { JournalStore } = req(join(root, 'dist/store/journal-store.js'));
const silent = { debug() {}, info() {}, warn() {}, error() {}, fatal() {}, trace() {}, child: () => silent };
const dir = join(tmpDir('convoy-repro-'), 'journal');
const make = () => new JournalStore({ dir, fsync: { mode: 'batch' }, segmentBytes: 65536, logger: silent });
const meta = { groupId: null, closesGroup: false, expiresAtMs: null, deliveryCount: 0, durable: true };
const body = Buffer.alloc(1024, 1);
const durable = (s) =>
  new Promise((r) => {
    s.whenDurable(r);
    s.flush();
  });

let store = make();
store.open(1 << 30);
let id = 0;
const ids = { A: [], B: [], C: [], D: [] };
const add = async (queue, n) => {
  store.declareQueue(queue);
  for (let i = 0; i < n; i++) {
    id++;
    store.add({ id, queue, seq: id, meta }, body, false);
    ids[queue].push(id);
  }
  await durable(store);
};
await add('A', 20);
await add('B', 30);
await add('C', 30);
for (const m of ids.B) store.remove(m);
await durable(store);
await add('D', 60);
for (const m of [...ids.C, ...ids.D]) store.remove(m);
await durable(store);
const before = readdirSync(dir).filter((f) => f.endsWith('.journal'));
store.reclaim();
await durable(store);
await new Promise((r) => setTimeout(r, 50));
store.reclaim();
const after = readdirSync(dir).filter((f) => f.endsWith('.journal'));
store.close();

store = make();
const recovered = store.open(1 << 30);
store.close();
const counts = Object.fromEntries(recovered.queues.map((q) => [q.name, q.messages.length]));
console.log(JSON.stringify({ segmentsBeforeReclaim: before, segmentsAfterReclaim: after, recovered: counts, expected: { A: 20, B: 0, C: 0, D: 0 } }));
const ok = counts.A === 20 && !counts.B && !counts.C && !counts.D;
console.log(ok ? 'OK: only the 20 unconsumed messages came back' : `BUG: ${counts.B ?? 0} consumed B messages came back after restart (their Remove records were in a deleted segment)`);

// The same through the real broker (bench-send / bench-recv, durable 1 KiB, segmentBytes 65536).
const dataDir = join(tmpDir('convoy-repro-broker-'), 'data');
const config = { segmentBytes: 65536 };
let b = await startBroker({ root, dataDir, config });
const send = (address, count) => benchSend({ port: b.port, address, count, size: 1024, durable: true, window: 10 });
const recv = (address, count) => {
  const p = spawnSync(BENCH_RECV, ['--url', `amqp://127.0.0.1:${b.port}`, '--address', address, '--count', String(count), '--credit', '10', '--timeout', '30'], { encoding: 'utf8' });
  return JSON.parse(p.stdout.trim().split('\n').pop()).msgs;
};
await send('A', 20);
await send('B', 30);
await send('C', 30);
const gotB = recv('B', 30);
await send('D', 60);
const gotCD = recv('C', 30) + recv('D', 60);
await sleep(2500); // two reclaim ticks
const segs = readdirSync(join(dataDir, 'journal')).filter((f) => f.endsWith('.journal'));
await b.stop('SIGTERM');
b = await startBroker({ root, dataDir, config });
const rec = b.recovered;
await b.stop('SIGTERM');
const brokerOk = rec.messages === 20;
console.log(JSON.stringify({ broker: { consumedB: gotB, consumedCD: gotCD, segmentsBeforeStop: segs, recoveredMessages: rec.messages, expected: 20 } }));
console.log(brokerOk ? 'broker OK' : `broker BUG: ${rec.messages - 20} consumed messages came back after a clean restart`);
process.exit(ok && brokerOk ? 0 : 1);
