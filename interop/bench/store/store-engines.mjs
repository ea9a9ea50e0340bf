#!/usr/bin/env node
// Durable write and ack throughput, and fsyncs per message, of Convoy's JournalStore used directly vs
// SQLite (better-sqlite3, WAL, synchronous=FULL) and optionally LMDB (lmdb-js), for the decision record.
//
//   npm install --prefix interop/.cache/sqlite better-sqlite3      # once (may compile from source)
//   npm install --prefix interop/.cache/lmdb lmdb                  # once, optional
//   node interop/bench/store/store-engines.mjs [--count 100000] [--batch 100] [--runs 3]
//        [--engines journal,journal-w1000,sqlite,sqlite-normal-acks,lmdb] [--root DIR] [--no-strace]
//
// Every run is a fresh child process on a fresh directory under $BENCH_TMP (default os.tmpdir()):
// - write: --count messages of 1 KiB, --batch per event-loop turn, each batch durable before it counts.
//   journal:       JournalStore.add() x batch + whenDurable() per message (as the broker does per delivery),
//                  fsync policy `batch`; the next turn's batch is added without waiting (the broker keeps
//                  accepting while a fdatasync runs) but at most `window` messages wait for durability
//                  (journal: window = batch, i.e. one batch at a time; journal-w1000: window 1000, like one
//                  producer link's credit).
//   sqlite:        one transaction per batch (INSERT per message), journal_mode=WAL, synchronous=FULL.
//   lmdb:          one transactionSync per batch (putSync per message), default (synced) environment.
// - ack: a delete per message, --batch per turn. journal: remove() as the broker does on accept (no fsync
//   of its own; it rides with the next one), one whenDurable() at the end; sqlite: one transaction per batch
//   (synchronous=FULL; `sqlite-normal-acks` runs the deletes with synchronous=NORMAL, which, like the
//   journal's removes, is not fsynced per commit); lmdb: one transactionSync per batch.
// fsyncs: counted by strace (fsync + fdatasync + msync syscalls, all threads) between phase markers; the
// journal's fdatasync calls are also counted by wrapping fs.fdatasync / fs.fdatasyncSync. Timing runs
// are separate from the strace runs (strace slows syscalls down).
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync, existsSync } from 'node:fs';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { convoyRoot, duBytes, load, median, MiB, parseArgs, REPO, tmpDir } from './lib.mjs';

const opt = parseArgs(process.argv.slice(2), {
  count: 100_000,
  batch: 100,
  runs: 3,
  engines: 'journal,journal-w1000,sqlite,sqlite-normal-acks,lmdb',
  root: '',
  out: '',
  noStrace: false,
  child: '',
});
const root = convoyRoot(opt.root);
const SELF = fileURLToPath(import.meta.url);
const MARK = 'convoy-bench-marker-';
const mark = (name) => {
  try {
    statSync(`/${MARK}${name}`);
  } catch {}
};
const turn = () => new Promise((r) => setImmediate(r));

if (opt.child) {
  const r = await runChild(opt.child);
  console.log(JSON.stringify(r));
  process.exit(0);
}

// ---------------------------------------------------------------- parent
const log = (...a) => console.error(`[engines ${new Date().toISOString().slice(11, 19)}]`, ...a);
const result = { startedAt: new Date().toISOString(), root, count: opt.count, batch: opt.batch, loadavg: [load()], runs: {}, fsyncs: {} };

function child(engine, strace) {
  const args = [SELF, '--child', engine, '--count', String(opt.count), '--batch', String(opt.batch), '--root', root];
  let cmd = process.execPath;
  let traceFile = null;
  if (strace) {
    traceFile = join(tmpDir('convoy-engines-strace-'), 'trace.txt');
    args.unshift('-f', '-qq', '-e', 'trace=fsync,fdatasync,msync,statx,newfstatat,stat,lstat', '-o', traceFile, process.execPath);
    cmd = 'strace';
  }
  const p = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 26 });
  if (p.status !== 0) throw new Error(`${engine} child failed (${p.status}): ${p.stdout}`);
  const r = JSON.parse(p.stdout.trim().split('\n').pop());
  if (traceFile) {
    const counts = {};
    let phase = 'setup';
    for (const line of readFileSync(traceFile, 'utf8').split('\n')) {
      const m = line.indexOf(MARK);
      if (m >= 0) {
        phase = line.slice(m + MARK.length).split('"')[0];
        continue;
      }
      if (/\b(fsync|fdatasync|msync)\(/.test(line)) counts[phase] = (counts[phase] || 0) + 1;
    }
    r.straceSyncs = counts;
  }
  return r;
}

const engines = opt.engines.split(',');
const available = [];
for (const engine of engines) {
  if (engine.startsWith('sqlite') && !existsSync(join(REPO, 'interop/.cache/sqlite/node_modules/better-sqlite3'))) {
    log(`${engine}: better-sqlite3 is not installed in interop/.cache/sqlite; skipped`);
    result.runs[engine] = { skipped: 'better-sqlite3 not installed' };
  } else if (engine === 'lmdb' && !existsSync(join(REPO, 'interop/.cache/lmdb/node_modules/lmdb'))) {
    log('lmdb: not installed in interop/.cache/lmdb; skipped');
    result.runs[engine] = { skipped: 'lmdb not installed' };
  } else {
    available.push(engine);
    result.runs[engine] = [];
  }
}
// Rounds interleave the engines, so that a slow spell of the shared disk hits all of them alike.
for (let i = 0; i < opt.runs; i++) {
  for (const engine of available) {
    const r = child(engine, false);
    r.load = load();
    log(`round ${i + 1}`, engine, JSON.stringify(r));
    result.runs[engine].push(r);
  }
}
if (!opt.noStrace) {
  for (const engine of available) {
    const r = child(engine, true);
    log(engine, 'strace', JSON.stringify(r.straceSyncs));
    result.fsyncs[engine] = r;
  }
}
result.loadavg.push(load());
const out = opt.out || join(tmpDir('convoy-engines-result-'), 'engines.json');
writeFileSync(out, JSON.stringify(result, null, 2));
log(`wrote ${out}`);

console.log(`| engine | write msg/s (median of ${opt.runs}; min–max) | fsyncs/msg write (strace) | fdatasync/msg write (wrapped fs) | ack msg/s | fsyncs/msg ack (strace) | disk after write MiB |`);
console.log('|---|---|---|---|---|---|---|');
for (const engine of engines) {
  const runs = result.runs[engine];
  if (!Array.isArray(runs)) {
    console.log(`| ${engine} | ${runs.skipped} | | | | | |`);
    continue;
  }
  const m = (f) => median(runs.map((x) => x[f]));
  const s = result.fsyncs[engine]?.straceSyncs || {};
  const per = (k) => (s[k] === undefined ? (result.fsyncs[engine] ? '0' : 'n/a') : (s[k] / opt.count).toFixed(4));
  const range = (f) => `${Math.round(Math.min(...runs.map((x) => x[f])) / 1000)}k–${Math.round(Math.max(...runs.map((x) => x[f])) / 1000)}k`;
  console.log(`| ${engine} | ${Math.round(m('writeMsgPerS'))} (${range('writeMsgPerS')}) | ${per('write')} | ${runs[0].wrappedFdatasyncWrite === undefined ? '-' : (m('wrappedFdatasyncWrite') / opt.count).toFixed(4)} | ${Math.round(m('ackMsgPerS'))} (${range('ackMsgPerS')}) | ${per('ack')} | ${(m('diskAfterWrite') / MiB).toFixed(1)} |`);
}

// ---------------------------------------------------------------- child
async function runChild(engine) {
  const N = opt.count;
  const B = opt.batch;
  const body = Buffer.alloc(1024, 7);
  const dir = tmpDir(`convoy-engines-${engine}-`);
  const r = { engine, count: N, batch: B };
  if (engine.startsWith('journal')) {
    const window = engine === 'journal-w1000' ? 1000 : B;
    r.window = window;
    let wrapped = 0;
    const origAsync = fs.fdatasync;
    const origSync = fs.fdatasyncSync;
    fs.fdatasync = (...a) => {
      wrapped++;
      return origAsync(...a);
    };
    fs.fdatasyncSync = (...a) => {
      wrapped++;
      return origSync(...a);
    };
    const req = createRequire(join(root, 'package.json'));
    const { JournalStore } = req(join(root, 'dist/store/journal-store.js'));
    const silent = { debug() {}, info() {}, warn() {}, error() {}, fatal() {}, trace() {}, child: () => silent };
    const store = new JournalStore({ dir: join(dir, 'journal'), fsync: { mode: 'batch' }, segmentBytes: 64 * MiB, logger: silent });
    store.open(256 * MiB);
    store.declareQueue('q');
    const meta = { groupId: null, closesGroup: false, expiresAtMs: null, deliveryCount: 0, durable: true };
    await turn();
    wrapped = 0;
    mark('write');
    let durable = 0;
    let waitFor = null;
    const onDurable = () => {
      durable++;
      if (waitFor && durable >= waitFor.n) {
        const w = waitFor;
        waitFor = null;
        w.resolve();
      }
    };
    const t0 = performance.now();
    for (let id = 1; id <= N; ) {
      const inFlightAfter = id - 1 + B - durable;
      if (inFlightAfter > window) await new Promise((resolve) => (waitFor = { n: id - 1 + B - window, resolve }));
      for (let i = 0; i < B && id <= N; i++, id++) {
        store.add({ id, queue: 'q', seq: id, meta }, body, false);
        store.whenDurable(onDurable);
      }
      store.flush(); // the broker's turn: one flush per batch
      await turn();
    }
    if (durable < N) await new Promise((resolve) => (waitFor = { n: N, resolve }));
    r.writeMsgPerS = N / ((performance.now() - t0) / 1000);
    r.wrappedFdatasyncWrite = wrapped;
    r.diskAfterWrite = duBytes(dir);
    wrapped = 0;
    mark('ack');
    const t1 = performance.now();
    for (let id = 1; id <= N; ) {
      for (let i = 0; i < B && id <= N; i++, id++) store.remove(id);
      store.flush();
      await turn();
    }
    await new Promise((resolve) => {
      store.whenDurable(resolve);
      store.flush();
    });
    r.ackMsgPerS = N / ((performance.now() - t1) / 1000);
    r.wrappedFdatasyncAck = wrapped;
    mark('close');
    store.close();
  } else if (engine.startsWith('sqlite')) {
    const Database = createRequire(join(REPO, 'interop/.cache/sqlite/package.json'))('better-sqlite3');
    const db = new Database(join(dir, 'store.db'));
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    r.sqliteVersion = db.prepare('select sqlite_version() as v').get().v;
    db.exec('CREATE TABLE messages (id INTEGER PRIMARY KEY, queue TEXT NOT NULL, seq INTEGER NOT NULL, delivery_count INTEGER NOT NULL, flags INTEGER NOT NULL, body BLOB NOT NULL)');
    const insert = db.prepare('INSERT INTO messages (id, queue, seq, delivery_count, flags, body) VALUES (?, ?, ?, 0, 1, ?)');
    const del = db.prepare('DELETE FROM messages WHERE id = ?');
    const insertBatch = db.transaction((from, to) => {
      for (let id = from; id < to; id++) insert.run(id, 'q', id, body);
    });
    const deleteBatch = db.transaction((from, to) => {
      for (let id = from; id < to; id++) del.run(id);
    });
    await turn();
    mark('write');
    const t0 = performance.now();
    for (let id = 1; id <= N; id += B) {
      insertBatch(id, Math.min(id + B, N + 1));
      await turn();
    }
    r.writeMsgPerS = N / ((performance.now() - t0) / 1000);
    r.diskAfterWrite = duBytes(dir);
    if (engine === 'sqlite-normal-acks') db.pragma('synchronous = NORMAL');
    r.ackSynchronous = db.pragma('synchronous', { simple: true });
    mark('ack');
    const t1 = performance.now();
    for (let id = 1; id <= N; id += B) {
      deleteBatch(id, Math.min(id + B, N + 1));
      await turn();
    }
    r.ackMsgPerS = N / ((performance.now() - t1) / 1000);
    r.diskAfterAck = duBytes(dir);
    mark('close');
    db.close();
  } else if (engine === 'lmdb') {
    const { open } = createRequire(join(REPO, 'interop/.cache/lmdb/package.json'))('lmdb');
    const db = open({ path: join(dir, 'lmdb'), encoding: 'binary', keyEncoding: 'uint32', mapSize: 2 * 1024 * MiB });
    await turn();
    mark('write');
    const t0 = performance.now();
    for (let id = 1; id <= N; id += B) {
      const to = Math.min(id + B, N + 1);
      db.transactionSync(() => {
        for (let k = id; k < to; k++) db.putSync(k, body);
      });
      await turn();
    }
    r.writeMsgPerS = N / ((performance.now() - t0) / 1000);
    r.diskAfterWrite = duBytes(dir);
    mark('ack');
    const t1 = performance.now();
    for (let id = 1; id <= N; id += B) {
      const to = Math.min(id + B, N + 1);
      db.transactionSync(() => {
        for (let k = id; k < to; k++) db.removeSync(k);
      });
      await turn();
    }
    r.ackMsgPerS = N / ((performance.now() - t1) / 1000);
    mark('close');
    await db.close();
  } else throw new Error(`unknown engine ${engine}`);
  r.writeMsgPerS = Math.round(r.writeMsgPerS);
  r.ackMsgPerS = Math.round(r.ackMsgPerS);
  fs.rmSync(dir, { recursive: true, force: true });
  return r;
}
