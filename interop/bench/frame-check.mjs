#!/usr/bin/env node
// What checking every incoming frame costs (issue 9), per transfer frame, on the compiled code.
//
//   npm run build && node interop/bench/frame-check.mjs [--frames 2000000]
//
// A producer's transfers as Qpid Proton and rhea write them (handle, delivery-id, an 8-byte tag,
// message-format, settled, more; a 100-byte message) are fed in 64 KiB reads to:
//   guard     the input guard (connection-guards.ts): frame cutting, checkFrame, frame order;
//   check     checkFrame alone, on each frame;
//   decode    decodeTransfer alone (the transfer decoder rhea's reader is skipped for), for scale;
//   sizes     the guard as it was before issue 9 (frame sizes only), rebuilt here as the baseline.
// Prints one JSON line: nanoseconds per transfer frame for each, medians of 7 rounds.
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(import.meta.url);
const { FrameGuard } = require(path.join(ROOT, 'dist/amqp/connection-guards.js'));
const { checkFrame } = require(path.join(ROOT, 'dist/amqp/frame-check.js'));
const { decodeTransfer } = require(path.join(ROOT, 'dist/amqp/rhea/transfer-decoding.js'));
const frames = createRequire(require.resolve('rhea'))('./frames.js');

const args = process.argv.slice(2);
const at = args.indexOf('--frames');
const FRAMES = at >= 0 ? Number(args[at + 1]) : 2_000_000;
const ROUNDS = 7;

const payload = Buffer.concat([Buffer.from([0x00, 0x53, 0x75, 0xa0, 100]), Buffer.alloc(100, 1)]);
const transfer = (id) =>
  frames.write_frame(frames.amqp_frame(0, frames.transfer({ handle: 0, delivery_id: id, delivery_tag: Buffer.from('tag-0001'), message_format: 0, settled: false, more: false }), payload));
const frameBytes = transfer(1000).length;
const perRead = Math.floor(65536 / frameBytes);
const read = Buffer.concat(Array.from({ length: perRead }, (_, i) => transfer(1000 + i)));
const reads = Math.ceil(FRAMES / perRead);
const open = frames.write_frame(frames.amqp_frame(0, frames.open({ container_id: 'bench' })));
const header = Buffer.from('AMQP\x00\x01\x00\x00', 'latin1');

/** The guard before issue 9: header, then frame sizes only (bodies skipped). */
class SizesOnly {
  skip = 0;
  feed(chunk) {
    let offset = 0;
    while (offset < chunk.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - offset);
        this.skip -= n;
        offset += n;
        continue;
      }
      const size = chunk.readUInt32BE(offset);
      if (size < 8 || size > 65536) return false;
      this.skip = size - 4;
      offset += 4;
    }
    return true;
  }
}

function nsPerFrame(run) {
  const results = [];
  for (let round = 0; round < ROUNDS; round++) {
    const started = process.hrtime.bigint();
    run();
    results.push(Number(process.hrtime.bigint() - started) / (reads * perRead));
  }
  results.sort((a, b) => a - b);
  return Number(results[Math.floor(ROUNDS / 2)].toFixed(1));
}

let sink = 0;
const result = {
  frameBytes,
  framesPerRound: reads * perRead,
  guard: nsPerFrame(() => {
    const guard = new FrameGuard(65536);
    guard.feed(Buffer.concat([header, open]), () => undefined);
    for (let i = 0; i < reads; i++) if (!guard.feed(read, (bytes) => (sink += bytes.length)).ok) throw new Error('refused');
  }),
  check: nsPerFrame(() => {
    for (let i = 0; i < reads; i++) for (let offset = 0; offset < read.length; offset += frameBytes) sink += checkFrame(read, offset, offset + frameBytes, 'amqp');
  }),
  decode: nsPerFrame(() => {
    for (let i = 0; i < reads; i++) for (let offset = 0; offset < read.length; offset += frameBytes) sink += decodeTransfer(read.subarray(offset, offset + frameBytes)).channel;
  }),
  sizes: nsPerFrame(() => {
    const guard = new SizesOnly();
    for (let i = 0; i < reads; i++) if (!guard.feed(read)) throw new Error('refused');
  }),
};
result.addedPerFrameNs = Number((result.guard - result.sizes).toFixed(1));
console.log(JSON.stringify(result), sink > 0 ? '' : ' ');
