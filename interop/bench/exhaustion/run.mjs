#!/usr/bin/env node
// The resource-exhaustion suite against Convoy and ActiveMQ Artemis, side by side (issue 9).
//
//   npm run build && node interop/bench/exhaustion/run.mjs [--brokers convoy,artemis] [--scenarios a,b] [--out FILE]
//
// Each broker runs with its own defaults (Convoy: `convoy start`, journal; Artemis: the instance of
// interop/bench/setup-artemis.sh, which fetches Artemis 2.56 on first use) on a free loopback port,
// started afresh for every scenario. Every scenario (attacks.mjs, run from a child process) is
// measured the same way on both (scenario.mjs): peak RSS of the broker's processes, and a healthy
// client's round trips meanwhile. Prints a table and writes interop/bench/exhaustion/results/latest.json.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runScenario } from './scenario.mjs';
import { freePort } from '../support.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..', '..');
const LOGS = path.join(ROOT, 'interop', '.cache', 'exhaustion-logs');

/** The attacks and their sizes: the same for both brokers. */
const SCENARIOS = {
  connections: { count: 3000, holdSeconds: 5 },
  slowHandshakes: { count: 500, seconds: 15 },
  sessionFlood: { connections: 10, sessions: 10000, seconds: 30 },
  linkFlood: { links: 10000, perSession: 1000, seconds: 120 },
  producerFlood: { producers: 4, seconds: 20, bodyBytes: 1024 },
  hugeMessages: { producers: 4, seconds: 20, bodyBytes: 10 * 1024 * 1024 },
  greedyConsumers: { consumers: 20, seconds: 20, bodyBytes: 1024 },
};

function args() {
  const out = { brokers: ['convoy', 'artemis'], scenarios: Object.keys(SCENARIOS), out: path.join(HERE, 'results', 'latest.json') };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const value = argv[++i];
    if (argv[i - 1] === '--brokers') out.brokers = value.split(',');
    else if (argv[i - 1] === '--scenarios') out.scenarios = value.split(',');
    else if (argv[i - 1] === '--out') out.out = path.resolve(value);
    else throw new Error(`usage: run.mjs [--brokers convoy,artemis] [--scenarios ${Object.keys(SCENARIOS).join(',')}] [--out FILE]`);
  }
  for (const scenario of out.scenarios) if (!SCENARIOS[scenario]) throw new Error(`unknown scenario ${scenario}`);
  return out;
}


async function waitPort(port, proc, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`broker exited with ${proc.exitCode} before listening`);
    const open = await new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => (socket.destroy(), resolve(true)));
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`broker did not listen on ${port} within ${timeoutMs} ms`);
}

function spawnLogged(name, command, argv) {
  fs.mkdirSync(LOGS, { recursive: true });
  const log = fs.openSync(path.join(LOGS, `${name}.log`), 'a');
  const proc = spawn(command, argv, { cwd: ROOT, detached: true, stdio: ['ignore', log, log] });
  fs.closeSync(log);
  return proc;
}

async function stop(proc) {
  if (proc.exitCode !== null) return;
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  process.kill(-proc.pid, 'SIGTERM');
  const timer = setTimeout(() => process.kill(-proc.pid, 'SIGKILL'), 20000);
  await exited;
  clearTimeout(timer);
}

const BROKERS = {
  async convoy() {
    const port = await freePort();
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'convoy-exhaustion-'));
    const proc = spawnLogged('convoy', process.execPath, [path.join(ROOT, 'bin', 'convoy'), 'start', '--host', '127.0.0.1', '--port', String(port), '--http-port', '0', '--data-dir', dataDir, '--log-level', 'warn']);
    await waitPort(port, proc, 30000);
    return { port, proc, cleanUp: () => fs.rmSync(dataDir, { recursive: true, force: true }) };
  },
  async artemis() {
    const port = await freePort();
    const setup = spawnSync(path.join(HERE, '..', 'setup-artemis.sh'), ['--port', String(port)], { encoding: 'utf8', timeout: 1_200_000 });
    if (setup.status !== 0) throw new Error(`setup-artemis.sh failed:\n${setup.stderr}`);
    const instance = setup.stdout.trim().split('\n').pop();
    fs.rmSync(path.join(instance, 'data'), { recursive: true, force: true });
    const proc = spawnLogged('artemis', path.join(instance, 'bin', 'artemis'), ['run']);
    await waitPort(port, proc, 120000);
    return { port, proc, cleanUp: () => undefined, version: path.basename(instance).replace('artemis-instance-', '') };
  },
};

const options = args();
const results = [];
const started = new Date().toISOString();
for (const scenario of options.scenarios) {
  for (const name of options.brokers) {
    const broker = await BROKERS[name]();
    await new Promise((resolve) => setTimeout(resolve, 3000)); // settle after start (JIT, JVM warm-up)
    try {
      const result = await runScenario({ host: '127.0.0.1', port: broker.port, pid: broker.proc.pid, scenario, options: SCENARIOS[scenario], settleMs: 3000 });
      results.push({ broker: name, version: broker.version, alive: broker.proc.exitCode === null, loadAverage: os.loadavg()[0], ...result });
      console.error(`${scenario} ${name}: ${JSON.stringify(results.at(-1).attack)} healthy ${JSON.stringify(result.healthy)} rss ${JSON.stringify(result.rss)}`);
    } catch (error) {
      results.push({ broker: name, scenario, error: error.message });
      console.error(`${scenario} ${name}: ${error.message}`);
    } finally {
      await stop(broker.proc);
      broker.cleanUp();
    }
  }
}

fs.mkdirSync(path.dirname(options.out), { recursive: true });
fs.writeFileSync(options.out, JSON.stringify({ started, host: os.hostname(), cpus: os.cpus().length, results }, null, 2));
const row = (r) =>
  r.error
    ? `| ${r.scenario} | ${r.broker} | error: ${r.error} | | | |`
    : `| ${r.scenario} | ${r.broker} | ${r.rss.beforeMiB} → ${r.rss.peakMiB} MiB | ${r.healthy.p50Ms} / ${r.healthy.p99Ms} / ${r.healthy.maxMs} ms | ${r.healthy.problems.length === 0 && !r.healthy.disconnected ? 'yes' : `no: ${r.healthy.disconnected ? 'disconnected' : r.healthy.problems[0]}`} | ${JSON.stringify(r.attack)} |`;
console.log('| scenario | broker | RSS before → peak | healthy round trip p50 / p99 / max | healthy client unharmed | what the attack got |');
console.log('|---|---|---|---|---|---|');
for (const r of results) console.log(row(r));
