#!/usr/bin/env node
// Where Convoy's time goes in one harness scenario, measured in a way a busy machine does not distort
// much: the broker's own CPU time per message (from /proc, user + system) and, with --cpu-prof, the
// share of that time per function and per layer (V8's sampling profiler, samples of the measured runs
// only). Ratios to Artemis need a quiet machine (run.mjs); these numbers do not.
//
//   npm run build
//   node interop/bench/profile.mjs --size 1024                       # s1 1 KiB: CPU µs per message
//   node interop/bench/profile.mjs --size 1024 --cpu-prof --top 30   # and where it goes
//   node interop/bench/profile.mjs --durable --size 1024             # s2
//   node interop/bench/profile.mjs --groups 10000 --consumers 8      # s3 grouped (--groups 0: ungrouped)
//   node interop/bench/profile.mjs --producers 16 --consumers 4      # s4
//
// Options: --count N messages per measured run (200000), --warmup N (50000), --rounds N (3), --size B
// (100), --rate N (messages per second the producers send at; 0: as fast as they can; a fixed rate
// makes the broker's batching, and so its CPU per message, independent of its speed), --durable, --groups N, --producers N, --consumers N, --cpu-prof, --top N (25), --node-flags
// "..." (extra flags for the broker's node), --config JSON (broker configuration), --root DIR (the
// checkout whose dist/ runs), --json FILE (write the result), --broker-log FILE (the broker's stdout, e.g.
// with --node-flags --trace-gc).
import { execFileSync, spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { BENCH_RECV, BENCH_SEND, convoyRoot, load, median, parseArgs } from './store/lib.mjs';

const opts = parseArgs(process.argv.slice(2), {
  count: 200000,
  warmup: 50000,
  rounds: 3,
  size: 100,
  durable: false,
  groups: 0,
  producers: 1,
  consumers: 1,
  cpuProf: false,
  top: 25,
  nodeFlags: '',
  config: '{}',
  root: '',
  json: '',
  brokerLog: '',
  rate: 0,
  callgrind: false,
});
const root = convoyRoot(opts.root);
const CLK_TCK = 100;

function cpuTicks(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime (fields 14 and 15 of stat)
}

function startBroker(profileDir) {
  const dataDir = mkdtempSync(join(tmpdir(), 'convoy-profile-'));
  const configFile = `${dataDir}.config.json`;
  writeFileSync(configFile, opts.config);
  const flags = opts.nodeFlags.split(' ').filter(Boolean);
  if (profileDir) flags.push('--cpu-prof', '--cpu-prof-dir', profileDir);
  let command = process.execPath;
  const args = [...flags, join(root, 'bin/convoy'), 'start', '--host', '127.0.0.1', '--port', '0', '--http-port', '0', '--data-dir', dataDir, '--config', configFile, '--log-level', 'info'];
  if (opts.callgrind) {
    // Instructions are counted only between the zeroing and the dump around the measured runs.
    args.unshift('--tool=callgrind', '--smc-check=all-non-file', `--callgrind-out-file=${join(dataDir + '.callgrind')}`, command);
    command = 'valgrind';
  }
  const proc = spawn(command, args, { cwd: root, stdio: ['ignore', 'pipe', opts.callgrind ? 'ignore' : 'inherit'] });
  const exited = new Promise((resolve) => proc.on('exit', resolve));
  return new Promise((resolve, reject) => {
    let buffer = '';
    let listening = false;
    proc.stdout.on('data', (data) => {
      if (opts.brokerLog) appendFileSync(opts.brokerLog, data);
      if (listening) return;
      buffer += data;
      for (let i; (i = buffer.indexOf('\n')) >= 0; buffer = buffer.slice(i + 1)) {
        const line = buffer.slice(0, i);
        if (!line.includes('"listening"')) continue;
        listening = true;
        const { port } = JSON.parse(line);
        resolve({
          pid: proc.pid,
          port,
          callgrindOut: `${dataDir}.callgrind`,
          async stop() {
            proc.kill('SIGTERM');
            await exited;
            rmSync(dataDir, { recursive: true, force: true });
            rmSync(configFile, { force: true });
          },
        });
      }
    });
    proc.on('exit', (code, signal) => reject(new Error(`broker exited (${code ?? signal}) before listening`)));
  });
}

function client(bin, args) {
  const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = [];
  let buffer = '';
  let onLine = () => {};
  proc.stdout.on('data', (data) => {
    buffer += data;
    for (let i; (i = buffer.indexOf('\n')) >= 0; buffer = buffer.slice(i + 1)) {
      const line = JSON.parse(buffer.slice(0, i));
      lines.push(line);
      onLine(line);
    }
  });
  const done = new Promise((resolve) => proc.on('exit', () => resolve(lines)));
  const ready = new Promise((resolve) => {
    onLine = (line) => line.event === 'ready' && resolve();
  });
  return { done, ready };
}

let queueNumber = 0;
/** One run of the scenario; returns the receiver's end-to-end rate and the broker's CPU per message. */
async function run(broker, count) {
  const url = `amqp://127.0.0.1:${broker.port}`;
  const address = `profile.${process.pid}.${++queueNumber}`;
  const recv = client(BENCH_RECV, ['--url', url, '--address', address, '--count', String(count), '--connections', String(opts.consumers), '--credit', '1000', '--timeout', '300']);
  await recv.ready;
  const ticksBefore = cpuTicks(broker.pid);
  const startNs = process.hrtime.bigint();
  const sendArgs = ['--url', url, '--address', address, '--count', String(count), '--size', String(opts.size), '--connections', String(opts.producers), '--groups', String(opts.groups), '--window', '1000', '--timeout', '300'];
  if (opts.durable) sendArgs.push('--durable');
  if (opts.rate > 0) sendArgs.push('--rate', String(opts.rate));
  const [sent, received] = await Promise.all([client(BENCH_SEND, sendArgs).done, recv.done]);
  const endNs = process.hrtime.bigint();
  const ticks = cpuTicks(broker.pid) - ticksBefore;
  const sender = sent.find((l) => l.role === 'sender');
  const receiver = received.find((l) => l.role === 'receiver');
  if (!sender?.ok || !receiver?.ok) throw new Error(`run failed: ${JSON.stringify({ sender, receiver })}`);
  return {
    msgPerS: receiver.msgs / ((receiver.last_us - sender.start_us) / 1e6),
    cpuUsPerMsg: (ticks / CLK_TCK / receiver.msgs) * 1e6,
    cpuShare: ticks / CLK_TCK / (Number(endNs - startNs) / 1e9),
    window: [Number(startNs / 1000n), Number(endNs / 1000n)],
  };
}

/** Self time per function and per layer, from the samples that fall in the measured runs. */
function summarise(profile, windows) {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map();
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i];
    if (!windows.some(([from, to]) => t >= from && t <= to)) continue;
    const id = profile.samples[i];
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i + 1] ?? 0));
  }
  const perFunction = new Map();
  const perLayer = new Map();
  let busy = 0;
  for (const [id, us] of selfUs) {
    const { functionName, url, lineNumber } = byId.get(id).callFrame;
    if (functionName === '(idle)') continue;
    busy += us;
    const layer = layerOf(functionName, url);
    perLayer.set(layer, (perLayer.get(layer) ?? 0) + us);
    const key = `${functionName || '(anonymous)'} ${url ? `${url.replace(/^.*\/(node_modules|dist)\//, '$1/')}:${lineNumber + 1}` : ''}`.trim();
    perFunction.set(key, (perFunction.get(key) ?? 0) + us);
  }
  const share = (us) => `${((100 * us) / busy).toFixed(1)} %`;
  const sorted = (map) => [...map].sort((a, b) => b[1] - a[1]);
  return {
    busyMs: busy / 1000,
    layers: sorted(perLayer).map(([layer, us]) => [layer, share(us)]),
    functions: sorted(perFunction).slice(0, opts.top).map(([name, us]) => [name, share(us)]),
  };
}

function layerOf(functionName, url) {
  if (functionName === '(garbage collector)') return 'garbage collector';
  if (functionName === '(program)') return 'V8/native (program)';
  if (url.includes('node_modules/rhea')) return 'rhea';
  if (url.includes('node_modules/')) return 'other libraries';
  if (url.includes('/dist/')) return `convoy ${url.split('/dist/')[1].split('/')[0]}`;
  if (url.startsWith('node:')) return 'node core (streams, net, fs)';
  return 'native';
}

const profileDir = opts.cpuProf ? mkdtempSync(join(tmpdir(), 'convoy-cpuprof-')) : null;
console.error(`load average ${load()}; ${JSON.stringify(opts)}`);
const broker = await startBroker(profileDir);
let runs;
let instructionsPerMessage = null;
let callgrindFile = null;
try {
  if (opts.warmup > 0) await run(broker, opts.warmup);
  if (opts.callgrind) execFileSync('callgrind_control', ['--zero', String(broker.pid)]);
  runs = [];
  for (let round = 0; round < opts.rounds; round++) {
    runs.push(await run(broker, opts.count));
    console.error(`run ${round + 1}: ${runs.at(-1).msgPerS.toFixed(0)} msg/s, ${runs.at(-1).cpuUsPerMsg.toFixed(2)} µs CPU per message`);
  }
  if (opts.callgrind) {
    execFileSync('callgrind_control', ['--dump', String(broker.pid)]);
    const dump = readdirSync(tmpdir()).map((name) => join(tmpdir(), name)).find((path) => path.startsWith(`${broker.callgrindOut}.`));
    const instructions = Number(/^summary: (\d+)/m.exec(readFileSync(dump, 'utf8'))[1]);
    instructionsPerMessage = instructions / (opts.count * opts.rounds);
    callgrindFile = dump;
  }
} finally {
  await broker.stop();
}
const result = {
  load: load(),
  options: opts,
  msgPerS: Math.round(median(runs.map((r) => r.msgPerS))),
  cpuUsPerMsg: Number(median(runs.map((r) => r.cpuUsPerMsg)).toFixed(2)),
  brokerCpuShare: Number(median(runs.map((r) => r.cpuShare)).toFixed(2)),
  runs: runs.map(({ window, ...rest }) => rest),
  ...(instructionsPerMessage === null ? {} : { instructionsPerMessage: Math.round(instructionsPerMessage), callgrindFile }),
};
if (profileDir) {
  const file = readdirSync(profileDir).find((name) => name.endsWith('.cpuprofile'));
  result.profile = summarise(JSON.parse(readFileSync(join(profileDir, file), 'utf8')), runs.map((r) => r.window));
  result.profile.file = join(profileDir, file);
}
console.log(`${result.msgPerS} msg/s, ${result.cpuUsPerMsg} µs broker CPU per message, broker busy ${Math.round(100 * result.brokerCpuShare)} % of a core (load ${result.load})`);
if (result.instructionsPerMessage) console.log(`${result.instructionsPerMessage} instructions per message (callgrind: ${result.callgrindFile})`);
if (result.profile) {
  console.log(`profiled busy time ${result.profile.busyMs.toFixed(0)} ms; by layer:`);
  for (const [layer, share] of result.profile.layers) console.log(`  ${share.padStart(7)}  ${layer}`);
  console.log('self time by function:');
  for (const [name, share] of result.profile.functions) console.log(`  ${share.padStart(7)}  ${name}`);
  console.log(`profile: ${result.profile.file}`);
}
if (opts.json) writeFileSync(opts.json, JSON.stringify(result, null, 1));
