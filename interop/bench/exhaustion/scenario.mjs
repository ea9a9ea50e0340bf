// One resource-exhaustion scenario against a running broker, measured (issue 9): the attack runs in
// a child process (attacks.mjs), a healthy client keeps doing round trips from this process, and the
// broker's memory is sampled from /proc. Used by run.mjs (Convoy and Artemis side by side) and by
// test/exhaustion/ (Convoy, in the default test run).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..', '..');
const rhea = createRequire(path.join(ROOT, 'package.json'))('rhea');

const MiB = 1024 * 1024;
/** A round trip not answered within this long counts as lost. */
const PROBE_TIMEOUT_MS = 10_000;

/**
 * The healthy client: one connection, a sender and a receiver on its own queue; sends one message,
 * waits for it to come back, records the time, every `intervalMs`.
 */
export function startProbe(host, port, intervalMs = 100) {
  const rtts = [];
  const problems = [];
  let stopped = false;
  let disconnected = false;
  const queue = `probe.${process.pid}.${Date.now()}`;
  const connection = rhea.create_container().connect({ host, port, reconnect: false });
  connection.on('error', () => undefined);
  connection.on('connection_error', () => undefined);
  connection.on('disconnected', () => {
    if (!stopped) disconnected = true;
  });
  const ready = new Promise((resolve, reject) => {
    connection.once('connection_open', resolve);
    connection.once('disconnected', (ctx) => reject(new Error(`probe could not connect: ${ctx.error ?? 'disconnected'}`)));
  });
  const done = (async () => {
    await ready;
    const receiver = connection.open_receiver({ source: queue, credit_window: 10, autoaccept: true });
    const sender = connection.open_sender({ target: queue });
    await new Promise((resolve) => sender.once('sendable', resolve));
    let waiting = null;
    receiver.on('message', () => waiting?.());
    while (!stopped && !disconnected) {
      const sentAt = performance.now();
      const answered = await new Promise((resolve) => {
        const timer = setTimeout(() => resolve(false), PROBE_TIMEOUT_MS);
        waiting = () => {
          clearTimeout(timer);
          resolve(true);
        };
        sender.send({ body: 'ping' });
      });
      waiting = null;
      if (answered) rtts.push(performance.now() - sentAt);
      else problems.push(`no answer within ${PROBE_TIMEOUT_MS} ms`);
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  })().catch((error) => problems.push(error.message));
  return {
    async stop() {
      stopped = true;
      await done;
      connection.close();
      const sorted = [...rtts].sort((a, b) => a - b);
      const at = (q) => (sorted.length === 0 ? null : round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]));
      return { roundTrips: rtts.length, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: sorted.length === 0 ? null : round(sorted[sorted.length - 1]), problems, disconnected };
    },
  };
}

/** RSS of a process and its descendants (Artemis's launcher script runs the JVM as a child). */
export function rssOfTree(pid) {
  let total = 0;
  for (const one of [pid, ...descendants(pid)]) {
    try {
      total += Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${one}/status`, 'utf8'))?.[1] ?? 0) * 1024;
    } catch {
      /* gone */
    }
  }
  return total;
}

function descendants(pid) {
  try {
    const children = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    return children.flatMap((child) => [child, ...descendants(child)]);
  } catch {
    return [];
  }
}

/** Runs attacks.mjs SCENARIO in a child process; resolves with its JSON summary. */
export function runAttack(scenario, host, port, options = {}, timeoutMs = 180_000) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(HERE, 'attacks.mjs'), scenario, host, String(port), JSON.stringify(options)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.stderr.on('data', (chunk) => (err += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      const line = out.trim().split('\n').pop();
      if (code === 0 && line) resolve(JSON.parse(line));
      else reject(new Error(`attack ${scenario} exited with ${code ?? signal}: ${err.slice(-2000)}`));
    });
  });
}

/**
 * One scenario: RSS before, then the attack with the probe running and RSS sampled every 100 ms, then
 * `settleMs` for the broker to let go of what the attack held.
 */
export async function runScenario({ host, port, pid, scenario, options = {}, settleMs = 2000 }) {
  const beforeBytes = rssOfTree(pid);
  let peakBytes = beforeBytes;
  const sampler = setInterval(() => (peakBytes = Math.max(peakBytes, rssOfTree(pid))), 100);
  const probe = startProbe(host, port);
  const started = Date.now();
  let attack;
  try {
    attack = await runAttack(scenario, host, port, options);
  } finally {
    clearInterval(sampler);
  }
  const attackMs = Date.now() - started;
  await new Promise((resolve) => setTimeout(resolve, settleMs));
  const healthy = await probe.stop();
  return { scenario, options, attackMs, attack, healthy, rss: { beforeMiB: round(beforeBytes / MiB), peakMiB: round(peakBytes / MiB), afterMiB: round(rssOfTree(pid) / MiB) } };
}

function round(value) {
  return Math.round(value * 10) / 10;
}
