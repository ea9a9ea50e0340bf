import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { message as rheaMessage, types } from 'rhea';
import { InvalidAnnotationError, MalformedMessageError, readMessageInfo, type MessageInfo } from '../../src/amqp/message-sections';

/** What readMessageInfo must return: the same fields read from rhea's full decode of the message. */
function referenceInfo(bytes: Buffer, groupKey: string | null): MessageInfo {
  const decoded = rheaMessage.decode(bytes) as unknown as Record<string, unknown>;
  const applicationProperties = (decoded.application_properties ?? {}) as Record<string, unknown>;
  const groupValue = groupKey === null ? decoded.group_id : applicationProperties[groupKey];
  const expiry = decoded.absolute_expiry_time;
  const annotations = (decoded.message_annotations ?? {}) as Record<string, unknown>;
  const destination = annotations['x-opt-jms-dest'];
  const milliseconds = (value: unknown): number | null => (value instanceof Date ? value.getTime() : typeof value === 'number' ? value : null);
  return {
    durable: decoded.durable === true,
    priority: typeof decoded.priority === 'number' ? decoded.priority : null,
    deliveryTimeMs: milliseconds(annotations['x-opt-delivery-time']),
    deliveryDelayMs: milliseconds(annotations['x-opt-delivery-delay']),
    ttlMs: typeof decoded.ttl === 'number' ? decoded.ttl : null,
    absoluteExpiryTimeMs: expiry instanceof Date ? expiry.getTime() : typeof expiry === 'number' ? expiry : null,
    deliveryCount: typeof decoded.delivery_count === 'number' ? decoded.delivery_count : 0,
    to: typeof decoded.to === 'string' ? decoded.to : null,
    groupId: groupValue === undefined || groupValue === null ? null : String(groupValue),
    closesGroup: decoded.group_sequence === 4294967295 || applicationProperties.JMSXGroupSeq === -1,
    jmsDestinationType: typeof destination === 'number' ? destination : null,
  };
}

/** Application property values in the encodings clients use (AMQP 1.0 3.2.5 simple types). */
const propertyValue = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.string(),
  fc.integer({ min: -2_147_483_648, max: 2_147_483_647 }).map((n) => types.wrap_int(n)),
  fc.integer({ min: -128, max: 127 }).map((n) => types.wrap_byte(n)),
  fc.integer({ min: 0, max: 65535 }).map((n) => types.wrap_ushort(n)),
  fc.integer({ min: 0, max: 4294967295 }).map((n) => types.wrap_uint(n)),
  fc.integer().map((n) => types.wrap_long(n)),
  fc.uint8Array({ minLength: 8, maxLength: 8 }).map((b) => types.wrap_long(Buffer.from(b))),
  fc.uint8Array({ minLength: 8, maxLength: 8 }).map((b) => types.wrap_timestamp(Buffer.from(b) as never)),
  fc.double({ noNaN: true }).map((n) => types.wrap_double(n)),
  fc.string().map((s) => types.wrap_symbol(s.replace(/[^\x20-\x7e]/g, ''))),
  fc.uint8Array({ maxLength: 8 }).map((b) => Buffer.from(b)),
  fc.constant(-1).map((n) => types.wrap_int(n)),
  fc.constant('JMSXGroupSeq'),
);

const messageArbitrary = fc.record(
  {
    durable: fc.boolean(),
    priority: fc.integer({ min: 0, max: 9 }),
    ttl: fc.integer({ min: 0, max: 4294967295 }),
    delivery_count: fc.integer({ min: 0, max: 4294967295 }),
    to: fc.string(),
    group_id: fc.string({ maxLength: 300 }),
    group_sequence: fc.oneof(fc.constant(4294967295), fc.integer({ min: 0, max: 4294967295 })),
    absolute_expiry_time: fc.oneof(fc.date({ noInvalidDate: true, min: new Date(0), max: new Date(8_000_000_000_000) }), fc.integer({ min: 0, max: 2 ** 40 })),
    message_id: fc.string(),
    application_properties: fc.dictionary(fc.oneof(fc.constantFrom('JMSXGroupID', 'JMSXGroupSeq', '_AMQ_GROUP_ID'), fc.string()), propertyValue),
    message_annotations: fc.record(
      {
        'x-opt-jms-msg-type': propertyValue,
        'x-opt-jms-dest': propertyValue,
        'x-opt-ts': propertyValue,
        'x-opt-other': propertyValue,
        'x-opt-delivery-time': fc.oneof(
          fc.integer({ min: 0, max: 2 ** 45 }).map((n) => types.wrap_long(n)),
          fc.date({ noInvalidDate: true, min: new Date(0), max: new Date(8_000_000_000_000) }).map((d) => types.wrap_timestamp(d.getTime())),
        ),
        'x-opt-delivery-delay': fc.oneof(fc.integer({ min: -1000, max: 2 ** 31 - 1 }).map((n) => types.wrap_int(n)), fc.integer().map((n) => types.wrap_long(n))),
      },
      { requiredKeys: [] },
    ),
    delivery_annotations: fc.dictionary(fc.string(), propertyValue),
    body: fc.oneof(fc.string(), fc.uint8Array().map((b) => types.wrap_binary(Buffer.from(b)))),
  },
  { requiredKeys: [] },
);

describe('readMessageInfo', () => {
  test('reads the same fields as a full rhea decode, for any message and group key', () => {
    fc.assert(
      fc.property(messageArbitrary, fc.constantFrom(null, 'JMSXGroupID', '_AMQ_GROUP_ID'), (fields, groupKey) => {
        const bytes = rheaMessage.encode(fields as never);
        expect(readMessageInfo(bytes, groupKey)).toEqual(referenceInfo(bytes, groupKey));
      }),
      { numRuns: 2000 },
    );
  });

  test('to and group-id encoded as symbols, long header fields and symbolic section descriptors', () => {
    const properties = types.described(
      types.wrap_symbol('amqp:properties:list'),
      types.wrap_list([null, null, types.wrap_symbol('orders'), null, null, null, null, null, null, null, types.wrap_symbol('g1'), types.wrap_uint(4294967295)]),
    );
    const header = types.described(types.wrap_ulong(0x70), types.wrap_list([true, null, types.wrap_ulong(5000), null, types.wrap_ulong(3)]));
    const writer = new types.Writer();
    writer.write(header);
    writer.write(properties);
    writer.write(types.described(types.wrap_ulong(0x75), types.wrap_binary(Buffer.from('body'))));
    const bytes = writer.toBuffer();
    expect(readMessageInfo(bytes, null)).toEqual(referenceInfo(bytes, null));
    expect(readMessageInfo(bytes, null)).toMatchObject({ to: 'orders', groupId: 'g1', closesGroup: true, ttlMs: 5000, deliveryCount: 3 });
  });

  test('a truncated section or an invalid format code is a MalformedMessageError', () => {
    const bytes = rheaMessage.encode({ durable: true, to: 'q', application_properties: { a: 1 }, body: 'x' } as never);
    const propertiesStart = bytes.indexOf(Buffer.from([0x00, 0x53, 0x73]));
    const bodyStart = bytes.indexOf(Buffer.from([0x00, 0x53, 0x77]));
    // Cuts inside a section; a cut between two sections leaves a shorter, valid message.
    for (let cut = propertiesStart + 1; cut < bodyStart; cut++) {
      if (cut === bytes.indexOf(Buffer.from([0x00, 0x53, 0x74]))) continue;
      expect(() => readMessageInfo(bytes.subarray(0, cut), null)).toThrow(MalformedMessageError);
    }
    const annotated = rheaMessage.encode({ message_annotations: { 'x-opt-a': 'v' }, body: 'x' } as never);
    const valueAt = annotated.indexOf(Buffer.from('v')) - 2; // the str8 format code of the annotation value
    const corrupt = Buffer.from(annotated);
    corrupt[valueAt] = 0x3f;
    expect(() => readMessageInfo(corrupt, null)).toThrow(MalformedMessageError);
  });

  test('a delivery time or delay that is not a whole number of milliseconds or a timestamp is refused', () => {
    for (const value of ['soon', types.wrap_double(1.5), true]) {
      const bytes = rheaMessage.encode({ message_annotations: { 'x-opt-delivery-delay': value }, body: 'x' } as never);
      expect(() => readMessageInfo(bytes, null)).toThrow(InvalidAnnotationError);
    }
    const bytes = rheaMessage.encode({ message_annotations: { 'x-opt-delivery-time': types.wrap_long(1700000000123) }, body: 'x' } as never);
    expect(readMessageInfo(bytes, null)).toMatchObject({ deliveryTimeMs: 1700000000123, deliveryDelayMs: null });
  });
});
