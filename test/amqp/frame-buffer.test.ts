import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { createRequire } from 'node:module';
import { FrameBuffer } from '../../src/amqp/rhea/frame-buffer';

// rhea's own frame encoder, to compare bytes with.
const rheaFrames = createRequire(import.meta.url)('rhea/lib/frames.js') as {
  transfer(fields: Record<string, unknown>): unknown;
  flow(fields: Record<string, unknown>): unknown;
  close(fields: Record<string, unknown>): unknown;
  amqp_frame(channel: number, performative: unknown, payload?: Buffer): unknown;
  write_frame(frame: unknown): Buffer;
};

const transferArbitrary = fc.record({
  channel: fc.integer({ min: 0, max: 65535 }),
  handle: fc.integer({ min: 0, max: 4294967295 }),
  deliveryId: fc.integer({ min: 0, max: 4294967295 }),
  deliveryTag: fc.uint8Array({ maxLength: 32 }).map((b) => Buffer.from(b)),
  messageFormat: fc.constantFrom(0, 1, 300, 4294967295),
  settled: fc.boolean(),
  more: fc.boolean(),
  payload: fc.oneof(fc.uint8Array({ maxLength: 200 }), fc.uint8Array({ maxLength: 120_000 })).map((b) => Buffer.from(b)),
});

describe('FrameBuffer', () => {
  test('a transfer is encoded to the same bytes as rhea encodes it; bytes handed to the socket never change', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(transferArbitrary, fc.boolean()), { minLength: 1, maxLength: 12 }), (steps) => {
        const frames = new FrameBuffer();
        const expected: Buffer[] = [];
        // Kept by reference, as a socket keeps what it has not written yet.
        const handedOut: Buffer[] = [];
        for (const [t, flush] of steps) {
          frames.appendTransfer(t.channel, t, t.payload);
          if (flush) frames.writeTo({ write: (bytes) => handedOut.push(bytes) });
          const performative = rheaFrames.transfer({
            handle: t.handle,
            delivery_id: t.deliveryId,
            delivery_tag: t.deliveryTag,
            message_format: t.messageFormat,
            settled: t.settled,
            more: t.more,
          });
          expected.push(rheaFrames.write_frame(rheaFrames.amqp_frame(t.channel, performative, t.payload)));
        }
        frames.writeTo({ write: (bytes) => handedOut.push(bytes) });
        expect(Buffer.concat(handedOut).equals(Buffer.concat(expected))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  test('frames of every kind go out in the order queued, in one write, encoded as rhea encodes them', () => {
    const frames = new FrameBuffer();
    const flow = rheaFrames.flow({ next_incoming_id: 1, incoming_window: 2048, next_outgoing_id: 3, outgoing_window: 4, handle: 0, link_credit: 10, delivery_count: 7 });
    const close = rheaFrames.close({ error: { condition: 'amqp:internal-error', description: 'x' } });
    frames.append(1, flow, undefined);
    frames.append(0, undefined, undefined); // an empty frame: heartbeat (AMQP 1.0 2.4.5)
    frames.append(0, close, undefined);
    const writes: Buffer[] = [];
    frames.writeTo({ write: (bytes) => writes.push(bytes) });
    expect(writes).toHaveLength(1);
    const expected = Buffer.concat([
      rheaFrames.write_frame(rheaFrames.amqp_frame(1, flow)),
      rheaFrames.write_frame(rheaFrames.amqp_frame(0, undefined)),
      rheaFrames.write_frame(rheaFrames.amqp_frame(0, close)),
    ]);
    expect(writes[0]!.equals(expected)).toBe(true);
    expect(frames.isEmpty).toBe(true);
  });

  test('a frame that cannot be encoded fails the write after the frames before it went out', () => {
    const frames = new FrameBuffer();
    frames.append(0, rheaFrames.flow({ next_incoming_id: 1, incoming_window: 1, next_outgoing_id: 1, outgoing_window: 1 }), undefined);
    frames.append(0, { not: 'a performative' }, undefined);
    const writes: Buffer[] = [];
    expect(() => frames.writeTo({ write: (bytes) => writes.push(bytes) })).toThrow();
    expect(writes).toHaveLength(1);
    expect(frames.isEmpty).toBe(true);
  });

  test('frames encoded beyond a slab stay where they were encoded, and a large payload goes to the socket as it is', () => {
    const frames = new FrameBuffer();
    const small = Buffer.alloc(1024, 1);
    const large = Buffer.alloc(64 * 1024, 2);
    const fields = { handle: 0, deliveryTag: Buffer.from('t'), messageFormat: 0, settled: false, more: false };
    const expected: Buffer[] = [];
    for (let id = 0; id < 600; id++) {
      const payload = id % 100 === 50 ? large : small;
      frames.appendTransfer(0, { ...fields, deliveryId: id }, payload);
      const performative = rheaFrames.transfer({ handle: 0, delivery_id: id, delivery_tag: fields.deliveryTag, message_format: 0, settled: false, more: false });
      expected.push(rheaFrames.write_frame(rheaFrames.amqp_frame(0, performative, payload)));
    }
    const writes: Buffer[] = [];
    frames.writeTo({ write: (bytes) => writes.push(bytes) });
    expect(Buffer.concat(writes).equals(Buffer.concat(expected))).toBe(true);
    expect(writes.filter((bytes) => bytes === large)).toHaveLength(6);
    // 600 KiB of small frames span several slabs: each slab's part is written from the slab it was encoded in.
    const slabs = new Set(writes.filter((bytes) => bytes !== large).map((bytes) => bytes.buffer));
    expect(slabs.size).toBeGreaterThan(1);
  });
});
