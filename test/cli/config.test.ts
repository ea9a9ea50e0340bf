import { describe, expect, test } from 'vitest';
import { resolveBrokerOptions } from '../../src/config/options';

describe('config validation', () => {
  test('bounded integers name the field and the bounds', () => {
    expect(() => resolveBrokerOptions({ maxFrameBytes: 100 })).toThrow(/maxFrameBytes: expected an integer from 512 to 4294967295/);
    expect(() => resolveBrokerOptions({ channelMax: 70000 })).toThrow(/channelMax: expected an integer from 1 to 65535/);
    expect(() => resolveBrokerOptions({ segmentBytes: 1024 })).toThrow(/segmentBytes: expected an integer from 65536/);
    expect(() => resolveBrokerOptions({ port: -1 })).toThrow(/port: expected an integer from 0 to 65535/);
    expect(() => resolveBrokerOptions({ fsyncPolicy: 'sometimes' as never })).toThrow(/fsyncPolicy: expected one of batch, per-message, interval, none/);
  });

  test('valid options pass and are frozen', () => {
    const options = resolveBrokerOptions({ maxFrameBytes: 512, channelMax: 65535, queues: { 'a.*': { maxGroups: 5 } } });
    expect(options.maxFrameBytes).toBe(512);
    expect(Object.isFrozen(options)).toBe(true);
  });
});
