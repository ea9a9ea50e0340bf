#!/usr/bin/env node
// Convoy vs ActiveMQ Artemis benchmark harness.
//
//   node interop/bench/run.mjs [--rounds 3] [--quick] [--count 200000] [--brokers convoy,artemis]
//                              [--scenarios s1,s2,s3,s4,s5,s6,s8] [--latency-rate N] [--out FILE]
//
// Builds the Qpid Proton C++ load clients (interop/bench/client), sets up Artemis
// (interop/bench/setup-artemis.sh), starts both brokers on free loopback ports, runs every
// scenario against each broker (s8 with Artemis's own JMS load generator, `artemis perf client`), alternating which broker goes first in each round, and prints
// the medians side by side. Results: interop/bench/results/latest.json. See README.md.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './support.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');
const CACHE = path.join(ROOT, 'interop', '.cache');
const LOG_DIR = path.join(CACHE, 'bench-logs');
const CLK_TCK = 100; // sysconf(_SC_CLK_TCK) on Linux

// ---------------------------------------------------------------- options

function parseArgs(argv) {
  const o = {
    rounds: 3, quick: false, count: 200000, brokers: ['convoy', 'artemis'],
    scenarios: ['s1', 's2', 's3', 's4', 's5', 's6', 's8'], latencyRate: 0,
    out: path.join(HERE, 'results', 'latest.json'),
  };
  const given = new Set();
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i];
    const val = () => { if (i + 1 >= argv.length) usage(`missing value for ${a}`); return argv[++i]; };
    switch (a) {
      case '--rounds': o.rounds = posInt(val(), a); given.add('rounds'); break;
      case '--quick': o.quick = true; break;
      case '--count': o.count = posInt(val(), a); given.add('count'); break;
      case '--brokers': o.brokers = val().split(',').filter(Boolean); break;
      case '--scenarios': o.scenarios = val().split(',').filter(Boolean); break;
      case '--latency-rate': o.latencyRate = posInt(val(), a); break;
      case '--out': o.out = path.resolve(val()); break;
      case '-h': case '--help': usage(); break;
      default: usage(`unknown argument ${a}`);
    }
  }
  for (const b of o.brokers) if (!['convoy', 'artemis'].includes(b)) usage(`unknown broker ${b}`);
  for (const s of o.scenarios) if (!/^s[1-68]$/.test(s)) usage(`unknown scenario ${s} (s1..s6, s8; s7 comes with s1)`);
  if (o.quick) {
    if (!given.has('rounds')) o.rounds = 1;
    if (!given.has('count')) o.count = 20000;
  }
  return o;
}
function posInt(s, name) {
  const n = Number(s);
  if (!Number.isInteger(n) || n <= 0) usage(`${name} must be a positive integer`);
  return n;
}
function usage(err) {
  if (err) console.error(`run.mjs: ${err}`);
  console.error('usage: node interop/bench/run.mjs [--rounds N] [--quick] [--count N] ' +
    '[--brokers convoy,artemis] [--scenarios s1,...,s6,s8] [--latency-rate N] [--out FILE]');
  process.exit(err ? 2 : 0);
}

const opts = parseArgs(process.argv);
const N = opts.count;
// Time bounds: generous per-run ceilings; a run that hits one is recorded as failed.
const RUN_TIMEOUT_S = opts.quick ? 60 : 240;
const LAT_SECONDS = opts.quick ? 3 : 10;
const FAILOVER_RATE = 1000;
// s8: each `artemis perf client` run warms up for JMS_WARMUP_S (not measured: the client's JVM and
// the broker's JMS paths), then measures JMS_MEASURE_S; 1 KiB BytesMessages, at most JMS_MAX_PENDING
// sends awaiting their outcome (the Proton clients' window of 1 000).
const JMS_WARMUP_S = opts.quick ? 3 : 10;
const JMS_MEASURE_S = opts.quick ? 5 : 15;
const JMS_SIZE = 1024;
const JMS_MAX_PENDING = 1000;

// ---------------------------------------------------------------- process bookkeeping

const children = new Set(); // { proc, group }
function track(proc, group) {
  const c = { proc, group };
  children.add(c);
  proc.on('exit', () => children.delete(c));
  return proc;
}
function killChild(c, sig) {
  try {
    if (c.group) process.kill(-c.proc.pid, sig); else c.proc.kill(sig);
  } catch { /* already gone */ }
}
function killAllSync() {
  for (const c of children) killChild(c, 'SIGKILL');
}
process.on('exit', killAllSync);
let stopping = false;
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, async () => {
    if (stopping) return;
    stopping = true;
    console.error(`\nrun.mjs: ${sig}, stopping brokers and clients`);
    await Promise.race([stopAll(), sleep(20000)]);
    killAllSync();
    process.exit(130);
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const nowUs = () => Math.round((performance.timeOrigin + performance.now()) * 1000);


function portOpen(port) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    const done = (ok) => { sock.destroy(); resolve(ok); };
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
    sock.setTimeout(1000, () => done(false));
  });
}

async function waitPort(port, timeoutMs, proc, what) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      throw new Error(`${what} exited (code ${proc.exitCode}, signal ${proc.signalCode}) before listening`);
    }
    if (await portOpen(port)) return;
    await sleep(200);
  }
  throw new Error(`${what} did not listen on ${port} within ${timeoutMs} ms`);
}

function tail(file, lines = 20) {
  try { return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n'); } catch { return ''; }
}

// ---------------------------------------------------------------- clients

let BIN;
function buildClients() {
  const r = spawnSync(path.join(HERE, 'client', 'build.sh'), { encoding: 'utf8', timeout: 300000 });
  if (r.status !== 0) throw new Error(`client build failed:\n${r.stderr}${r.stdout}`);
  const dir = r.stdout.trim().split('\n').pop();
  BIN = { send: path.join(dir, 'bench-send'), recv: path.join(dir, 'bench-recv') };
}

// Runs a client; resolves with { code, signal, lines (parsed JSON), stderr }. `onLine` sees each
// JSON line as it arrives. Killed if it outlives timeoutS.
function runClient(kind, args, { timeoutS = RUN_TIMEOUT_S + 30, onLine } = {}) {
  const proc = track(spawn(BIN[kind], args, { stdio: ['ignore', 'pipe', 'pipe'] }), false);
  const lines = [];
  let buf = '';
  let stderr = '';
  proc.stdout.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i); buf = buf.slice(i + 1);
      if (!line.trim()) continue;
      let j;
      try { j = JSON.parse(line); } catch { j = { raw: line }; }
      lines.push(j);
      onLine?.(j);
    }
  });
  proc.stderr.on('data', (d) => { stderr += d; if (stderr.length > 20000) stderr = stderr.slice(-20000); });
  const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutS * 1000);
  const done = new Promise((resolve) => {
    proc.on('exit', (code, signal) => { clearTimeout(timer); resolve({ code, signal, lines, stderr: stderr.trim() }); });
  });
  return { proc, done, lines };
}

function waitEvent(client, name, timeoutMs) {
  return new Promise((resolve, reject) => {
    const find = () => client.lines.find((l) => l.event === name);
    if (find()) return resolve(find());
    // 'data' listeners run in registration order; ours runs after the line parser in runClient.
    const onData = () => { const l = find(); if (l) { cleanup(); resolve(l); } };
    const onExit = () => { cleanup(); const l = find(); if (l) resolve(l); else reject(new Error(`client exited before "${name}"`)); };
    const t = setTimeout(() => { cleanup(); reject(new Error(`no "${name}" event within ${timeoutMs} ms`)); }, timeoutMs);
    const cleanup = () => { clearTimeout(t); client.proc.stdout.off('data', onData); client.proc.off('exit', onExit); };
    client.proc.stdout.on('data', onData);
    client.proc.once('exit', onExit);
  });
}

function summary(result, role) {
  return result.lines.find((l) => l.role === role);
}

function clientError(result, role) {
  const s = summary(result, role);
  if (s && s.ok) return null;
  return (s && s.error) || result.stderr || `${role} exited code ${result.code} signal ${result.signal}`;
}

// ---------------------------------------------------------------- brokers

class Broker {
  constructor(name) { this.name = name; this.proc = null; this.port = 0; this.log = path.join(LOG_DIR, `${name}.log`); this.starts = 0; }
  get url() { return `amqp://127.0.0.1:${this.port}`; }
  get alive() { return this.proc && this.proc.exitCode === null && this.proc.signalCode === null; }
  get pid() { return this.proc.pid; }
  async stop() {
    if (!this.proc) return;
    const p = this.proc;
    this.proc = null;
    if (p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    try { process.kill(-p.pid, 'SIGCONT'); process.kill(-p.pid, 'SIGTERM'); } catch { /* gone */ }
    const t = await Promise.race([exited.then(() => 'ok'), sleep(15000).then(() => 'timeout')]);
    if (t === 'timeout') { try { process.kill(-p.pid, 'SIGKILL'); } catch { /* gone */ } await exited; }
  }
  /** SIGSTOP / SIGCONT to its whole process group (the JVM's threads, Convoy's node). */
  signal(sig) {
    if (this.alive) { try { process.kill(-this.proc.pid, sig); } catch { /* gone */ } }
  }
  spawnLogged(cmd, args, env) {
    const fd = fs.openSync(this.log, 'a');
    fs.writeSync(fd, `\n==== ${new Date().toISOString()} start: ${cmd} ${args.join(' ')}\n`);
    const proc = spawn(cmd, args, { cwd: ROOT, detached: true, stdio: ['ignore', fd, fd], env: { ...process.env, ...env } });
    fs.closeSync(fd);
    track(proc, true);
    this.proc = proc;
    this.starts++;
    return proc;
  }
}

class Convoy extends Broker {
  constructor() { super('convoy'); }
  async start() {
    this.port = await freePort();
    this.dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'convoy-bench-'));
    const proc = this.spawnLogged(process.execPath,
      [path.join(ROOT, 'bin', 'convoy'), 'start', '--host', '127.0.0.1', '--port', String(this.port), '--http-port', '0',
        '--data-dir', this.dataDir, '--log-level', 'warn'], {});
    await waitPort(this.port, 30000, proc, 'convoy');
  }
  async stop() {
    await super.stop();
    if (this.dataDir) { fs.rmSync(this.dataDir, { recursive: true, force: true }); this.dataDir = null; }
  }
  queue(q) { return q; }
  exclusiveSource(q) { return `${q}?consumer.exclusive=true`; }
  exclusiveTarget(q) { return q; }
}

class Artemis extends Broker {
  constructor() { super('artemis'); }
  async start() {
    this.port = await freePort();
    const r = spawnSync(path.join(HERE, 'setup-artemis.sh'), ['--port', String(this.port)], { encoding: 'utf8', timeout: 1200000 });
    if (r.status !== 0) throw new Error(`setup-artemis.sh failed:\n${r.stderr}`);
    this.instance = r.stdout.trim().split('\n').pop();
    this.version = path.basename(this.instance).replace('artemis-instance-', '');
    if (this.starts === 0) {
      // Fresh journal for every harness run.
      fs.rmSync(path.join(this.instance, 'data'), { recursive: true, force: true });
    }
    const proc = this.spawnLogged(path.join(this.instance, 'bin', 'artemis'), ['run'], {});
    await waitPort(this.port, 90000, proc, 'artemis');
  }
  queue(q) { return q; }
  // Artemis has no AMQP address option for exclusive consumers; queues under bench.excl.# are
  // exclusive through the address setting default-exclusive-queue (setup-artemis.sh).
  exclusiveSource(q) { return q; }
  exclusiveTarget(q) { return q; }
}

const brokers = { convoy: new Convoy(), artemis: new Artemis() };
async function stopAll() { await Promise.all(Object.values(brokers).map((b) => b.stop().catch(() => {}))); }

// ---------------------------------------------------------------- /proc sampling (scenario 7)

function readProc(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(f[11]) + Number(f[12]); // utime + stime (fields 14, 15)
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    return { ticks, rssKb, t: performance.now() };
  } catch { return null; }
}

// A process that has exited by stop() (a client) counts up to its last sample.
function startSampler(pid) {
  const first = readProc(pid);
  let peakRssKb = first?.rssKb ?? 0;
  let latest = first;
  const timer = setInterval(() => { const s = readProc(pid); if (s) { latest = s; peakRssKb = Math.max(peakRssKb, s.rssKb); } }, 100);
  return {
    stop() {
      clearInterval(timer);
      const last = readProc(pid) ?? latest;
      if (!first || !last) return null;
      peakRssKb = Math.max(peakRssKb, last.rssKb);
      const cpuS = (last.ticks - first.ticks) / CLK_TCK;
      const wallS = (last.t - first.t) / 1000;
      return { cpu_s: cpuS, wall_s: wallS, peak_rss_mib: peakRssKb / 1024, rss_start_mib: first.rssKb / 1024 };
    },
  };
}

// ---------------------------------------------------------------- scenarios

let seq = 0;
const uniq = (s) => `bench.${s}.${process.pid}.${++seq}`;

// Receivers attach first (empty queue), then the producers start; throughput is total messages
// over [first send, last receive]: end-to-end, producer and consumer running concurrently.
async function throughput(broker, { size, durable = false, groups = 0, producers = 1, consumers = 1, count = N, sample = false }) {
  const q = broker.queue(uniq(groups ? 'grp' : 'tp'));
  const recv = runClient('recv', ['--url', broker.url, '--address', q, '--count', String(count),
    '--connections', String(consumers), '--credit', '1000', '--timeout', String(RUN_TIMEOUT_S)]);
  await waitEvent(recv, 'ready', 20000);
  const sampler = sample ? startSampler(broker.pid) : null;
  const sendArgs = ['--url', broker.url, '--address', q, '--count', String(count), '--size', String(size),
    '--connections', String(producers), '--groups', String(groups), '--window', '1000', '--timeout', String(RUN_TIMEOUT_S)];
  if (durable) sendArgs.push('--durable');
  const send = runClient('send', sendArgs);
  const [s, r] = await Promise.all([send.done, recv.done]);
  const proc = sampler?.stop();
  const err = clientError(s, 'sender') || clientError(r, 'receiver');
  const ss = summary(s, 'sender');
  const rs = summary(r, 'receiver');
  if (err || !ss || !rs) {
    if (send.proc.exitCode === null) send.proc.kill('SIGKILL');
    if (recv.proc.exitCode === null) recv.proc.kill('SIGKILL');
    return { error: String(err).slice(0, 2000), sender: ss, receiver: rs };
  }
  const seconds = (rs.last_us - ss.start_us) / 1e6;
  const rate = rs.msgs / seconds;
  const out = { msg_per_s: rate, seconds, received: rs.msgs, per_consumer: rs.per_conn, sender_msg_per_s: ss.msg_per_s };
  if (proc) {
    // CPU-seconds per message, expressed as % of one core per 10k msg/s.
    out.proc = { ...proc, cpu_pct: (100 * proc.cpu_s) / proc.wall_s, cpu_pct_per_10k: (100 * proc.cpu_s * 10000) / rs.msgs };
  }
  return out;
}

async function latency(broker, rate) {
  const count = Math.max(1000, Math.round(rate * LAT_SECONDS));
  const q = broker.queue(uniq('lat'));
  const recv = runClient('recv', ['--url', broker.url, '--address', q, '--count', String(count), '--credit', '1000',
    '--timeout', String(LAT_SECONDS * 4 + 30)]);
  await waitEvent(recv, 'ready', 20000);
  const send = runClient('send', ['--url', broker.url, '--address', q, '--count', String(count), '--size', '100',
    '--rate', String(rate), '--window', '1000', '--timeout', String(LAT_SECONDS * 4 + 30)]);
  const [s, r] = await Promise.all([send.done, recv.done]);
  const err = clientError(s, 'sender') || clientError(r, 'receiver');
  const rs = summary(r, 'receiver');
  const ss = summary(s, 'sender');
  if (err || !rs?.latency_ms) return { error: String(err || 'no latency data').slice(0, 2000) };
  // Below 95 % of the target rate the broker could not keep up: the latency then includes queueing.
  const saturated = !(ss?.msg_per_s >= 0.95 * rate);
  return { rate, achieved_send_rate: ss?.msg_per_s, saturated, ...rs.latency_ms };
}

// Two receivers on an exclusive queue; a producer at FAILOVER_RATE msgs/s. SIGKILL the active
// receiver; failover = standby's first message - kill time. Also checks the standby received
// nothing while the active one lived.
async function failover(broker) {
  const q = uniq('excl'); // bench.excl.<pid>.<n>: exclusive on Artemis through its address setting
  const src = broker.exclusiveSource(q);
  const tmo = String(60);
  const a = runClient('recv', ['--url', broker.url, '--address', src, '--credit', '100', '--timeout', tmo]);
  await waitEvent(a, 'ready', 20000);
  const b = runClient('recv', ['--url', broker.url, '--address', src, '--credit', '100', '--timeout', tmo]);
  await waitEvent(b, 'ready', 20000);
  const send = runClient('send', ['--url', broker.url, '--address', broker.exclusiveTarget(q), '--count', '1000000',
    '--size', '100', '--rate', String(FAILOVER_RATE), '--timeout', tmo]);
  const cleanup = async () => {
    for (const c of [send, a, b]) if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
    await Promise.all([send.done, a.done, b.done]);
  };
  try {
    const firstOf = (c) => waitEvent(c, 'first', 15000).then((e) => ({ c, e }));
    const winner = await Promise.any([firstOf(a), firstOf(b)]).catch(() => { throw new Error('no receiver got a message within 15 s'); });
    const active = winner.c;
    const standby = active === a ? b : a;
    await sleep(1000);
    const standbyEarly = standby.lines.some((l) => l.event === 'first');
    const killUs = nowUs();
    active.proc.kill('SIGKILL');
    if (standbyEarly) {
      return { error: 'standby consumer received messages while the exclusive consumer was active', standby_got_messages_before_kill: true };
    }
    const ev = await waitEvent(standby, 'first', 20000).catch(() => null);
    if (!ev) return { error: 'standby got no message within 20 s of the kill' };
    return { failover_ms: (ev.t_us - killUs) / 1000 };
  } finally {
    await cleanup();
  }
}

// ---------------------------------------------------------------- scenario 8: a JMS workload

let ARTEMIS_CLI; // <Artemis distribution>/bin/artemis: the load generator, run as a client only
function setupArtemisCli() {
  const r = spawnSync(path.join(HERE, 'setup-artemis.sh'), ['--home-only'], { encoding: 'utf8', timeout: 1200000 });
  if (r.status !== 0) throw new Error(`setup-artemis.sh --home-only failed:\n${r.stderr}`);
  ARTEMIS_CLI = path.join(r.stdout.trim().split('\n').pop(), 'bin', 'artemis');
}

// Rates from the JSON report of `artemis perf client`: one interval sample a second, each with
// per-second rates of sent / received messages and the time it was taken (ms). After the measured
// seconds the producer stops and the client waits for the backlog ("sent" 0): those samples, and
// the warm-up ones, are left out. Each sample's rate counts for the time since the previous sample.
function jmsRates(samples) {
  const intervals = samples.filter((x) => x.sampleType === 'interval');
  let lastSending = -1;
  intervals.forEach((x, i) => { if (x.sent > 0) lastSending = i; });
  let received = 0;
  let sent = 0;
  let ms = 0;
  for (let i = 1; i <= lastSending; i++) {
    if (intervals[i].warmup) continue;
    const dt = intervals[i].time - intervals[i - 1].time;
    received += (intervals[i].received * dt) / 1000;
    sent += (intervals[i].sent * dt) / 1000;
    ms += dt;
  }
  if (ms === 0) return null;
  return { msg_per_s: received / (ms / 1000), sender_msg_per_s: sent / (ms / 1000), measured_s: ms / 1000 };
}

// `artemis perf client --protocol AMQP`: Qpid JMS, one producer connection and one consumer
// connection (auto-acknowledge) on a fresh queue, BytesMessages of JMS_SIZE, persistent or not.
// Throughput = messages received per second while the producer is sending, warm-up excluded.
// The run fails unless the client reports success and received every message it sent.
async function jmsPerf(broker, { persistent }) {
  const q = uniq(persistent ? 'jms.persistent' : 'jms');
  const report = path.join(os.tmpdir(), `convoy-bench-${q}.json`);
  const args = ['perf', 'client', '--protocol', 'AMQP', '--url', broker.url,
    '--warmup', String(JMS_WARMUP_S), '--duration', String(JMS_WARMUP_S + JMS_MEASURE_S),
    '--message-size', String(JMS_SIZE), '--max-pending', String(JMS_MAX_PENDING), '--json', report];
  if (persistent) args.push('--persistent');
  args.push(`queue://${q}`);
  const proc = track(spawn(ARTEMIS_CLI, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] }), true);
  let output = '';
  const keep = (d) => { output += d; if (output.length > 20000) output = output.slice(-20000); };
  proc.stdout.on('data', keep);
  proc.stderr.on('data', keep);
  const brokerCpu = startSampler(broker.pid);
  const clientCpu = startSampler(proc.pid);
  const timeoutS = JMS_WARMUP_S + JMS_MEASURE_S + 120;
  const timer = setTimeout(() => { try { process.kill(-proc.pid, 'SIGKILL'); } catch { /* gone */ } }, timeoutS * 1000);
  const { code, signal } = await new Promise((resolve) => proc.on('exit', (c, sg) => resolve({ code: c, signal: sg })));
  clearTimeout(timer);
  const b = brokerCpu.stop();
  const c = clientCpu.stop();
  let samples = [];
  try { samples = JSON.parse(fs.readFileSync(report, 'utf8')); } catch { /* no or partial report: error below */ }
  fs.rmSync(report, { force: true });
  const summaryOf = samples.find((x) => x.sampleType === 'summary');
  const rates = jmsRates(samples);
  const outputTail = output.trim().split('\n').slice(-15).join('\n');
  if (code !== 0 || !summaryOf || summaryOf.result !== 'success' || !rates) {
    const why = signal ? `killed (${signal}) after ${timeoutS} s` : `exit code ${code}, result ${summaryOf?.result ?? 'none'}`;
    return { error: `artemis perf client ${why}\n${outputTail}`.slice(0, 2000) };
  }
  if (summaryOf.totalReceived !== summaryOf.totalSent) {
    return { error: `artemis perf client sent ${summaryOf.totalSent} messages, received ${summaryOf.totalReceived}` };
  }
  return {
    ...rates, total_sent: summaryOf.totalSent, total_received: summaryOf.totalReceived,
    broker_cpu_pct: b ? (100 * b.cpu_s) / b.wall_s : null, client_cpu_pct: c ? (100 * c.cpu_s) / c.wall_s : null,
  };
}

// Median of 3 runs of at least 200 000 messages: sender -> `bench-recv --listen`, no broker.
async function clientCeiling(size) {
  const count = Math.max(N, 200000);
  const runs = [];
  let error = null;
  for (let i = 0; i < 3; i++) {
    const port = await freePort();
    const recv = runClient('recv', ['--listen', `127.0.0.1:${port}`, '--count', String(count), '--credit', '1000', '--timeout', '120']);
    await waitEvent(recv, 'listening', 10000);
    const send = runClient('send', ['--url', `amqp://127.0.0.1:${port}`, '--address', 'null', '--count', String(count),
      '--size', String(size), '--window', '1000', '--timeout', '120']);
    const [s, r] = await Promise.all([send.done, recv.done]);
    const ss = summary(s, 'sender');
    const rs = summary(r, 'receiver');
    if (!ss?.ok || !rs?.ok) { error = clientError(s, 'sender') || clientError(r, 'receiver'); continue; }
    runs.push(rs.msgs / ((rs.last_us - ss.start_us) / 1e6));
  }
  return { msg_per_s: median(runs), runs, ...(error ? { error } : {}) };
}

// ---------------------------------------------------------------- metrics table

// name -> { unit, better: 'higher'|'lower', scenario }
const METRICS = {};
function metric(name, unit, better, scenario) { METRICS[name] = { unit, better, scenario }; }
metric('s1_100B_msg_per_s', 'msg/s', 'higher', '1p-1q-1c, 100 B, at-least-once, non-durable');
metric('s1_1KiB_msg_per_s', 'msg/s', 'higher', '1p-1q-1c, 1 KiB, at-least-once, non-durable');
metric('s2_durable_100B_msg_per_s', 'msg/s', 'higher', '1p-1q-1c, 100 B, durable');
metric('s2_durable_1KiB_msg_per_s', 'msg/s', 'higher', '1p-1q-1c, 1 KiB, durable');
metric('s3_groups10k_8c_msg_per_s', 'msg/s', 'higher', '1p, 10 000 groups over 8 consumers, 100 B');
metric('s3_ungrouped_8c_msg_per_s', 'msg/s', 'higher', '1p, ungrouped, 8 consumers, 100 B');
metric('s4_16p_4c_msg_per_s', 'msg/s', 'higher', '16 producers, 4 consumers, 100 B');
metric('s5_latency_p50_ms', 'ms', 'lower', 'latency at fixed rate (half Artemis s1 peak)');
metric('s5_latency_p99_ms', 'ms', 'lower', '');
metric('s5_latency_p999_ms', 'ms', 'lower', '');
metric('s6_failover_ms', 'ms', 'lower', 'exclusive consumer: SIGKILL active -> standby first msg');
metric('s7_cpu_pct_per_10k_msg_s', '% core', 'lower', 'broker CPU per 10k msg/s during s1 100 B');
metric('s7_peak_rss_mib', 'MiB', 'lower', 'broker peak RSS during s1 100 B');
metric('s8_jms_nonpersistent_msg_per_s', 'msg/s', 'higher', 'artemis perf client (Qpid JMS), 1p-1q-1c, 1 KiB, non-persistent');
metric('s8_jms_persistent_msg_per_s', 'msg/s', 'higher', 'artemis perf client (Qpid JMS), 1p-1q-1c, 1 KiB, persistent');

const results = {}; // metric -> broker -> [values]
const errors = [];  // { broker, metric/scenario, round, error, broker_log_tail }
const details = []; // raw per-run records
function record(brokerName, name, value) {
  ((results[name] ??= {})[brokerName] ??= []).push(value);
}

const median = (xs) => {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((p, q) => p - q);
  if (!v.length) return null;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
};

function fmt(x, unit) {
  if (x === null || x === undefined) return '—';
  if (unit === 'msg/s') return Math.round(x).toLocaleString('en-US');
  return x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
}

function table() {
  const rows = [['metric', 'unit', 'better', 'Convoy', 'Artemis', 'Convoy/Artemis', 'runs C/A']];
  for (const [name, m] of Object.entries(METRICS)) {
    if (!results[name]) continue;
    const c = median(results[name].convoy ?? []);
    const a = median(results[name].artemis ?? []);
    const ratio = c !== null && a !== null && a !== 0 ? (c / a).toFixed(2) : '—';
    const runs = `${(results[name].convoy ?? []).filter((x) => x !== null).length}/${(results[name].artemis ?? []).filter((x) => x !== null).length}`;
    rows.push([name, m.unit, m.better, fmt(c, m.unit), fmt(a, m.unit), ratio, runs]);
  }
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  return rows.map((r, ri) => {
    const line = r.map((cell, i) => (i >= 3 ? String(cell).padStart(w[i]) : String(cell).padEnd(w[i]))).join('  ');
    return ri === 0 ? `${line}\n${w.map((n) => '-'.repeat(n)).join('  ')}` : line;
  }).join('\n');
}

// ---------------------------------------------------------------- main

async function ensureUp(broker) {
  if (broker.alive) return;
  if (broker.proc !== null || broker.starts > 0) {
    errors.push({ broker: broker.name, error: `broker process not running (restart #${broker.starts})`, broker_log_tail: tail(broker.log) });
  }
  await broker.stop();
  log(`starting ${broker.name}...`);
  await broker.start();
  log(`${broker.name} listening on ${broker.port} (pid ${broker.pid})`);
}

function log(msg) { console.error(`[${new Date().toISOString().slice(11, 19)}] ${msg}`); }

async function runOne(broker, round, label, fn, onResult) {
  await ensureUp(broker);
  // The other broker is stopped (SIGSTOP) while this one is measured: on two cores, what it does
  // between its own runs (the JVM's collector and compiler, its journal) took CPU from the broker under
  // test, and more so the longer the harness ran.
  const others = opts.brokers.map((name) => brokers[name]).filter((other) => other !== broker);
  for (const other of others) other.signal('SIGSTOP');
  const t0 = Date.now();
  let res;
  try {
    res = await fn();
  } catch (e) {
    res = { error: String(e?.message ?? e) };
  } finally {
    for (const other of others) other.signal('SIGCONT');
  }
  const died = !broker.alive;
  if (died) res.error = `${res.error ? `${res.error}; ` : ''}broker process exited (code ${broker.proc?.exitCode}, signal ${broker.proc?.signalCode})`;
  details.push({ broker: broker.name, round, scenario: label, ms: Date.now() - t0, ...res });
  if (res.error) {
    errors.push({ broker: broker.name, round, scenario: label, error: res.error, broker_log_tail: tail(broker.log, 30) });
    log(`${broker.name} ${label} round ${round}: ERROR ${res.error.split('\n')[0]}`);
  } else {
    log(`${broker.name} ${label} round ${round}: ${JSON.stringify(res, (k, v) => (typeof v === 'number' ? Number(v.toFixed(3)) : v)).slice(0, 300)}`);
  }
  onResult(res);
}

async function main() {
  fs.mkdirSync(LOG_DIR, { recursive: true });
  for (const b of opts.brokers) fs.writeFileSync(brokers[b].log, '');
  const started = new Date();
  const loadStart = os.loadavg();
  log(`options: ${JSON.stringify(opts)}`);
  buildClients();
  if (opts.scenarios.includes('s8')) setupArtemisCli();

  const ceiling = { '100B': await clientCeiling(100), '1KiB': await clientCeiling(1024) };
  log(`client_ceiling (proton C++ sender -> proton C++ listener, no broker): ${JSON.stringify(ceiling)}`);

  for (const b of opts.brokers) await ensureUp(brokers[b]);
  // Untimed warm-up per broker (JIT for both the JVM and V8), not recorded. The JVM keeps getting
  // faster for a while, hence two full-size passes.
  const warmCount = Math.min(200000, Math.max(N, 50000));
  for (const b of opts.brokers) {
    for (let i = 0; i < 2; i++) {
      await runOne(brokers[b], 0, 'warm-up', () => throughput(brokers[b], { size: 100, count: warmCount }), () => {});
    }
    await runOne(brokers[b], 0, 'warm-up', () => throughput(brokers[b], { size: 100, count: Math.min(N, 50000), groups: 1000, consumers: 4 }), () => {});
  }
  let latencyRate = opts.latencyRate || 0;
  const saturatedS5 = new Set();
  const want = (s) => opts.scenarios.includes(s);
  const val = (res, key) => (res.error ? null : res[key]);

  for (let round = 1; round <= opts.rounds; round++) {
    // Alternate which broker goes first in each round (and within each scenario).
    const order = round % 2 ? [...opts.brokers] : [...opts.brokers].reverse();
    const each = async (label, fn, onResult) => {
      for (const name of order) await runOne(brokers[name], round, label, () => fn(brokers[name]), (r) => onResult(name, r));
    };
    if (want('s1')) {
      await each('s1 100B', (b) => throughput(b, { size: 100, sample: true }), (n, r) => {
        record(n, 's1_100B_msg_per_s', val(r, 'msg_per_s'));
        record(n, 's7_cpu_pct_per_10k_msg_s', r.proc ? r.proc.cpu_pct_per_10k : null);
        record(n, 's7_peak_rss_mib', r.proc ? r.proc.peak_rss_mib : null);
      });
      await each('s1 1KiB', (b) => throughput(b, { size: 1024 }), (n, r) => record(n, 's1_1KiB_msg_per_s', val(r, 'msg_per_s')));
    }
    if (want('s2')) {
      await each('s2 durable 100B', (b) => throughput(b, { size: 100, durable: true }), (n, r) => record(n, 's2_durable_100B_msg_per_s', val(r, 'msg_per_s')));
      await each('s2 durable 1KiB', (b) => throughput(b, { size: 1024, durable: true }), (n, r) => record(n, 's2_durable_1KiB_msg_per_s', val(r, 'msg_per_s')));
    }
    if (want('s3')) {
      await each('s3 groups 10k/8c', (b) => throughput(b, { size: 100, groups: 10000, consumers: 8 }), (n, r) => record(n, 's3_groups10k_8c_msg_per_s', val(r, 'msg_per_s')));
      await each('s3 ungrouped 8c', (b) => throughput(b, { size: 100, consumers: 8 }), (n, r) => record(n, 's3_ungrouped_8c_msg_per_s', val(r, 'msg_per_s')));
    }
    if (want('s4')) {
      await each('s4 16p/4c', (b) => throughput(b, { size: 100, producers: 16, consumers: 4 }), (n, r) => record(n, 's4_16p_4c_msg_per_s', val(r, 'msg_per_s')));
    }
    if (want('s6')) {
      await each('s6 exclusive failover', (b) => failover(b), (n, r) => record(n, 's6_failover_ms', val(r, 'failover_ms')));
    }
    if (want('s8')) {
      await each('s8 jms non-persistent', (b) => jmsPerf(b, { persistent: false }), (n, r) => record(n, 's8_jms_nonpersistent_msg_per_s', val(r, 'msg_per_s')));
      await each('s8 jms persistent', (b) => jmsPerf(b, { persistent: true }), (n, r) => record(n, 's8_jms_persistent_msg_per_s', val(r, 'msg_per_s')));
    }
  }

  // s5 runs after every round of s1, so that its fixed rate is half the median Artemis s1 peak.
  for (let round = 1; round <= opts.rounds && want('s5'); round++) {
    const order = round % 2 ? [...opts.brokers] : [...opts.brokers].reverse();
    const each = async (label, fn, onResult) => {
      for (const name of order) await runOne(brokers[name], round, label, () => fn(brokers[name]), (r) => onResult(name, r));
    };
    if (want('s5')) {
      if (!latencyRate) {
        const peak = median(results.s1_100B_msg_per_s?.artemis ?? []);
        latencyRate = peak ? Math.max(100, Math.round(peak / 2)) : 10000;
        log(`s5 fixed rate: ${latencyRate} msg/s (${peak ? 'half of Artemis s1 100B median' : 'default: no Artemis s1 result'})`);
      }
      await each('s5 latency', (b) => latency(b, latencyRate), (n, r) => {
        record(n, 's5_latency_p50_ms', val(r, 'p50'));
        record(n, 's5_latency_p99_ms', val(r, 'p99'));
        record(n, 's5_latency_p999_ms', val(r, 'p999'));
        if (r.saturated) saturatedS5.add(n);
      });
    }
  }

  const out = {
    started: started.toISOString(),
    finished: new Date().toISOString(),
    host: { cpus: os.cpus().length, model: os.cpus()[0]?.model, mem_gib: +(os.totalmem() / 2 ** 30).toFixed(1), node: process.version,
      loadavg_start: loadStart, loadavg_end: os.loadavg() },
    options: { ...opts, out: undefined },
    artemis_version: brokers.artemis.version ?? null,
    client_ceiling: ceiling,
    s5_fixed_rate_msg_per_s: latencyRate || null,
    s5_saturated: [...saturatedS5],
    medians: Object.fromEntries(Object.entries(results).map(([k, v]) => {
      const c = median(v.convoy ?? []);
      const a = median(v.artemis ?? []);
      return [k, { ...METRICS[k], convoy: c, artemis: a, ratio_convoy_over_artemis: c !== null && a ? c / a : null }];
    })),
    runs: results,
    errors,
    details,
  };
  fs.mkdirSync(path.dirname(opts.out), { recursive: true });
  fs.writeFileSync(opts.out, `${JSON.stringify(out, null, 2)}\n`);

  console.log(`\nConvoy vs Artemis ${out.artemis_version ?? ''} — medians over ${opts.rounds} round(s), N=${N}` +
    `${latencyRate ? `, s5 rate ${latencyRate} msg/s` : ''}`);
  console.log(`load average at start ${loadStart.map((x) => x.toFixed(2)).join(' ')}, at end ${os.loadavg().map((x) => x.toFixed(2)).join(' ')} (other work on the machine adds noise)`);
  console.log(`client_ceiling (no broker): 100 B ${fmt(ceiling['100B'].msg_per_s, 'msg/s')} msg/s, 1 KiB ${fmt(ceiling['1KiB'].msg_per_s, 'msg/s')} msg/s`);
  console.log(table());
  for (const n of saturatedS5) {
    console.log(`note: ${n} could not sustain the s5 rate of ${latencyRate} msg/s (achieved < 95 %); its s5 latency includes queueing`);
  }
  if (errors.length) {
    console.log(`\n${errors.length} error(s):`);
    for (const e of errors) console.log(`  [${e.broker}${e.round ? ` r${e.round}` : ''} ${e.scenario ?? ''}] ${e.error.split('\n')[0]}`);
  }
  console.log(`\nwrote ${path.relative(process.cwd(), opts.out)}`);
}

main()
  .catch((e) => { console.error(`run.mjs: ${e?.stack ?? e}`); process.exitCode = 1; })
  .finally(async () => { await stopAll(); killAllSync(); });
