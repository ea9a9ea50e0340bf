#!/usr/bin/env node
// Throughput through a node that is not the queue's home, as a ratio of the home node itself.
//
//   npm run build && node interop/bench/cluster/throughput.mjs [--rounds 3] [--count 100000] [--size 100]
//
// One etcd member and two Convoy nodes on loopback (n1, n2). Each run uses a new queue, claimed on n1
// (n1 is its home). "home": the Qpid Proton C++ load clients (interop/bench/client) send to and receive
// from n1. "via": they send to and receive from n2, which serves both links through inter-node links
// to n1. Non-durable and durable (fsync batch) messages, at-least-once; throughput is messages received
// over [first send, last receive]. Rounds alternate which mode goes first; medians are printed with the
// ratio via/home. Everything shares this machine's cores: the via path has two brokers working per
// message, the home path one.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import rhea from 'rhea';
import { freePort } from '../support.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..', '..');
const ETCD = process.env.ETCD ?? '/usr/bin/etcd';

const options = { rounds: 3, count: 100_000, size: 100 };
for (let i = 2; i < process.argv.length; i += 2) {
  const name = process.argv[i].replace(/^--/, '');
  if (!(name in options) || !/^\d+$/.test(process.argv[i + 1] ?? '')) {
    console.error('usage: throughput.mjs [--rounds N] [--count N] [--size BYTES]');
    process.exit(2);
  }
  options[name] = Number(process.argv[i + 1]);
}

const children = [];
process.on('exit', () => children.forEach((child) => child.kill('SIGKILL')));
process.on('SIGINT', () => process.exit(130));


/** Starts a process and resolves once `ready(output)` holds (at once without `ready`). */
function startProcess(command, args, ready, what) {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let output = '';
  return new Promise((resolve, reject) => {
    if (!ready) resolve(child);
    const timer = setTimeout(() => reject(new Error(`${what} did not start: ${output.slice(-2000)}`)), 30_000);
    const seen = (chunk) => {
      output += chunk;
      if (ready(output)) {
        clearTimeout(timer);
        resolve(child);
      }
    };
    child.stdout.on('data', seen);
    child.stderr.on('data', seen);
    child.once('exit', (code) => reject(new Error(`${what} exited with ${code}: ${output.slice(-2000)}`)));
  });
}

async function startCluster() {
  const [client, peer, n1, n2] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'convoy-bench-cluster-'));
  await startProcess(
    ETCD,
    ['--name', 'm1', '--data-dir', path.join(root, 'etcd'), '--listen-client-urls', `http://127.0.0.1:${client}`,
      '--advertise-client-urls', `http://127.0.0.1:${client}`, '--listen-peer-urls', `http://127.0.0.1:${peer}`,
      '--initial-advertise-peer-urls', `http://127.0.0.1:${peer}`, '--initial-cluster', `m1=http://127.0.0.1:${peer}`],
    (output) => output.includes('ready to serve client requests'),
    'etcd',
  );
  const nodes = {};
  for (const [id, port] of [['n1', n1], ['n2', n2]]) {
    await startProcess(
      process.execPath,
      [path.join(ROOT, 'bin', 'convoy'), 'start', '--host', '127.0.0.1', '--port', String(port), '--http-port', '0', '--data-dir', path.join(root, id),
        '--log-level', 'warn', '--node-id', id, '--etcd', `http://127.0.0.1:${client}`, '--advertise', `127.0.0.1:${port}`],
      null,
      id,
    );
    await waitPort(port);
    nodes[id] = port;
  }
  return { nodes, root };
}

async function waitPort(port) {
  for (let tries = 0; tries < 300; tries++) {
    const open = await new Promise((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port }, () => resolve(true));
      socket.on('error', () => resolve(false));
      socket.setTimeout(200, () => resolve(false));
    }).catch(() => false);
    if (open) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`nothing listens on ${port}`);
}

/** A producer's attach on n1 claims the queue there (README, "Cluster": the first attach decides). */
async function claim(port, queue) {
  const connection = rhea.create_container().connect({ host: '127.0.0.1', port, reconnect: false });
  await new Promise((resolve) => connection.open_sender(queue).once('sendable', resolve));
  connection.close();
}

function buildClients() {
  const result = spawnSync(path.join(ROOT, 'interop', 'bench', 'client', 'build.sh'), { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`client build failed: ${result.stderr}`);
  const dir = result.stdout.trim().split('\n').pop();
  return { send: path.join(dir, 'bench-send'), recv: path.join(dir, 'bench-recv') };
}

function runClient(bin, args) {
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const lines = [];
  let buffer = '';
  const events = new Set();
  const waiters = [];
  child.stdout.on('data', (chunk) => {
    buffer += chunk;
    let newline;
    while ((newline = buffer.indexOf('\n')) >= 0) {
      const line = JSON.parse(buffer.slice(0, newline));
      buffer = buffer.slice(newline + 1);
      lines.push(line);
      if (line.event) events.add(line.event);
      for (const waiter of waiters.splice(0)) waiter();
    }
  });
  const done = new Promise((resolve) => child.once('exit', () => resolve(lines)));
  const event = async (name) => {
    while (!events.has(name)) await new Promise((resolve) => waiters.push(resolve));
  };
  return { done, event };
}

async function run(bin, port, queue, durable) {
  const recv = runClient(bin.recv, ['--url', `amqp://127.0.0.1:${port}`, '--address', queue, '--count', String(options.count), '--credit', '1000', '--timeout', '600']);
  await recv.event('ready');
  const sendArgs = ['--url', `amqp://127.0.0.1:${port}`, '--address', queue, '--count', String(options.count), '--size', String(options.size), '--window', '1000', '--timeout', '600'];
  if (durable) sendArgs.push('--durable');
  const send = runClient(bin.send, sendArgs);
  const [sent, received] = await Promise.all([send.done, recv.done]);
  const sender = sent.find((line) => line.role === 'sender');
  const receiver = received.find((line) => line.role === 'receiver');
  if (!sender?.ok || !receiver?.ok) throw new Error(`load clients failed: ${JSON.stringify({ sender, receiver })}`);
  return receiver.msgs / ((receiver.last_us - sender.start_us) / 1e6);
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

const bin = buildClients();
const { nodes, root } = await startCluster();
const results = { home: { plain: [], durable: [] }, via: { plain: [], durable: [] } };
let sequence = 0;
for (let round = 0; round < options.rounds; round++) {
  const modes = round % 2 === 0 ? ['home', 'via'] : ['via', 'home'];
  for (const kind of ['plain', 'durable']) {
    for (const mode of modes) {
      const queue = `bench.cluster.${process.pid}.${++sequence}`;
      await claim(nodes.n1, queue);
      const rate = await run(bin, mode === 'home' ? nodes.n1 : nodes.n2, queue, kind === 'durable');
      results[mode][kind].push(rate);
      console.log(`round ${round + 1} ${kind.padEnd(7)} ${mode.padEnd(4)} ${Math.round(rate)} msg/s`);
    }
  }
}
for (const kind of ['plain', 'durable']) {
  const home = median(results.home[kind]);
  const via = median(results.via[kind]);
  console.log(`${kind} ${options.size} B: home ${Math.round(home)} msg/s, via another node ${Math.round(via)} msg/s, ratio ${(via / home).toFixed(2)} (medians of ${options.rounds})`);
}
console.log(`load average ${os.loadavg().map((load) => load.toFixed(1)).join(' ')}`);
fs.rmSync(root, { recursive: true, force: true });
process.exit(0);
