#!/usr/bin/env node
// Why a group commit costs what it costs: write(batch) + fdatasync() on a file that GROWS with every
// batch (what segment-file.ts does: each append moves the end of file, so fdatasync must also commit
// the inode size through the filesystem journal) vs the same writes over a file whose blocks were
// allocated and synced beforehand (what preallocating a segment would give; SQLite's WAL is reused in
// place after a checkpoint, the Artemis journal preallocates its files).
//
//   node interop/bench/store/fsync-append.mjs [--batches 1000] [--batch-bytes 112000] [--runs 3]
import { closeSync, fdatasyncSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { load, median, parseArgs, tmpDir } from './lib.mjs';

const opt = parseArgs(process.argv.slice(2), { batches: 1000, batchBytes: 112_000, runs: 3 });
const buf = Buffer.alloc(opt.batchBytes, 3);

function run(prealloc) {
  const dir = tmpDir('convoy-fsync-');
  const path = join(dir, 'f');
  const fd = openSync(path, 'w+');
  if (prealloc) {
    const chunk = Buffer.alloc(1 << 20);
    const total = opt.batches * opt.batchBytes;
    for (let at = 0; at < total; at += chunk.length) writeSync(fd, chunk, 0, Math.min(chunk.length, total - at), at);
    fdatasyncSync(fd);
  }
  const t0 = performance.now();
  for (let i = 0; i < opt.batches; i++) {
    writeSync(fd, buf, 0, buf.length, i * buf.length);
    fdatasyncSync(fd);
  }
  const ms = (performance.now() - t0) / opt.batches;
  closeSync(fd);
  rmSync(dir, { recursive: true, force: true });
  return ms;
}

const res = { growing: [], preallocated: [] };
for (let r = 0; r < opt.runs; r++) {
  res.growing.push(run(false));
  res.preallocated.push(run(true));
}
const out = {
  batches: opt.batches,
  batchBytes: opt.batchBytes,
  msPerWriteAndFdatasync_growing: +median(res.growing).toFixed(3),
  msPerWriteAndFdatasync_preallocated: +median(res.preallocated).toFixed(3),
  all: Object.fromEntries(Object.entries(res).map(([k, v]) => [k, v.map((x) => +x.toFixed(3))])),
  load: load(),
};
console.log(JSON.stringify(out));
