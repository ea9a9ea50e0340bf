import { describe, expect, test } from 'vitest';
import { AccessRights } from '../../src/security/access-rights';
import { isLoopbackAddress } from '../../src/security/loopback';

const role = (fields: Partial<{ send: string[]; consume: string[]; browse: string[]; manage: boolean }>) => ({
  send: [],
  consume: [],
  browse: [],
  manage: false,
  ...fields,
});

describe('roles: permissions on address patterns', () => {
  test('patterns use the `*` rule of queue options: any run of characters, dots included, the rest literal', () => {
    const rights = AccessRights.of([role({ send: ['orders.*', 'audit'], consume: ['*.in'] })]);
    expect(rights.allows('send', 'orders.eu')).toBe(true);
    expect(rights.allows('send', 'orders.eu.north')).toBe(true);
    expect(rights.allows('send', 'orders.')).toBe(true);
    expect(rights.allows('send', 'orders')).toBe(false);
    expect(rights.allows('send', 'ordersXeu')).toBe(false);
    expect(rights.allows('send', 'audit')).toBe(true);
    expect(rights.allows('send', 'audit.x')).toBe(false);
    expect(rights.allows('send', 'x.orders.eu')).toBe(false);
    expect(rights.allows('consume', 'a.b.in')).toBe(true);
    expect(rights.allows('consume', 'a.in.x')).toBe(false);
    expect(rights.allows('send', 'orders.a\nb')).toBe(true);
  });

  test('each permission is separate; a role grants only what it lists', () => {
    const rights = AccessRights.of([role({ send: ['orders.*'] })]);
    expect(rights.allows('consume', 'orders.eu')).toBe(false);
    expect(rights.allows('browse', 'orders.eu')).toBe(false);
    expect(rights.manage).toBe(false);
  });

  test('a user with several roles gets their union', () => {
    const rights = AccessRights.of([role({ send: ['a.*'] }), role({ send: ['b'], browse: ['c'], manage: true })]);
    expect(rights.allows('send', 'a.x')).toBe(true);
    expect(rights.allows('send', 'b')).toBe(true);
    expect(rights.allows('browse', 'c')).toBe(true);
    expect(rights.manage).toBe(true);
  });

  test('regular-expression characters in patterns are literal', () => {
    const rights = AccessRights.of([role({ consume: ['q(1)+[x]?$'] })]);
    expect(rights.allows('consume', 'q(1)+[x]?$')).toBe(true);
    expect(rights.allows('consume', 'q1x')).toBe(false);
  });

  test('creating a queue on first use needs send or consume on its name (browse is not enough)', () => {
    const rights = AccessRights.of([role({ send: ['s'], consume: ['c'], browse: ['b'] })]);
    expect(rights.mayCreateQueue('s')).toBe(true);
    expect(rights.mayCreateQueue('c')).toBe(true);
    expect(rights.mayCreateQueue('b')).toBe(false);
  });

  test('no roles: nothing; ALL (loopback without users): everything', () => {
    const none = AccessRights.of([]);
    expect(none.allows('send', 'x')).toBe(false);
    expect(none.manage).toBe(false);
    expect(AccessRights.ALL.allows('browse', 'anything')).toBe(true);
    expect(AccessRights.ALL.manage).toBe(true);
  });
});

describe('loopback addresses', () => {
  test.each([
    ['127.0.0.1', true],
    ['127.255.0.9', true],
    ['::1', true],
    ['::ffff:127.0.0.1', true],
    ['0:0:0:0:0:0:0:1', true],
    ['192.0.2.2', false],
    ['::ffff:192.0.2.2', false],
    ['128.0.0.1', false],
    ['fd00::1', false],
    ['::2', false],
    ['not an address', false],
  ])('%s -> %s', (address, loopback) => {
    expect(isLoopbackAddress(address)).toBe(loopback);
  });

  test('an unknown address (a closed socket) is not loopback', () => {
    expect(isLoopbackAddress(undefined)).toBe(false);
  });
});
