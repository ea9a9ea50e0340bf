import fc from 'fast-check';
import { createRequire } from 'node:module';
import { describe, expect, test } from 'vitest';
import { checkFrame, EMPTY_FRAME, isFault } from '../../src/amqp/frame-check';
import { AMQP_PERFORMATIVES } from '../../src/amqp/frame-schema';
import { encode, frame, performative } from '../support/amqp-frames';
import { frameOf, rheaFrames } from '../support/raw-amqp';

const requireFromRhea = createRequire(require.resolve('rhea'));
const terminus = requireFromRhea('./terminus.js') as { source(f: object): { described(): unknown }; target(f: object): { described(): unknown } };
const rheaMessage = requireFromRhea('./message.js') as Record<string, (fields?: object) => { described(): unknown }>;

function check(frame: Buffer, layer: 'amqp' | 'sasl' = 'amqp'): ReturnType<typeof checkFrame> {
  return checkFrame(frame, 0, frame.length, layer);
}

const uint = fc.integer({ min: 0, max: 4294967295 });
const symbols = fc.array(fc.stringMatching(/^[a-zA-Z0-9.:-]{1,20}$/), { maxLength: 3 });
const properties = fc.dictionary(fc.stringMatching(/^[a-z]{1,8}$/), fc.oneof(fc.string(), fc.integer(), fc.boolean()), { maxKeys: 3 });
const error = fc.option(fc.record({ condition: fc.constantFrom('amqp:internal-error', 'amqp:not-found'), description: fc.string({ maxLength: 40 }) }), { nil: undefined });
const outcome = fc.constantFrom('accepted', 'released', 'rejected', 'modified').map((name) => rheaMessage[name]!({}).described());

/** Every performative a client sends, as rhea (a real client library) encodes it, with any field values. */
const wellFormed: fc.Arbitrary<Buffer> = fc.oneof(
  fc.record({ container_id: fc.string(), hostname: fc.option(fc.string(), { nil: undefined }), max_frame_size: fc.integer({ min: 512, max: 4294967295 }), channel_max: fc.integer({ min: 0, max: 65535 }), idle_time_out: fc.oneof(fc.constant(0), fc.integer({ min: 100, max: 4294967295 })), offered_capabilities: symbols, desired_capabilities: symbols, properties }).map((f) => frameOf(0, rheaFrames.open(f))),
  fc.record({ remote_channel: fc.option(fc.integer({ min: 0, max: 65535 }), { nil: undefined }), next_outgoing_id: uint, incoming_window: uint, outgoing_window: uint, handle_max: uint, properties }).map((f) => frameOf(0, rheaFrames.begin(f))),
  fc.record({ name: fc.string(), handle: uint, role: fc.boolean(), snd_settle_mode: fc.integer({ min: 0, max: 2 }), rcv_settle_mode: fc.integer({ min: 0, max: 1 }), address: fc.string(), dynamic: fc.boolean(), capabilities: symbols, properties, initial_delivery_count: uint, max_message_size: fc.integer({ min: 0, max: 2 ** 40 }) }).map(({ address, dynamic, capabilities, ...f }) =>
    frameOf(0, rheaFrames.attach({ ...f, source: terminus.source({ address, dynamic, capabilities, filter: { 'apache.org:selector-filter:string': 'a = 1' } }).described(), target: terminus.target({ address, capabilities }).described() })),
  ),
  fc.record({ next_incoming_id: uint, incoming_window: uint, next_outgoing_id: uint, outgoing_window: uint, handle: uint, delivery_count: uint, link_credit: uint, available: uint, drain: fc.boolean(), echo: fc.boolean(), properties }).map((f) => frameOf(0, rheaFrames.flow(f))),
  fc.record({ handle: uint, delivery_id: uint, delivery_tag: fc.uint8Array({ maxLength: 32 }).map((b) => Buffer.from(b)), message_format: uint, settled: fc.boolean(), more: fc.boolean(), rcv_settle_mode: fc.integer({ min: 0, max: 1 }), resume: fc.boolean(), aborted: fc.boolean(), batchable: fc.boolean(), payload: fc.uint8Array({ maxLength: 200 }) }).map(({ payload, ...f }) =>
    frameOf(0, rheaFrames.transfer(f), Buffer.from(payload)),
  ),
  fc.record({ role: fc.boolean(), first: uint, last: uint, settled: fc.boolean(), state: fc.option(outcome, { nil: undefined }), batchable: fc.boolean() }).map((f) => frameOf(0, rheaFrames.disposition(f))),
  fc.record({ handle: uint, closed: fc.boolean(), error }).map((f) => frameOf(0, rheaFrames.detach(f))),
  error.map((e) => frameOf(0, rheaFrames.end({ error: e }))),
  error.map((e) => frameOf(0, rheaFrames.close({ error: e }))),
);

describe('checkFrame', () => {
  test('takes every performative a client library encodes, with any field values, and names it', () => {
    fc.assert(
      fc.property(wellFormed, (frame) => {
        const result = check(frame);
        expect(isFault(result) ? result.description : 'ok').toBe('ok');
        const name = String(rheaFrames.read_frame(frame).performative!.constructor).split('#')[0];
        expect(AMQP_PERFORMATIVES.find((p) => p.code === result)?.name).toBe(name);
      }),
      { numRuns: 2000 },
    );
  });

  test('a heartbeat is an empty frame; a SASL frame is only taken in the SASL layer', () => {
    expect(check(frame(0, Buffer.alloc(0)))).toBe(EMPTY_FRAME);
    const saslInit = rheaFrames.write_frame(rheaFrames.sasl_frame(rheaFrames.sasl_init({ mechanism: 'ANONYMOUS' })));
    expect(check(saslInit, 'sasl')).toBe(0x41);
    expect(check(saslInit)).toMatchObject({ condition: 'amqp:connection:framing-error' });
    expect(check(frameOf(0, rheaFrames.open({ container_id: 'x' })), 'sasl')).toMatchObject({ condition: 'amqp:connection:framing-error' });
  });

  test('any byte changed, any truncation, any garbage: a verdict, never an exception, in time linear in the bytes', () => {
    fc.assert(
      fc.property(wellFormed, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), fc.nat(), (frame, flips, cut) => {
        const mutated = Buffer.from(frame);
        for (const [at, value] of flips) mutated[8 + (at % Math.max(1, mutated.length - 8))] = value;
        for (const bytes of [mutated, mutated.subarray(0, Math.max(8, cut % (mutated.length + 1)))]) {
          const result = check(bytes);
          expect(typeof result === 'number' || typeof result.description === 'string').toBe(true);
        }
      }),
      { numRuns: 3000 },
    );
  });

  test('counts larger than the bytes present are refused before anything is walked', () => {
    const started = process.hrtime.bigint();
    for (const elementCode of [0x40, 0x41, 0x43, 0x45]) {
      const array = Buffer.from([0xf0, 0, 0, 0, 5, 0x7f, 0xff, 0xff, 0xff, elementCode]);
      const result = check(frame(0, performative(0x10, [encode.string('x'), encode.null(), encode.null(), encode.null(), encode.null(), encode.null(), encode.null(), array])));
      expect(result).toMatchObject({ condition: 'amqp:decode-error', description: expect.stringMatching(/offered-capabilities: compound at byte \d+ declares 2147483647 elements in 5 bytes/) });
    }
    const list = Buffer.from([0xd0, 0, 0, 0, 4, 0xff, 0xff, 0xff, 0xff]);
    expect(check(frame(0, performative(0x12, [encode.string('x'), encode.uint(0), encode.boolean(true), encode.null(), encode.null(), list])))).toMatchObject({ condition: 'amqp:decode-error' });
    expect(Number(process.hrtime.bigint() - started) / 1e6).toBeLessThan(50);
  });

  test('the fields of every performative are held to their types, ranges and mandatory-ness', () => {
    const cases: [Buffer, string, RegExp][] = [
      [performative(0x10, [encode.uint(1)]), 'amqp:decode-error', /open\.container-id: expected string, got uint/],
      [performative(0x10, [encode.null()]), 'amqp:decode-error', /open\.container-id is mandatory/],
      [performative(0x10, [encode.string('x'), encode.null(), encode.list([])]), 'amqp:decode-error', /open\.max-frame-size: expected uint, got list/],
      [performative(0x10, [encode.string('x'), encode.null(), encode.null(), encode.null(), encode.uint(1)]), 'amqp:invalid-field', /open\.idle-time-out is 1 \(AMQP 1\.0 2\.4\.5/],
      [performative(0x10, [encode.string('x'), encode.null(), encode.null(), encode.null(), encode.null(), encode.null(), encode.null(), encode.uint(3)]), 'amqp:decode-error', /open\.offered-capabilities: expected symbol, got uint/],
      [performative(0x12, [encode.uint(0), encode.uint(0), encode.boolean(true)]), 'amqp:decode-error', /attach\.name: expected string, got uint/],
      [performative(0x12, [encode.string('l'), encode.uint(0), encode.boolean(true), encode.null(), encode.null(), encode.null(), encode.null(), encode.null(), encode.null(), encode.string('x')]), 'amqp:decode-error', /attach\.initial-delivery-count: expected uint, got string/],
      [performative(0x14, [encode.uint(0), encode.uint(0), encode.binary(Buffer.alloc(33))]), 'amqp:invalid-field', /transfer\.delivery-tag has 33 bytes/],
      [performative(0x14, [encode.uint(0), encode.null(), encode.null(), encode.null(), encode.null(), encode.null(), encode.null(), performative(0x1d, [])]), 'amqp:decode-error', /transfer\.state: expected delivery-state/],
      [performative(0x15, [encode.boolean(true), encode.uint(0), encode.uint(1), encode.null(), performative(0x25, [performative(0x1d, [encode.string('not a symbol')])])]), 'amqp:decode-error', /error\.condition: expected symbol, got string/],
      [performative(0x16, [encode.uint(0), encode.null(), encode.null(), encode.null()]), 'amqp:decode-error', /detach has 4 fields; AMQP 1\.0 defines 3/],
      [Buffer.concat([performative(0x18, []), Buffer.from([1, 2, 3])]), 'amqp:decode-error', /3 bytes follow the close performative/],
      [Buffer.from([0x00, 0xa1, 0x01, 0x78, 0x45]), 'amqp:decode-error', /a descriptor must be a ulong or a symbol/],
    ];
    for (const [body, condition, description] of cases) {
      const result = check(frame(0, body));
      expect(result, description.source).toMatchObject({ condition, description: expect.stringMatching(description) });
    }
  });

  test('a transfer with a delivery state and a payload passes (rhea cannot encode one; Qpid JMS can)', () => {
    const state = performative(0x27, [encode.boolean(true), encode.boolean(false), Buffer.from([0xc1, 0x01, 0x00])]);
    const body = performative(0x14, [encode.uint(0), encode.uint(1), encode.binary(Buffer.from('t')), encode.uint(0), encode.boolean(false), encode.boolean(false), encode.null(), state]);
    expect(check(frame(0, Buffer.concat([body, Buffer.from('payload')])))).toBe(0x14);
  });

  test("an attach's settle modes, termini and properties only need to be well-formed here: the link is refused for them (attach-request.ts)", () => {
    const odd = performative(0x12, [encode.string('l'), encode.uint(0), encode.boolean(true), encode.ubyte(3), encode.string('x'), performative(0x29, []), encode.symbol('t')]);
    expect(check(frame(0, odd))).toBe(0x12);
    const huge = performative(0x12, [encode.string('l'), encode.uint(0), encode.boolean(true), encode.null(), encode.null(), Buffer.from([0xf0, 0, 0, 0, 5, 0x7f, 0xff, 0xff, 0xff, 0x40])]);
    expect(check(frame(0, huge))).toMatchObject({ condition: 'amqp:decode-error', description: expect.stringMatching(/attach\.source: compound .* declares 2147483647 elements/) });
  });

  test('symbolic descriptors are performatives too (AMQP 1.0 1.5)', () => {
    const body = Buffer.concat([Buffer.from([0x00]), encode.symbol('amqp:close:list'), Buffer.from([0x45])]);
    expect(check(frame(0, body))).toBe(0x18);
  });

  test('frame header faults are framing errors', () => {
    const frame = frameOf(0, rheaFrames.close({}));
    const lowOffset = Buffer.from(frame);
    lowOffset[4] = 1;
    expect(check(lowOffset)).toMatchObject({ condition: 'amqp:connection:framing-error', description: expect.stringMatching(/data offset 1 is below 2/) });
    const highOffset = Buffer.from(frame);
    highOffset[4] = 200;
    expect(check(highOffset)).toMatchObject({ condition: 'amqp:connection:framing-error' });
    const wrongType = Buffer.from(frame);
    wrongType[5] = 7;
    expect(check(wrongType)).toMatchObject({ condition: 'amqp:connection:framing-error', description: expect.stringMatching(/frame type 7/) });
  });
});
