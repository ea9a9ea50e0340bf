import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { FrameGuard } from '../../src/amqp/connection-guards';
import { AMQP_HEADER, encode, frame, message, performative, Performative, transfer } from '../support/amqp-frames';

const MAX_FRAME_BYTES = 65536;
const open = frame(0, performative(Performative.open, [encode.string('client')]));
const begin = frame(0, performative(Performative.begin, [undefined, encode.uint(0), encode.uint(2048), encode.uint(2048)]));

/** A stream as a client sends it: header, open, begin, then transfers with bodies of the given sizes. */
function streamOf(bodySizes: readonly number[]): { bytes: Buffer; units: number[] } {
  const units = [AMQP_HEADER, open, begin, ...bodySizes.map((size, id) => frame(0, transfer({ handle: 0, deliveryId: id, payload: message({ data: 'x'.repeat(size) }) })))];
  return { bytes: Buffer.concat(units), units: units.map((unit) => unit.length) };
}

/** Splits `bytes` at the given cut points into separate buffers, each with its own memory, as socket reads are. */
function readsOf(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts.map((cut) => cut % bytes.length))].sort((a, b) => a - b);
  const reads: Buffer[] = [];
  let from = 0;
  for (const point of [...points, bytes.length]) {
    if (point > from) reads.push(Buffer.from(bytes.subarray(from, point)));
    from = point;
  }
  return reads;
}

describe('FrameGuard', () => {
  test('forwards every unit whole and in order however the stream is cut into reads; only units split across reads are copied', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 5000 }), { minLength: 1, maxLength: 40 }),
        fc.array(fc.nat(), { maxLength: 30 }),
        (bodySizes, cuts) => {
          const { bytes, units } = streamOf(bodySizes);
          const reads = readsOf(bytes, cuts);
          const guard = new FrameGuard(MAX_FRAME_BYTES);
          const forwarded: Buffer[] = [];
          let copiedBytes = 0;
          for (const read of reads) {
            const verdict = guard.feed(read, (piece) => {
              forwarded.push(piece);
              if (piece.buffer !== read.buffer) copiedBytes += piece.length;
            });
            expect(verdict.ok).toBe(true);
          }
          expect(Buffer.concat(forwarded).equals(bytes)).toBe(true);
          // Every piece ends on a unit boundary: rhea never has a partial frame left over.
          const boundaries = new Set(units.map((_, i) => units.slice(0, i + 1).reduce((a, b) => a + b, 0)));
          let end = 0;
          for (const piece of forwarded) {
            end += piece.length;
            expect(boundaries.has(end)).toBe(true);
          }
          // A copy is one unit that straddled reads, never a read: at most one unit per read boundary.
          const largestUnit = Math.max(...units);
          expect(copiedBytes).toBeLessThanOrEqual((reads.length - 1) * largestUnit);
        },
      ),
      { numRuns: 300 },
    );
  });

  test('a frame cut inside its size field is held until its size and then its bytes have arrived', () => {
    const { bytes } = streamOf([100]);
    const transferStart = AMQP_HEADER.length + open.length + begin.length;
    const guard = new FrameGuard(MAX_FRAME_BYTES);
    const forwarded: Buffer[] = [];
    const forward = (piece: Buffer): number => forwarded.push(piece);
    for (const read of [bytes.subarray(0, transferStart + 2), bytes.subarray(transferStart + 2, transferStart + 3), bytes.subarray(transferStart + 3)]) {
      expect(guard.feed(Buffer.from(read), forward).ok).toBe(true);
    }
    expect(forwarded.map((piece) => piece.length)).toEqual([transferStart, bytes.length - transferStart]);
  });

  test('a frame too large is refused when its size arrives, with what came before it forwarded', () => {
    const oversized = Buffer.alloc(8);
    oversized.writeUInt32BE(MAX_FRAME_BYTES + 1, 0);
    const stream = Buffer.concat([AMQP_HEADER, open, oversized]);
    const guard = new FrameGuard(MAX_FRAME_BYTES);
    const forwarded: Buffer[] = [];
    expect(guard.feed(stream.subarray(0, AMQP_HEADER.length + open.length + 2), (piece) => forwarded.push(piece)).ok).toBe(true);
    const verdict = guard.feed(stream.subarray(AMQP_HEADER.length + open.length + 2), (piece) => forwarded.push(piece));
    expect(verdict.ok).toBe(false);
    expect(Buffer.concat(forwarded).equals(Buffer.concat([AMQP_HEADER, open]))).toBe(true);
  });
});
