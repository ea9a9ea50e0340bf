import { describe, expect, test } from 'vitest';
import { AddressError, parseSourceAddress, parseTargetAddress } from '../../src/amqp/address';

describe('addresses', () => {
  test('queue and options are split at ?', () => {
    expect(parseSourceAddress('orders?consumer.exclusive=true&consumer.priority=-2')).toEqual({
      queue: 'orders',
      options: { exclusive: true, priority: -2 },
    });
    expect(parseSourceAddress('orders?exclusive=false&consumer-priority=7').options).toEqual({ exclusive: false, priority: 7 });
  });

  test('unknown options and bad values are errors naming them', () => {
    expect(() => parseSourceAddress('q?colour=red')).toThrow(/unknown address option "colour"/);
    expect(() => parseSourceAddress('q?consumer.priority=high')).toThrow(/consumer.priority must be an integer/);
    expect(() => parseSourceAddress('?exclusive=true')).toThrow(AddressError);
    // Found by the wire fuzzer: decodeURIComponent's URIError refused the link as an internal error.
    expect(() => parseSourceAddress('q?exclusive=tr%e')).toThrow(AddressError);
    expect(() => parseSourceAddress('q?%zz=true')).toThrow(/malformed percent-encoding "%zz"/);
  });

  test('names longer than 65535 bytes are refused (the journal stores them with a 16-bit length)', () => {
    expect(() => parseSourceAddress('q'.repeat(70_000))).toThrow(/longer than 65535 bytes/);
    expect(() => parseTargetAddress('é'.repeat(40_000))).toThrow(/longer than 65535 bytes/);
  });

  test('$convoy/ targets are reserved and target addresses take no options', () => {
    expect(() => parseTargetAddress('$convoy/queues')).toThrow(/reserved/);
    expect(() => parseTargetAddress('q?x=1')).toThrow(/takes no options/);
  });
});
