#!/usr/bin/env node
// Memory per queued message beyond its body: what src/broker/memory-budget.ts MESSAGE_BOOKKEEPING_BYTES
// must cover (issue 9: "counting per-message bookkeeping").
//
//   npm run build && node --expose-gc interop/bench/message-bookkeeping.mjs [--messages 100000] [--body 100]
//
// Each case runs in a fresh process of its own (this script with --case N), which runs the real broker
// (dist/, AMQP listener on loopback); a child process of it sends the messages over AMQP, so they
// arrive the way a producer's do (bodies read from the socket) and nothing of the client lives in that
// heap. After a full GC: heap used plus array buffers (where Buffer bytes live) before and after N
// messages are queued with no consumer (or delivered and held unsettled); the difference per message,
// minus the body when the body is kept in memory, is the bookkeeping. One JSON line.
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { numberOption } from './support.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(import.meta.url);
const { startBroker } = require(path.join(ROOT, 'dist/broker/server.js'));
const { DELIVERY_BOOKKEEPING_BYTES, MESSAGE_BOOKKEEPING_BYTES } = require(path.join(ROOT, 'dist/broker/memory-budget.js'));

if (typeof global.gc !== 'function') {
  console.error('message-bookkeeping.mjs: run with node --expose-gc');
  process.exit(2);
}
const MESSAGES = numberOption('--messages', 100000);
const BODY = numberOption('--body', 100);
const CASE = numberOption('--case', -1);

// Sends `count` messages of `body` bytes to `queue`, at-least-once, and exits once all are accepted;
// with `hold`, a receiver takes them all and settles none, and the process stays until told to go.
const SENDER = `
const rhea = require(process.argv[1]);
const [port, queue, count, body, durable, groups, hold] = process.argv.slice(2);
const total = Number(count);
const payload = Buffer.alloc(Number(body), 120);
const connection = rhea.create_container().connect({ host: '127.0.0.1', port: Number(port), reconnect: false });
const sender = connection.open_sender(queue);
let sent = 0;
let accepted = 0;
sender.on('sendable', () => {
  while (sent < total && sender.sendable()) {
    const message = { body: rhea.message.data_section(payload), durable: durable === 'true' };
    if (groups === 'true') message.group_id = 'g' + sent;
    sender.send(message);
    sent++;
  }
});
let received = 0;
if (process.env.TRACE) setInterval(() => console.error('child', accepted, received), 2000).unref();
const done = () => {
  if (accepted < total || (hold === 'true' && received < total)) return;
  if (hold === 'true') process.send('holding');
  else connection.close();
};
if (hold === 'true') {
  // The broker keeps at most maxUnsettledPerLink (5000) deliveries unsettled per link: several links,
  // each on a session of its own (rhea's sessions hold 2048 unsettled incoming deliveries unless told).
  const links = Math.ceil(total / 4000);
  for (let i = 0; i < links; i++) {
    const session = connection.create_session(8192);
    session.begin();
    const receiver = session.open_receiver({ source: queue, credit_window: 0, autoaccept: false });
    receiver.once('receiver_open', () => receiver.add_credit(4000));
    receiver.on('message', () => { received++; done(); });
  }
}
sender.on('accepted', () => { accepted++; done(); });
sender.on('rejected', (ctx) => { console.error('rejected', JSON.stringify(ctx.delivery.remote_state)); process.exit(1); });
connection.on('connection_close', () => process.exit(0));
`;

/** Resolves once the messages are in (and, with `hold`, all delivered and held); `release` ends the child. */
function send(port, queue, { durable, groups, hold = false }) {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['-e', SENDER, require.resolve('rhea'), String(port), queue, String(MESSAGES), String(BODY), String(durable), String(groups), String(hold)],
      { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
    );
    const release = () => child.kill();
    child.once('message', () => resolve(release));
    child.once('exit', (code) => (code === 0 || code === null ? resolve(release) : reject(new Error(`sender exited with ${code}`))));
  });
}

function used() {
  for (let i = 0; i < 4; i++) global.gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

const cases = [
  { name: 'memory store, non-durable', store: 'memory', durable: false, paged: false, groups: false },
  { name: 'memory store, non-durable, delivered and held unsettled', store: 'memory', durable: false, paged: false, groups: false, hold: true },
  { name: 'memory store, non-durable, a group id each', store: 'memory', durable: false, paged: false, groups: true },
  { name: 'journal, durable, body in memory', store: 'journal', durable: true, paged: false, groups: false },
  { name: 'journal, durable, body in memory, a group id each', store: 'journal', durable: true, paged: false, groups: true },
  { name: 'journal, non-durable, body paged', store: 'journal', durable: false, paged: true, groups: false },
  { name: 'journal, durable, body paged', store: 'journal', durable: true, paged: true, groups: false },
  { name: 'journal, durable, body paged, a group id each', store: 'journal', durable: true, paged: true, groups: true },
];

async function measure(c) {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'convoy-bookkeeping-'));
  const broker = await startBroker({
    host: '127.0.0.1',
    port: 0,
    logLevel: 'silent',
    store: c.store,
    dataDir,
    // Room for everything; with `paged`, every body goes to the journal at once.
    maxMemoryBytes: 8 * 1024 * 1024 * 1024,
    memoryPagingRatio: c.paged ? 1e-9 : 1,
    producerCreditWindow: 1000,
  });
  const before = used();
  const release = await send(broker.port, 'bookkeeping', c);
  await new Promise((resolve) => setTimeout(resolve, 200));
  const after = used();
  const queue = broker.runtime.state.queues.get('bookkeeping');
  const queued = queue.queuedCount + queue.inFlightCount;
  release();
  const bodyInMemory = c.paged ? 0 : BODY;
  const perMessage = Math.round((after - before) / queued - bodyInMemory);
  await broker.stop();
  rmSync(dataDir, { recursive: true, force: true });
  return { case: c.name, messages: queued, bodyBytes: BODY, bytesPerMessageBeyondBody: perMessage };
}

if (CASE >= 0) {
  console.log(JSON.stringify(await measure(cases[CASE])));
  process.exit(0);
}

const results = cases.map((c, index) => {
  const run = spawnSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), '--case', String(index), '--messages', String(MESSAGES), '--body', String(BODY)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (run.status !== 0) throw new Error(`case "${c.name}" failed`);
  const result = JSON.parse(run.stdout.trim().split('\n').pop());
  console.error(`${c.name}: ${result.bytesPerMessageBeyondBody} B per message beyond the body`);
  return result;
});
const queuedCases = results.filter((r) => !r.case.includes('held unsettled'));
const largest = Math.max(...queuedCases.map((r) => r.bytesPerMessageBeyondBody));
const held = results.find((r) => r.case.includes('held unsettled')).bytesPerMessageBeyondBody;
const delivery = held - results.find((r) => r.case === 'memory store, non-durable').bytesPerMessageBeyondBody;
console.log(
  JSON.stringify({
    messages: MESSAGES,
    bodyBytes: BODY,
    message: { largest, accounted: MESSAGE_BOOKKEEPING_BYTES, covered: largest <= MESSAGE_BOOKKEEPING_BYTES },
    delivery: { measured: delivery, accounted: DELIVERY_BOOKKEEPING_BYTES, covered: delivery <= DELIVERY_BOOKKEEPING_BYTES },
    results,
  }),
);
