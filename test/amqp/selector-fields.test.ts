import fc from 'fast-check';
import { message as rheaMessage, types } from 'rhea';
import { describe, expect, test } from 'vitest';
import { messageSelectorFields } from '../../src/amqp/selector-fields';
import { compileSelector } from '../../src/selector/compile';
import { NON_JMS_VALUE, type SelectorValue } from '../../src/selector/values';

/** The selector module's view of a value: any symbol is a value of no JMS type (src/selector/values.ts). */
const asSelectorSees = (value: unknown): unknown => (typeof value === 'symbol' ? NON_JMS_VALUE : value);

/** AMQP 1.0 encodings written out by hand, for the forms rhea does not produce. */
const bytes = (...parts: (number | Buffer)[]): Buffer => Buffer.concat(parts.map((part) => (typeof part === 'number' ? Buffer.from([part]) : part)));
const section = (code: number, value: Buffer): Buffer => bytes(0x00, 0x53, code, value);
const list8 = (...fields: Buffer[]): Buffer => {
  const body = Buffer.concat(fields);
  return bytes(0xc0, body.length + 1, fields.length, body);
};
const map8 = (...entries: [Buffer, Buffer][]): Buffer => {
  const body = Buffer.concat(entries.flat());
  return bytes(0xc1, body.length + 1, entries.length * 2, body);
};
const str8 = (text: string): Buffer => bytes(0xa1, Buffer.byteLength(text), Buffer.from(text));
const sym8 = (text: string): Buffer => bytes(0xa3, text.length, Buffer.from(text, 'ascii'));
const NULL = bytes(0x40);
const fixed = (code: number, write: (buffer: Buffer) => void, size: number): Buffer => {
  const value = Buffer.alloc(size);
  write(value);
  return bytes(code, value);
};
const applicationProperties = (...entries: [string, Buffer][]): Buffer =>
  section(0x74, map8(...entries.map(([key, value]): [Buffer, Buffer] => [str8(key), value])));
const body = section(0x77, str8('body'));

describe('JMS headers and JMSX properties, from a message rhea encodes', () => {
  const encoded = rheaMessage.encode({
    durable: true,
    priority: 7,
    ttl: 60_000,
    delivery_count: 2,
    message_id: 'ID:4d5e6f:1:1:1-1',
    user_id: Buffer.from('bob'),
    subject: 'order',
    correlation_id: 'request-17',
    creation_time: new Date(1_700_000_000_000),
    absolute_expiry_time: new Date(1_700_000_060_000),
    group_id: 'ACME',
    group_sequence: 3,
    application_properties: { color: 'red', price: 150 },
    body: 'hello',
  } as never);
  const fields = messageSelectorFields(encoded);

  test.each<[string, SelectorValue | undefined]>([
    ['JMSDeliveryMode', 'PERSISTENT'],
    ['JMSPriority', 7n],
    ['JMSXDeliveryCount', 3n],
    ['JMSMessageID', 'ID:4d5e6f:1:1:1-1'],
    ['JMSXUserID', 'bob'],
    ['JMSType', 'order'],
    ['JMSCorrelationID', 'request-17'],
    ['JMSTimestamp', 1_700_000_000_000n],
    ['JMSExpiration', 1_700_000_060_000n],
    ['JMSXGroupID', 'ACME'],
    ['JMSXGroupSeq', 3n],
    ['color', 'red'],
    ['price', 150n],
    ['missing', undefined],
  ])('%s', (identifier, expected) => {
    expect(fields.get(identifier)).toEqual(expected);
  });

  test('selectors over them', () => {
    for (const [selector, expected] of [
      ["JMSDeliveryMode = 'PERSISTENT' AND JMSPriority > 4", true],
      ["JMSType = 'order' AND JMSXGroupID = 'ACME' AND JMSXGroupSeq = 3", true],
      ['JMSXDeliveryCount > 1 AND JMSTimestamp BETWEEN 1700000000000 AND 1700000000001', true],
      ["color = 'red' AND price > 100", true],
      ["JMSMessageID LIKE 'ID:4d5e6f:%' AND JMSCorrelationID = 'request-17'", true],
      ["JMSXUserID = 'alice'", false],
      ['missing IS NULL AND JMSExpiration > JMSTimestamp', true],
    ] as const) {
      expect({ selector, matches: compileSelector(selector).matches(messageSelectorFields(encoded)) }).toEqual({ selector, matches: expected });
    }
  });
});

describe('headers a message does not carry read as a Qpid JMS application sees them', () => {
  test('no header and no properties section', () => {
    const fields = messageSelectorFields(rheaMessage.encode({ body: 'x' }));
    expect(fields.get('JMSDeliveryMode')).toBe('NON_PERSISTENT');
    expect(fields.get('JMSPriority')).toBe(4n);
    expect(fields.get('JMSXDeliveryCount')).toBe(1n);
    expect(fields.get('JMSTimestamp')).toBe(0n);
    expect(fields.get('JMSExpiration')).toBe(0n);
    expect(fields.get('JMSXGroupSeq')).toBe(0n);
    for (const nullable of ['JMSMessageID', 'JMSCorrelationID', 'JMSType', 'JMSXUserID']) expect(fields.get(nullable)).toBeNull();
    expect(fields.get('JMSXGroupID') ?? null).toBeNull();
    expect(compileSelector('JMSType IS NULL AND JMSMessageID IS NULL AND JMSXGroupID IS NULL').matches(fields)).toBe(true);
  });

  test('a header that stops early, and null fields', () => {
    const fields = messageSelectorFields(bytes(section(0x70, list8(bytes(0x41))), section(0x73, list8(NULL, NULL, NULL, NULL)), body));
    expect(fields.get('JMSDeliveryMode')).toBe('PERSISTENT');
    expect(fields.get('JMSPriority')).toBe(4n);
    expect(fields.get('JMSXDeliveryCount')).toBe(1n);
    expect(fields.get('JMSMessageID')).toBeNull();
    expect(fields.get('JMSType')).toBeNull();
  });

  test('priorities above 9 read as 9, as in Qpid JMS and Artemis', () => {
    expect(messageSelectorFields(rheaMessage.encode({ priority: 200 })).get('JMSPriority')).toBe(9n);
    expect(messageSelectorFields(rheaMessage.encode({ priority: 0 })).get('JMSPriority')).toBe(0n);
  });

  test('an empty user-id reads as NULL', () => {
    expect(messageSelectorFields(rheaMessage.encode({ user_id: Buffer.alloc(0) } as never)).get('JMSXUserID')).toBeNull();
  });
});

describe('JMSMessageID and JMSCorrelationID as Qpid JMS renders them (AmqpMessageIdHelper)', () => {
  const properties = (messageId: Buffer, correlationId: Buffer): Buffer => bytes(section(0x73, list8(messageId, NULL, NULL, NULL, NULL, correlationId)), body);

  test.each<[string, Buffer, string, string]>([
    ['a string with ID:', str8('ID:abc'), 'ID:abc', 'ID:abc'],
    ['a string without ID:', str8('abc'), 'ID:AMQP_NO_PREFIX:abc', 'abc'],
    ['a string that looks encoded', str8('ID:AMQP_UUID:x'), 'ID:AMQP_STRING:ID:AMQP_UUID:x', 'ID:AMQP_STRING:ID:AMQP_UUID:x'],
    ['a string that looks unprefixed', str8('ID:AMQP_NO_PREFIX:y'), 'ID:AMQP_STRING:ID:AMQP_NO_PREFIX:y', 'ID:AMQP_STRING:ID:AMQP_NO_PREFIX:y'],
    ['a str32 string', bytes(0xb1, fixed(0x00, (b) => b.writeUInt32BE(3), 4).subarray(1), Buffer.from('abc')), 'ID:AMQP_NO_PREFIX:abc', 'abc'],
    ['ulong0', bytes(0x44), 'ID:AMQP_ULONG:0', 'ID:AMQP_ULONG:0'],
    ['smallulong', bytes(0x53, 42), 'ID:AMQP_ULONG:42', 'ID:AMQP_ULONG:42'],
    ['ulong beyond 2^63', fixed(0x80, (b) => b.writeBigUInt64BE(2n ** 64n - 1n), 8), 'ID:AMQP_ULONG:18446744073709551615', 'ID:AMQP_ULONG:18446744073709551615'],
    [
      'uuid',
      bytes(0x98, Buffer.from('00112233445566778899AABBCCDDEEFF', 'hex')),
      'ID:AMQP_UUID:00112233-4455-6677-8899-aabbccddeeff',
      'ID:AMQP_UUID:00112233-4455-6677-8899-aabbccddeeff',
    ],
    ['vbin8', bytes(0xa0, 3, Buffer.from([0x01, 0xab, 0xff])), 'ID:AMQP_BINARY:01ABFF', 'ID:AMQP_BINARY:01ABFF'],
    ['vbin32', bytes(0xb0, Buffer.from([0, 0, 0, 2]), Buffer.from([0x0f, 0xf0])), 'ID:AMQP_BINARY:0FF0', 'ID:AMQP_BINARY:0FF0'],
    ['a type ids cannot have (int)', bytes(0x71, Buffer.from([0, 0, 0, 1])), 'null', 'null'],
  ])('%s', (_name, id, messageId, correlationId) => {
    const fields = messageSelectorFields(properties(id, id));
    expect(String(fields.get('JMSMessageID'))).toBe(messageId);
    expect(String(fields.get('JMSCorrelationID'))).toBe(correlationId);
  });

  test('rhea message ids', () => {
    expect(messageSelectorFields(rheaMessage.encode({ message_id: 7 })).get('JMSMessageID')).toBe('ID:AMQP_ULONG:7');
    expect(messageSelectorFields(rheaMessage.encode({ message_id: types.wrap_uuid(Buffer.alloc(16, 0xab)) } as never)).get('JMSMessageID')).toBe(
      'ID:AMQP_UUID:abababab-abab-abab-abab-abababababab',
    );
  });
});

describe('JMSExpiration, JMSXGroupID, JMSXGroupSeq', () => {
  test('absolute-expiry-time wins; else the broker expiry from the ttl; else 0 (never)', () => {
    const absolute = rheaMessage.encode({ ttl: 1000, absolute_expiry_time: new Date(5000) } as never);
    expect(messageSelectorFields(absolute, { expiresAtMs: 9000 }).get('JMSExpiration')).toBe(5000n);
    const ttlOnly = rheaMessage.encode({ ttl: 1000 });
    expect(messageSelectorFields(ttlOnly, { expiresAtMs: 1_700_000_001_000 }).get('JMSExpiration')).toBe(1_700_000_001_000n);
    expect(messageSelectorFields(ttlOnly).get('JMSExpiration')).toBe(0n);
    expect(messageSelectorFields(ttlOnly, { expiresAtMs: null }).get('JMSExpiration')).toBe(0n);
    const zero = rheaMessage.encode({ absolute_expiry_time: new Date(0) } as never);
    expect(messageSelectorFields(zero, { expiresAtMs: 42 }).get('JMSExpiration')).toBe(42n);
  });

  test('group-sequence reads as a Java int: 4294967295 is -1', () => {
    expect(messageSelectorFields(rheaMessage.encode({ group_sequence: 4294967295 })).get('JMSXGroupSeq')).toBe(-1n);
    expect(messageSelectorFields(rheaMessage.encode({ group_sequence: 2147483648 })).get('JMSXGroupSeq')).toBe(-2147483648n);
    expect(messageSelectorFields(rheaMessage.encode({ group_sequence: 0 })).get('JMSXGroupSeq')).toBe(0n);
  });

  test('without properties.group-id / group-sequence, the application properties of those names count', () => {
    const fields = messageSelectorFields(rheaMessage.encode({ application_properties: { JMSXGroupID: 'G', JMSXGroupSeq: types.wrap_int(-1) } } as never));
    expect(fields.get('JMSXGroupID')).toBe('G');
    expect(fields.get('JMSXGroupSeq')).toBe(-1n);
    const both = messageSelectorFields(rheaMessage.encode({ group_id: 'P', group_sequence: 2, application_properties: { JMSXGroupID: 'G', JMSXGroupSeq: 5 } } as never));
    expect(both.get('JMSXGroupID')).toBe('P');
    expect(both.get('JMSXGroupSeq')).toBe(2n);
  });
});

describe('application properties: AMQP types as JMS types', () => {
  test.each<[string, Buffer, SelectorValue]>([
    ['null', NULL, null],
    ['true', bytes(0x41), true],
    ['false', bytes(0x42), false],
    ['boolean', bytes(0x56, 1), true],
    ['str8', str8('héllo'), 'héllo'],
    ['str32', bytes(0xb1, Buffer.from([0, 0, 0, 2]), Buffer.from('ok')), 'ok'],
    ['sym8', sym8('sym'), 'sym'],
    ['sym32', bytes(0xb3, Buffer.from([0, 0, 0, 1]), Buffer.from('s')), 's'],
    ['ubyte', bytes(0x50, 255), 255n],
    ['byte', bytes(0x51, 0x80), -128n],
    ['ushort', fixed(0x60, (b) => b.writeUInt16BE(65535), 2), 65535n],
    ['short', fixed(0x61, (b) => b.writeInt16BE(-32768), 2), -32768n],
    ['uint', fixed(0x70, (b) => b.writeUInt32BE(4294967295), 4), 4294967295n],
    ['smalluint', bytes(0x52, 200), 200n],
    ['uint0', bytes(0x43), 0n],
    ['int', fixed(0x71, (b) => b.writeInt32BE(-2147483648), 4), -2147483648n],
    ['smallint', bytes(0x54, 0xff), -1n],
    ['ulong beyond 2^63, exactly', fixed(0x80, (b) => b.writeBigUInt64BE(2n ** 64n - 1n), 8), 2n ** 64n - 1n],
    ['smallulong', bytes(0x53, 7), 7n],
    ['ulong0', bytes(0x44), 0n],
    ['long beyond 2^53, exactly', fixed(0x81, (b) => b.writeBigInt64BE(2n ** 60n + 1n), 8), 2n ** 60n + 1n],
    ['long minimum', fixed(0x81, (b) => b.writeBigInt64BE(-(2n ** 63n)), 8), -(2n ** 63n)],
    ['smalllong', bytes(0x55, 0xfe), -2n],
    ['float', fixed(0x72, (b) => b.writeFloatBE(1.1), 4), Math.fround(1.1)],
    ['double', fixed(0x82, (b) => b.writeDoubleBE(-2.5), 8), -2.5],
    ['binary', bytes(0xa0, 1, 0x61), NON_JMS_VALUE],
    ['timestamp', fixed(0x83, (b) => b.writeBigInt64BE(1000n), 8), NON_JMS_VALUE],
    ['uuid', bytes(0x98, Buffer.alloc(16)), NON_JMS_VALUE],
    ['char', fixed(0x73, (b) => b.writeUInt32BE(0x41), 4), NON_JMS_VALUE],
    ['decimal64', bytes(0x84, Buffer.alloc(8)), NON_JMS_VALUE],
    ['list', list8(bytes(0x41)), NON_JMS_VALUE],
    ['map', map8([str8('k'), str8('v')]), NON_JMS_VALUE],
    ['array', bytes(0xe0, 4, 2, 0x51, 1, 2), NON_JMS_VALUE],
    ['described', bytes(0x00, 0x53, 0x01, str8('x')), NON_JMS_VALUE],
  ])('%s', (_name, encoded, expected) => {
    const fields = messageSelectorFields(bytes(applicationProperties(['before', str8('b')], ['p', encoded], ['after', bytes(0x54, 5)]), body));
    expect(asSelectorSees(fields.get('p'))).toEqual(expected);
    // The value was skipped exactly: the property after it reads right.
    expect(fields.get('after')).toBe(5n);
    expect(fields.get('before')).toBe('b');
  });

  test('a float compares as Java compares a float with a double', () => {
    const fields = messageSelectorFields(bytes(applicationProperties(['f', fixed(0x72, (b) => b.writeFloatBE(1.1), 4)]), body));
    expect(compileSelector('f = 1.1F').matches(fields)).toBe(true);
    expect(compileSelector('f = 1.1').matches(fields)).toBe(false);
  });

  test('the last of duplicate keys wins; keys that are not strings are skipped', () => {
    const map = map8([str8('k'), bytes(0x54, 1)], [bytes(0x54, 9), str8('number key')], [sym8('k'), bytes(0x54, 2)]);
    const fields = messageSelectorFields(bytes(section(0x74, map), body));
    expect(fields.get('k')).toBe(2n);
    expect(fields.get('9')).toBeUndefined();
  });

  test('every value rhea encodes reads as its JMS type (random messages)', () => {
    const property = fc.oneof(
      fc.string().map((value) => [value, value] as const),
      fc.boolean().map((value) => [value, value] as const),
      fc.integer({ min: -2_147_483_648, max: 2_147_483_647 }).map((value) => [types.wrap_int(value), BigInt(value)] as const),
      fc.integer({ min: -128, max: 127 }).map((value) => [types.wrap_byte(value), BigInt(value)] as const),
      fc.integer({ min: -32768, max: 32767 }).map((value) => [types.wrap_short(value), BigInt(value)] as const),
      fc.integer({ min: 0, max: 255 }).map((value) => [types.wrap_ubyte(value), BigInt(value)] as const),
      fc.integer({ min: 0, max: 4294967295 }).map((value) => [types.wrap_uint(value), BigInt(value)] as const),
      fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((value) => {
        const encoded = Buffer.alloc(8);
        encoded.writeBigInt64BE(value);
        return [types.wrap_long(encoded), value] as const;
      }),
      fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map((value) => {
        const encoded = Buffer.alloc(8);
        encoded.writeBigUInt64BE(value);
        return [types.wrap_ulong(encoded), value] as const;
      }),
      fc.double().map((value) => [types.wrap_double(value), value] as const),
      fc.float().map((value) => [types.wrap_float(value), value] as const),
      fc.string().map((value) => [types.wrap_symbol(value.replace(/[^\x20-\x7e]/g, '')), value.replace(/[^\x20-\x7e]/g, '')] as const),
      fc.uint8Array({ maxLength: 4 }).map((value) => [types.wrap_binary(Buffer.from(value)), NON_JMS_VALUE] as const),
      fc.constant([null, null] as const),
    );
    fc.assert(
      fc.property(fc.dictionary(fc.string({ minLength: 1 }), property), fc.boolean(), (properties, durable) => {
        const encoded = rheaMessage.encode({
          durable,
          application_properties: Object.fromEntries(Object.entries(properties).map(([key, [value]]) => [key, value])),
          body: 'x',
        } as never);
        const fields = messageSelectorFields(encoded);
        for (const [key, [, expected]] of Object.entries(properties)) {
          const actual = asSelectorSees(fields.get(key));
          if (typeof expected === 'number' && Number.isNaN(expected)) expect(Number.isNaN(actual)).toBe(true);
          else expect(actual).toEqual(expected);
        }
        expect(fields.get('JMSDeliveryMode')).toBe(durable ? 'PERSISTENT' : 'NON_PERSISTENT');
      }),
      { numRuns: 200 },
    );
  });
});

describe('sections', () => {
  test('descriptors by symbolic name and as a full ulong are understood too (AMQP 1.0 3.2)', () => {
    const symbolic = (name: string, value: Buffer): Buffer => bytes(0x00, sym8(name), value);
    const ulongDescriptor = (code: number, value: Buffer): Buffer => bytes(0x00, fixed(0x80, (b) => b.writeBigUInt64BE(BigInt(code)), 8), value);
    const message = bytes(
      symbolic('amqp:header:list', list8(bytes(0x41), bytes(0x50, 8))),
      symbolic('amqp:delivery-annotations:map', map8([sym8('x-opt-d'), str8('d')])),
      ulongDescriptor(0x72, map8([sym8('x-opt-jms-msg-type'), bytes(0x51, 5)])),
      symbolic('amqp:properties:list', list8(str8('ID:m'), NULL, NULL, str8('type'))),
      ulongDescriptor(0x74, map8([str8('k'), str8('v')])),
      symbolic('amqp:value:*', str8('body')),
    );
    const fields = messageSelectorFields(message);
    expect([fields.get('JMSPriority'), fields.get('JMSDeliveryMode'), fields.get('JMSMessageID'), fields.get('JMSType'), fields.get('k')]).toEqual([
      8n,
      'PERSISTENT',
      'ID:m',
      'type',
      'v',
    ]);
  });

  test('the body is never read: bytes no decoder accepts after the body descriptor change nothing', () => {
    const message = bytes(applicationProperties(['k', str8('v')]), bytes(0x00, 0x53, 0x75), Buffer.from([0xff, 0xff, 0xff]));
    expect(messageSelectorFields(message).get('k')).toBe('v');
  });

  test('each section is read once, on first use, and each value decoded once: later reads do not decode again', () => {
    const message = Buffer.from(bytes(section(0x70, list8(bytes(0x41), bytes(0x50, 6))), applicationProperties(['color', str8('red')], ['size', bytes(0x54, 3)]), body));
    const fields = messageSelectorFields(message);
    expect(fields.get('color')).toBe('red');
    message.write('xxx', message.indexOf('red'));
    message[message.indexOf(Buffer.from([0x50, 6])) + 1] = 1;
    // color was decoded on the first read, the header not yet.
    expect(fields.get('color')).toBe('red');
    expect(fields.get('size')).toBe(3n);
    expect(fields.get('JMSPriority')).toBe(1n);
    message[message.indexOf(Buffer.from([0x50, 1])) + 1] = 2;
    expect(fields.get('JMSPriority')).toBe(1n);
    expect(messageSelectorFields(message).get('color')).toBe('xxx');
  });

  test('a section or value that cannot be decoded counts as absent, and the others still read', () => {
    const headerAsMap = bytes(section(0x70, map8([str8('durable'), bytes(0x41)])), applicationProperties(['k', str8('v')]), body);
    const fields = messageSelectorFields(headerAsMap);
    expect(fields.get('JMSDeliveryMode')).toBe('NON_PERSISTENT');
    expect(fields.get('JMSPriority')).toBe(4n);
    expect(fields.get('k')).toBe('v');

    const propertiesAsString = bytes(section(0x73, str8('oops')), applicationProperties(['k', str8('v')]), body);
    expect(messageSelectorFields(propertiesAsString).get('JMSMessageID')).toBeNull();
    expect(messageSelectorFields(propertiesAsString).get('k')).toBe('v');

    const truncated = bytes(section(0x70, list8(bytes(0x41))), applicationProperties(['k', str8('v')])).subarray(0, -2);
    expect(messageSelectorFields(truncated).get('k')).toBeUndefined();
    expect(messageSelectorFields(truncated).get('JMSDeliveryMode')).toBe('PERSISTENT');

    // An array whose element type no decoder knows: its size lets it be skipped, not decoded.
    const badArray = bytes(0xe0, 3, 1, 0xff, 0x00);
    const badSubject = messageSelectorFields(bytes(section(0x73, list8(str8('ID:m'), NULL, NULL, badArray, NULL, str8('c'))), body));
    expect([badSubject.get('JMSType'), badSubject.get('JMSMessageID'), badSubject.get('JMSCorrelationID')]).toEqual([null, 'ID:m', 'c']);

    expect(messageSelectorFields(Buffer.alloc(0)).get('JMSPriority')).toBe(4n);
    expect(messageSelectorFields(Buffer.from([0x01, 0x02])).get('k')).toBeUndefined();
  });
});
