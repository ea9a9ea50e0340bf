#!/usr/bin/env node
// Memory and time of topic fan-out (README "Topics and subscriptions"), in the broker's runtime directly.
//
//   npm run build && node --expose-gc interop/bench/topic-fanout.mjs [--messages 20000] [--bytes 1024] [--subscriptions 1,10,100]
//
// For each subscription count: a fresh BrokerRuntime (memory store, no memory budget to page against),
// one topic with that many non-durable subscriptions and no consumers, then `messages` publishes of
// `bytes` each. Heap plus array buffers after a full GC, before and after, give the memory per copy:
// if every subscription copied the body it would be at least `bytes`; shared, it is the queue entry
// alone. Prints one JSON line per subscription count, with the load average (timings on a loaded
// machine are not comparable; the memory is).
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { numberOption, option } from './support.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(import.meta.url);
const { BrokerRuntime } = require(path.join(ROOT, 'dist/broker/runtime.js'));
const { MemoryStore } = require(path.join(ROOT, 'dist/store/memory-store.js'));
const { DEFAULT_QUEUE_OPTIONS } = require(path.join(ROOT, 'dist/config/queue-policies.js'));
const pino = require('pino');

if (typeof global.gc !== 'function') {
  console.error('topic-fanout.mjs: run with node --expose-gc');
  process.exit(2);
}
const MESSAGES = numberOption('--messages', 20000);
const BYTES = numberOption('--bytes', 1024);
const COUNTS = String(option('--subscriptions', '1,10,100')).split(',').map(Number);

const used = () => {
  global.gc();
  const memory = process.memoryUsage();
  return memory.heapUsed + memory.arrayBuffers;
};

for (const subscriptions of COUNTS) {
  const runtime = new BrokerRuntime(() => DEFAULT_QUEUE_OPTIONS, new MemoryStore(), { maxMemoryBytes: Number.MAX_SAFE_INTEGER, maxDiskBytes: Number.MAX_SAFE_INTEGER }, pino({ level: 'silent' }));
  runtime.recover();
  runtime.topics.declare('bench.topic');
  for (let i = 0; i < subscriptions; i++) {
    runtime.topics.subscribe({ topic: 'bench.topic', name: null, clientId: null, durable: false, shared: false, selector: null, consumerId: `bench/${i}` });
  }
  const meta = { groupId: null, closesGroup: false, expiresAtMs: null, deliveryCount: 0, durable: false };
  const before = used();
  const started = process.hrtime.bigint();
  for (let m = 0; m < MESSAGES; m++) runtime.topics.publish('bench.topic', meta, Buffer.alloc(BYTES, m & 255));
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  const bytes = used() - before;
  console.log(
    JSON.stringify({
      subscriptions,
      messages: MESSAGES,
      bodyBytes: BYTES,
      memoryMiB: Number((bytes / 2 ** 20).toFixed(1)),
      bytesPerCopy: Math.round(bytes / (MESSAGES * subscriptions)),
      publishesPerSecond: Math.round((MESSAGES / ms) * 1000),
      copiesPerSecond: Math.round(((MESSAGES * subscriptions) / ms) * 1000),
      loadAverage: Number(os.loadavg()[0].toFixed(1)),
    }),
  );
  runtime.stop();
}
