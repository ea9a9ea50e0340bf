#!/usr/bin/env node
// A consumer with a selector beside a backlog it does not select, Convoy and ActiveMQ Artemis in the
// same run, same client (rhea), same messages (issue 11: "dispatch with selectors must not rescan the
// whole backlog for every message").
//
//   npm run build && node interop/bench/selector-backlog.mjs [--backlogs 0,10000,100000] [--messages 1000] [--brokers convoy,artemis]
//
// For each broker and backlog size N: N non-durable messages with colour 'blue' are queued; then a
// receiver with selector colour = 'red' takes --messages red messages one at a time (send one, grant one
// credit, wait for it, accept it: a JMS receive() loop). Reports milliseconds per red message; a broker
// that looks at the backlog for every message slows down as N grows. Artemis comes from
// interop/bench/setup-artemis.sh (Maven Central). Prints a table and one JSON line.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { numberOption, option, freePort } from './support.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');
const require = createRequire(import.meta.url);
const rhea = require('rhea');

const BACKLOGS = option('--backlogs', '0,10000,100000').split(',').map(Number);
const MESSAGES = numberOption('--messages', 1000);
const BROKERS = option('--brokers', 'convoy,artemis').split(',');


async function waitPort(port, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => socket.end(() => resolve(true)));
      socket.on('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${port}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function startConvoy() {
  const port = await freePort();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'convoy-selbench-'));
  const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'convoy'), 'start', '--host', '127.0.0.1', '--port', String(port), '--data-dir', dataDir, '--log-level', 'warn'], { stdio: 'ignore' });
  await waitPort(port, 30000);
  return { port, stop: () => stopChild(child) };
}

async function startArtemis() {
  const port = await freePort();
  const setup = spawnSync(path.join(HERE, 'setup-artemis.sh'), ['--port', String(port)], { encoding: 'utf8', timeout: 1200000 });
  if (setup.status !== 0) throw new Error(`setup-artemis.sh failed:\n${setup.stderr}`);
  const instance = setup.stdout.trim().split('\n').pop();
  fs.rmSync(path.join(instance, 'data'), { recursive: true, force: true });
  const child = spawn(path.join(instance, 'bin', 'artemis'), ['run'], { stdio: 'ignore' });
  await waitPort(port, 90000);
  return { port, version: path.basename(instance).replace('artemis-instance-', ''), stop: () => stopChild(child) };
}

function stopChild(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

function connect(port) {
  return new Promise((resolve, reject) => {
    const connection = rhea.create_container().connect({ host: '127.0.0.1', port, reconnect: false });
    connection.once('connection_open', () => resolve(connection));
    connection.once('disconnected', (ctx) => reject(ctx.error ?? new Error('disconnected')));
  });
}

function opened(link, event) {
  return new Promise((resolve) => link.once(event, () => resolve(link)));
}

/** Sends the messages unsettled and resolves once every one is accepted. */
function sendAll(sender, messages) {
  return new Promise((resolve, reject) => {
    let next = 0;
    let accepted = 0;
    const done = (error) => {
      sender.removeListener('accepted', onAccepted);
      sender.removeListener('rejected', onRejected);
      sender.removeListener('sendable', pump);
      if (error) reject(error);
      else resolve();
    };
    const pump = () => {
      while (next < messages.length && sender.sendable()) sender.send(messages[next++]);
    };
    const onAccepted = () => {
      if (++accepted === messages.length) done();
    };
    const onRejected = () => done(new Error('rejected'));
    if (messages.length === 0) return resolve();
    sender.on('accepted', onAccepted);
    sender.on('rejected', onRejected);
    sender.on('sendable', pump);
    pump();
  });
}

async function measure(port, queue, backlog) {
  const connection = await connect(port);
  const sender = await opened(connection.open_sender(queue), 'sendable');
  const blue = Array.from({ length: backlog }, (_, i) => ({ body: `blue-${i}`, application_properties: { colour: 'blue' } }));
  for (let from = 0; from < blue.length; from += 10000) await sendAll(sender, blue.slice(from, from + 10000));
  const receiver = await opened(
    connection.open_receiver({ source: { address: queue, filter: rhea.filter.selector("colour = 'red'") }, autoaccept: false, credit_window: 0 }),
    'receiver_open',
  );
  const started = process.hrtime.bigint();
  for (let i = 0; i < MESSAGES; i++) {
    const arrived = new Promise((resolve) => receiver.once('message', (ctx) => resolve(ctx)));
    sender.send({ body: `red-${i}`, application_properties: { colour: 'red' } });
    receiver.add_credit(1);
    const ctx = await arrived;
    if (ctx.message.body !== `red-${i}`) throw new Error(`expected red-${i}, got ${ctx.message.body}`);
    ctx.delivery.accept();
  }
  const msPerMessage = Number(process.hrtime.bigint() - started) / 1e6 / MESSAGES;
  connection.close();
  return msPerMessage;
}

const starters = { convoy: startConvoy, artemis: startArtemis };
const results = [];
const versions = {};
for (const name of BROKERS) {
  const broker = await starters[name]();
  if (broker.version) versions[name] = broker.version;
  try {
    await measure(broker.port, 'bench.sel.warmup', 1000);
    for (const backlog of BACKLOGS) {
      results.push({ broker: name, backlog, msPerMessage: Number((await measure(broker.port, `bench.sel.${backlog}`, backlog)).toFixed(3)) });
    }
  } finally {
    await broker.stop();
  }
}
console.log('backlog    ' + BROKERS.map((b) => `${b} ms/msg`.padEnd(18)).join('') + (BROKERS.length === 2 ? 'convoy/artemis' : ''));
for (const backlog of BACKLOGS) {
  const row = BROKERS.map((b) => results.find((r) => r.broker === b && r.backlog === backlog).msPerMessage);
  console.log(String(backlog).padEnd(11) + row.map((v) => String(v).padEnd(18)).join('') + (row.length === 2 ? (row[0] / row[1]).toFixed(2) : ''));
}
console.log(JSON.stringify({ messages: MESSAGES, versions, loadavg: os.loadavg(), results }));
