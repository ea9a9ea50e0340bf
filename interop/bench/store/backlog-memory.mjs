#!/usr/bin/env node
// Memory of a broker holding a backlog larger than maxMemoryBytes (issue 4's proof).
//
//   node interop/bench/store/backlog-memory.mjs [--max-memory-mib 32] [--sizes 40000,160000,320000,640000]
//        [--repeat-160k 3] [--modes durable,nondurable] [--root DIR] [--out FILE] [--skip-broker] [--skip-inprocess]
//
// Part A (real broker): for each mode and backlog size, a fresh broker (maxMemoryBytes 32 MiB) gets the
// backlog from bench-send with no consumer; VmRSS is sampled every 250 ms while it arrives and for 5 s
// after. The slope of RSS over backlog size (sizes well past the budget) is the memory each queued
// message costs beyond its paged-out body.
// Part B (in process, exact): the broker's own BrokerRuntime + JournalStore from dist/, run under
// --expose-gc; heapUsed after a full GC at two backlog sizes past the budget gives the bytes of
// metadata per queued message (core QueuedMessage, store index entry, paged-body reference, maps).
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { benchSend, convoyRoot, duBytes, fmtMiB, load, median, MiB, parseArgs, procStatus, sampleRss, sleep, startBroker, tmpDir } from './lib.mjs';

const opt = parseArgs(process.argv.slice(2), {
  maxMemoryMib: 32,
  sizes: '40000,160000,320000,640000',
  repeat160k: 3,
  modes: 'durable,nondurable',
  root: '',
  out: '',
  skipBroker: false,
  skipInprocess: false,
  inprocessChild: '',
});
const root = convoyRoot(opt.root);
const log = (...a) => console.error(`[backlog ${new Date().toISOString().slice(11, 19)}]`, ...a);

if (opt.inprocessChild) {
  await inProcessChild(Number(opt.inprocessChild));
  process.exit(0);
}

const result = { startedAt: new Date().toISOString(), root, maxMemoryBytes: opt.maxMemoryMib * MiB, loadavg: [load()], broker: [], inProcess: null };

async function brokerRun(durable, count) {
  const base = tmpDir('convoy-backlog-');
  const dataDir = join(base, 'data');
  const b = await startBroker({ root, dataDir, config: { maxMemoryBytes: opt.maxMemoryMib * MiB }, logFile: join(base, 'broker.log') });
  await sleep(1500);
  const baseline = procStatus(b.pid);
  const sampler = sampleRss(b.pid, 250);
  const t0 = performance.now();
  const s = await benchSend({ port: b.port, address: 'backlog', count, size: 1024, durable, connections: 1, window: 1000 });
  const sendS = (performance.now() - t0) / 1000;
  const atEnd = procStatus(b.pid);
  await sleep(5000);
  const samples = sampler.stop();
  const after = procStatus(b.pid);
  const du = duBytes(dataDir);
  await b.stop('SIGTERM');
  const r = {
    mode: durable ? 'durable' : 'nondurable',
    count,
    accepted: s.accepted,
    msgPerS: Math.round(s.accepted / sendS),
    baselineRssMiB: +fmtMiB(baseline.rss),
    rssAtEndMiB: +fmtMiB(atEnd.rss),
    rssAfter5sMiB: +fmtMiB(after.rss),
    peakSampledRssMiB: +fmtMiB(Math.max(...samples.map((x) => x.rss))),
    hwmMiB: +fmtMiB(after.hwm),
    backlogBodyMiB: +fmtMiB(count * 1024),
    duMiB: +fmtMiB(du),
    // Everything above the idle broker that is not the 32 MiB of bodies kept in memory, per message.
    bytesPerMsgAboveBudget: Math.round((after.rss - baseline.rss - Math.min(count * 1024, opt.maxMemoryMib * MiB)) / count),
    rssTimeline: samples.filter((_, i) => i % 4 === 0).map((x) => [x.tMs, +fmtMiB(x.rss)]),
    load: load(),
  };
  log(JSON.stringify({ ...r, rssTimeline: r.rssTimeline.length }));
  return r;
}

if (!opt.skipBroker) {
  const sizes = opt.sizes.split(',').map(Number);
  for (const mode of opt.modes.split(',')) {
    const durable = mode === 'durable';
    for (const count of sizes) {
      const reps = count === 160000 ? opt.repeat160k : 1;
      for (let i = 0; i < reps; i++) result.broker.push(await brokerRun(durable, count));
    }
  }
}

if (!opt.skipInprocess) {
  const child = spawnSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), '--inprocess-child', '1', '--root', root, '--max-memory-mib', String(opt.maxMemoryMib)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  result.inProcess = JSON.parse(child.stdout.trim().split('\n').pop());
  log('in-process', JSON.stringify(result.inProcess));
}

result.loadavg.push(load());
const out = opt.out || join(tmpDir('convoy-backlog-result-'), 'backlog.json');
writeFileSync(out, JSON.stringify(result, null, 2));
log(`wrote ${out}`);

// Summary.
console.log('| mode | backlog msgs | body MiB | RSS idle MiB | RSS end MiB | RSS +5 s MiB | peak sampled MiB | VmHWM MiB | du MiB | (RSS+5s − idle − 32 MiB)/msg B |');
console.log('|---|---|---|---|---|---|---|---|---|---|');
const groups = new Map();
for (const r of result.broker) {
  const k = `${r.mode}:${r.count}`;
  if (!groups.has(k)) groups.set(k, []);
  groups.get(k).push(r);
}
for (const [, rs] of groups) {
  const m = (f) => median(rs.map((x) => x[f]));
  console.log(`| ${rs[0].mode}${rs.length > 1 ? ` (median of ${rs.length})` : ''} | ${rs[0].count} | ${rs[0].backlogBodyMiB} | ${m('baselineRssMiB')} | ${m('rssAtEndMiB')} | ${m('rssAfter5sMiB')} | ${m('peakSampledRssMiB')} | ${m('hwmMiB')} | ${m('duMiB')} | ${m('bytesPerMsgAboveBudget')} |`);
}
for (const mode of ['durable', 'nondurable']) {
  const pts = result.broker.filter((r) => r.mode === mode && r.count >= 160000);
  if (pts.length < 2) continue;
  const xs = pts.map((p) => p.count);
  const ys = pts.map((p) => p.rssAfter5sMiB * MiB);
  const mx = xs.reduce((a, b) => a + b) / xs.length;
  const my = ys.reduce((a, b) => a + b) / ys.length;
  const slope = xs.reduce((a, x, i) => a + (x - mx) * (ys[i] - my), 0) / xs.reduce((a, x) => a + (x - mx) ** 2, 0);
  console.log(`${mode}: RSS slope over backlog ≥ 160k = ${Math.round(slope)} B per queued message`);
}
if (result.inProcess) console.log('in-process:', JSON.stringify(result.inProcess));

/** Part B: the broker runtime and journal in this process, heap measured after full GCs. */
async function inProcessChild() {
  const { createRequire } = await import('node:module');
  const req = createRequire(join(root, 'package.json'));
  const { BrokerRuntime } = req(join(root, 'dist/broker/runtime.js'));
  const { JournalStore } = req(join(root, 'dist/store/journal-store.js'));
  const { queueOptionsResolver } = req(join(root, 'dist/config/queue-policies.js'));
  const silent = { debug() {}, info() {}, warn() {}, error() {}, fatal() {}, trace() {}, child() { return silent; } };
  const out = {};
  for (const durable of [true, false]) {
    const dir = join(tmpDir('convoy-backlog-inproc-'), 'journal');
    const store = new JournalStore({ dir, fsync: { mode: 'none' }, segmentBytes: 64 * MiB, logger: silent });
    const runtime = new BrokerRuntime(queueOptionsResolver({}, {}), store, { maxMemoryBytes: opt.maxMemoryMib * MiB, memoryPagingRatio: 0.5, maxDiskBytes: 1e12 }, silent);
    runtime.recover();
    const meta = { groupId: null, closesGroup: false, expiresAtMs: null, deliveryCount: 0, durable };
    const heap = () => {
      global.gc();
      global.gc();
      const m = process.memoryUsage();
      return { heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers, rss: m.rss };
    };
    let n = 0;
    const fillTo = async (target) => {
      while (n < target) {
        for (let i = 0; i < 1000 && n < target; i++, n++) runtime.execute({ type: 'enqueue', queue: 'q', meta, body: Buffer.alloc(1024, n & 255) });
        await new Promise((r) => runtime.whenDurable(r));
        await new Promise((r) => setImmediate(r));
      }
    };
    const points = [];
    for (const target of [0, 100_000, 200_000, 400_000]) {
      await fillTo(target);
      points.push({ n: target, ...heap() });
    }
    const [, a, , b] = points;
    const per = (f) => Math.round((b[f] - a[f]) / (b.n - a.n));
    out[durable ? 'durable' : 'nondurable'] = {
      points: points.map((p) => ({ n: p.n, heapUsedMiB: +fmtMiB(p.heapUsed), externalMiB: +fmtMiB(p.external), rssMiB: +fmtMiB(p.rss) })),
      heapBytesPerMsg: per('heapUsed'),
      externalBytesPerMsg: per('external'),
      rssBytesPerMsg: per('rss'),
    };
    store.close();
  }
  console.log(JSON.stringify(out));
}
