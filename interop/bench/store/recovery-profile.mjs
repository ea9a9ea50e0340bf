#!/usr/bin/env node
// Where recovery time and memory go, in process (no network): writes --count durable 1 KiB messages with
// JournalStore from dist/ (fsync none: only the file contents matter here), then, in a fresh child
// process run with --expose-gc (and --cpu-prof if --cpu-prof is given), opens it again through the
// broker's BrokerRuntime.recover() and reports the time of JournalStore.open() alone, of the whole
// recover(), and heapUsed / RSS after a full GC.
//
//   node interop/bench/store/recovery-profile.mjs [--count 1000000] [--max-memory-mib 64] [--cpu-prof] [--root DIR]
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { convoyRoot, duBytes, fmtMiB, MiB, parseArgs, tmpDir } from './lib.mjs';

const opt = parseArgs(process.argv.slice(2), { count: 1_000_000, maxMemoryMib: 64, cpuProf: false, root: '', child: '' });
const root = convoyRoot(opt.root);
const req = createRequire(join(root, 'package.json'));
const { JournalStore } = req(join(root, 'dist/store/journal-store.js'));
const silent = { debug() {}, info() {}, warn() {}, error() {}, fatal() {}, trace() {}, child: () => silent };
const meta = { groupId: null, closesGroup: false, expiresAtMs: null, deliveryCount: 0, durable: true };

if (opt.child) {
  const { BrokerRuntime } = req(join(root, 'dist/broker/runtime.js'));
  const { queueOptionsResolver } = req(join(root, 'dist/config/queue-policies.js'));
  const gcNow = () => {
    global.gc();
    global.gc();
    return process.memoryUsage();
  };
  const m0 = gcNow();
  // open() alone
  let store = new JournalStore({ dir: opt.child, fsync: { mode: 'none' }, segmentBytes: 64 * MiB, logger: silent });
  let t = performance.now();
  const recovered = store.open(opt.maxMemoryMib * MiB);
  const openMs = performance.now() - t;
  const mOpen = gcNow();
  const messages = recovered.queues.reduce((a, q) => a + q.messages.length, 0);
  store.close();
  store = null;
  // the whole runtime recovery, as the broker does it
  const m1 = gcNow();
  store = new JournalStore({ dir: opt.child, fsync: { mode: 'none' }, segmentBytes: 64 * MiB, logger: silent });
  const runtime = new BrokerRuntime(queueOptionsResolver({}, {}), store, { maxMemoryBytes: opt.maxMemoryMib * MiB, maxDiskBytes: 1e12 }, silent);
  t = performance.now();
  const r = runtime.recover();
  const recoverMs = performance.now() - t;
  const mRec = gcNow();
  console.log(
    JSON.stringify({
      messages,
      runtimeMessages: r.messages,
      openMs: Math.round(openMs),
      runtimeRecoverMs: Math.round(recoverMs),
      heapAfterOpenMiB: +fmtMiB(mOpen.heapUsed - m0.heapUsed),
      heapAfterRecoverMiB: +fmtMiB(mRec.heapUsed - m1.heapUsed),
      heapBytesPerMsgAfterRecover: Math.round((mRec.heapUsed - m1.heapUsed) / messages),
      externalAfterRecoverMiB: +fmtMiB(mRec.external),
      rssAfterRecoverMiB: +fmtMiB(mRec.rss),
      peakRssMiB: +fmtMiB(Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0) * 1024),
    }),
  );
  store.close();
  process.exit(0);
}

const dir = join(tmpDir('convoy-recprof-'), 'journal');
const store = new JournalStore({ dir, fsync: { mode: 'none' }, segmentBytes: 64 * MiB, logger: silent });
store.open(0);
store.declareQueue('q');
const body = Buffer.alloc(1024, 5);
const t0 = performance.now();
for (let id = 1; id <= opt.count; ) {
  for (let i = 0; i < 1000 && id <= opt.count; i++, id++) store.add({ id, queue: 'q', seq: id, meta }, body, false);
  await new Promise((r) => {
    store.whenDurable(r);
    store.flush();
  });
}
store.close();
console.error(`wrote ${opt.count} messages in ${Math.round(performance.now() - t0)} ms; ${fmtMiB(duBytes(dir))} MiB in ${dir}`);
const args = ['--expose-gc'];
if (opt.cpuProf) args.push('--cpu-prof', '--cpu-prof-dir', join(dir, '..', 'cpu-prof'));
args.push(fileURLToPath(import.meta.url), '--child', dir, '--root', root, '--max-memory-mib', String(opt.maxMemoryMib));
const p = spawnSync(process.execPath, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
console.log(p.stdout.trim());
if (opt.cpuProf) console.error(`cpu profile in ${join(dir, '..', 'cpu-prof')}`);
