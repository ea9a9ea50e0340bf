import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { createRequire } from 'node:module';
import { decodeTransfer } from '../../src/amqp/rhea/transfer-decoding';

// rhea's own frame codec, the reference.
const rheaFrames = createRequire(import.meta.url)('rhea/lib/frames.js') as {
  transfer(fields: Record<string, unknown>): unknown;
  flow(fields: Record<string, unknown>): unknown;
  amqp_frame(channel: number, performative: unknown, payload?: Buffer): unknown;
  write_frame(frame: unknown): Buffer;
  read_frame(buffer: Buffer): { channel: number; performative: Record<string, unknown>; payload?: Buffer };
};

const FIELDS = ['handle', 'delivery_id', 'delivery_tag', 'message_format', 'settled', 'more', 'rcv_settle_mode', 'state', 'resume', 'aborted', 'batchable'];

const transferFields = fc.record(
  {
    handle: fc.integer({ min: 0, max: 4294967295 }),
    delivery_id: fc.integer({ min: 0, max: 4294967295 }),
    delivery_tag: fc.uint8Array({ maxLength: 32 }).map((b) => Buffer.from(b)),
    message_format: fc.constantFrom(0, 1, 70000),
    settled: fc.boolean(),
    more: fc.boolean(),
    rcv_settle_mode: fc.constantFrom(0, 1),
    resume: fc.boolean(),
    aborted: fc.boolean(),
    batchable: fc.boolean(),
  },
  { requiredKeys: ['handle'] },
);

describe('decodeTransfer', () => {
  test('gives the channel, field values and payload that rhea decodes', () => {
    fc.assert(
      fc.property(transferFields, fc.integer({ min: 0, max: 65535 }), fc.option(fc.uint8Array({ maxLength: 3000 })), (fields, channel, payload) => {
        const bytes = rheaFrames.write_frame(rheaFrames.amqp_frame(channel, rheaFrames.transfer(fields), payload ? Buffer.from(payload) : undefined));
        const expected = rheaFrames.read_frame(bytes);
        const decoded = decodeTransfer(bytes);
        expect(decoded).not.toBeNull();
        expect(decoded!.channel).toBe(expected.channel);
        for (const field of FIELDS) expect(decoded!.performative[field as keyof typeof decoded.performative]).toEqual(expected.performative[field]);
        expect(decoded!.payload).toEqual(expected.payload);
      }),
      { numRuns: 500 },
    );
  });

  test('leaves to rhea a transfer with a delivery state, and every other performative', () => {
    // handle 0, delivery-id 1, empty tag, format 0, unsettled, not more, rcv-settle-mode null, state accepted
    const fields = [0x43, 0x52, 0x01, 0xa0, 0x00, 0x43, 0x42, 0x42, 0x40, 0x00, 0x53, 0x24, 0x45];
    const body = [0x00, 0x53, 0x14, 0xc0, fields.length + 1, 8, ...fields];
    const withState = Buffer.from([0, 0, 0, 8 + body.length, 2, 0, 0, 0, ...body]);
    expect(rheaFrames.read_frame(withState).performative.state).toBeDefined();
    expect(decodeTransfer(withState)).toBeNull();
    const flow = rheaFrames.write_frame(rheaFrames.amqp_frame(0, rheaFrames.flow({ next_incoming_id: 1, incoming_window: 1, next_outgoing_id: 1, outgoing_window: 1 })));
    expect(decodeTransfer(flow)).toBeNull();
  });

  test('a truncated transfer is left to rhea', () => {
    const bytes = rheaFrames.write_frame(rheaFrames.amqp_frame(0, rheaFrames.transfer({ handle: 3, delivery_id: 300, delivery_tag: Buffer.from('tag'), more: false })));
    for (let cut = 8; cut < bytes.length; cut++) {
      const truncated = Buffer.from(bytes.subarray(0, cut));
      truncated.writeUInt32BE(cut, 0);
      expect(decodeTransfer(truncated)).toBeNull();
    }
  });
});
