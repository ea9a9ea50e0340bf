import { describe, expect, test } from 'vitest';
import { LoginThrottle } from '../../src/security/login-throttle';

const throttle = (failedLoginDelayMs = 1000, maxFailedLoginDelayMs = 8000, maxTrackedAddresses = 100) =>
  new LoginThrottle({ failedLoginDelayMs, maxFailedLoginDelayMs, maxTrackedAddresses });

describe('login throttle: repeated failures from one address are slowed down', () => {
  test('an address that never failed is checked at once', () => {
    expect(throttle().admit('10.0.0.1', 0)).toEqual({ check: true, waitMs: 0 });
  });

  test('after each failure the next attempt waits; the delay doubles up to the maximum', () => {
    const t = throttle();
    const waits: number[] = [];
    let now = 0;
    for (let i = 0; i < 6; i++) {
      const admission = t.admit('10.0.0.1', now);
      expect(admission.check).toBe(true);
      const waitMs = admission.check ? admission.waitMs : -1;
      waits.push(waitMs);
      now += waitMs;
      t.failed('10.0.0.1', now);
    }
    expect(waits).toEqual([0, 1000, 2000, 4000, 8000, 8000]);
  });

  test('attempts from one address on many connections are answered one per delay, not all at once', () => {
    const t = throttle();
    t.failed('10.0.0.1', 0);
    const waits = [0, 1, 2, 3].map(() => t.admit('10.0.0.1', 0)).map((a) => (a.check ? a.waitMs : -1));
    expect(waits).toEqual([1000, 2000, 3000, 4000]);
  });

  test('an attempt that would wait longer than the maximum is refused unchecked', () => {
    const t = throttle(1000, 3000);
    t.failed('10.0.0.1', 0);
    expect(t.admit('10.0.0.1', 0)).toEqual({ check: true, waitMs: 1000 });
    expect(t.admit('10.0.0.1', 0)).toEqual({ check: true, waitMs: 2000 });
    expect(t.admit('10.0.0.1', 0)).toEqual({ check: true, waitMs: 3000 });
    expect(t.admit('10.0.0.1', 0)).toEqual({ check: false });
  });

  test('other addresses are not slowed down', () => {
    const t = throttle();
    t.failed('10.0.0.1', 0);
    expect(t.admit('10.0.0.2', 0)).toEqual({ check: true, waitMs: 0 });
  });

  test('a successful login forgets the address', () => {
    const t = throttle();
    t.failed('10.0.0.1', 0);
    t.succeeded('10.0.0.1');
    expect(t.admit('10.0.0.1', 0)).toEqual({ check: true, waitMs: 0 });
  });

  test('an address is forgotten after maxFailedLoginDelayMs without failures', () => {
    const failedTwice = (): LoginThrottle => {
      const t = throttle(1000, 8000);
      t.failed('10.0.0.1', 0);
      t.failed('10.0.0.1', 1000);
      return t;
    };
    const remembered = failedTwice();
    remembered.admit('10.0.0.1', 8999);
    expect(remembered.failuresOf('10.0.0.1')).toBe(2);
    const forgotten = failedTwice();
    expect(forgotten.admit('10.0.0.1', 9000)).toEqual({ check: true, waitMs: 0 });
    expect(forgotten.failuresOf('10.0.0.1')).toBe(0);
  });

  test('failedLoginDelayMs 0 turns the throttle off', () => {
    const t = throttle(0, 0);
    for (let i = 0; i < 10; i++) t.failed('10.0.0.1', 0);
    expect(t.admit('10.0.0.1', 0)).toEqual({ check: true, waitMs: 0 });
  });

  test('memory is bounded: the address that failed longest ago is forgotten first', () => {
    const t = throttle(1000, 8000, 2);
    t.failed('a', 0);
    t.failed('b', 1);
    t.failed('a', 2);
    t.failed('c', 3);
    expect(t.failuresOf('b')).toBe(0);
    expect(t.failuresOf('a')).toBe(2);
    expect(t.failuresOf('c')).toBe(1);
  });
});
