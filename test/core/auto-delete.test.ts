import { describe, expect, test } from 'vitest';
import { DEFAULT_QUEUE_OPTIONS } from '../../src/config/queue-policies';
import type { Effect, QueueOptions } from '../../src/core/types';
import { Lockstep } from '../model/lockstep';

/**
 * The queue option autoDelete (README "Queue lifetime", src/core/auto-delete.ts), run through the core
 * and the reference model in lockstep (test/model/), invariants after every step.
 */
function run(options: Partial<QueueOptions>, steps: string[]): Effect[] {
  const lockstep = new Lockstep({ ...DEFAULT_QUEUE_OPTIONS, ...options });
  const effects: Effect[] = [];
  for (const step of steps) effects.push(...lockstep.run(step));
  return effects;
}

const deleted = (effects: Effect[]): string[] => effects.filter((e) => e.type === 'queue-deleted').map((e) => (e as { queue: string }).queue);

describe('autoDelete', () => {
  const used = ['send A0', 'attach c1', 'credit c1 1', 'settle c1 A0 accepted', 'detach c1'];

  test('a queue without consumers and messages is deleted once ticks have seen it so for autoDeleteDelayMs', () => {
    expect(deleted(run({ autoDelete: true, autoDeleteDelayMs: 500 }, [...used, 'tick 100', 'tick 400']))).toEqual([]);
    expect(deleted(run({ autoDelete: true, autoDeleteDelayMs: 500 }, [...used, 'tick 100', 'tick 400', 'tick 100']))).toEqual(['q']);
  });

  test('any use in between starts the wait again: a message, a consumer', () => {
    const effects = run({ autoDelete: true, autoDeleteDelayMs: 500 }, [
      'attach c1',
      'detach c1',
      'tick 100',
      'tick 300',
      'send A0',
      'tick 100',
      'attach c2',
      'credit c2 1',
      'settle c2 A0 accepted',
      'detach c2',
      'tick 100',
      'tick 400',
    ]);
    expect(deleted(effects)).toEqual([]);
  });

  test('never while a message is queued or in flight, or a consumer is attached; with its messages gone it goes', () => {
    const effects = run({ autoDelete: true, autoDeleteDelayMs: 0 }, ['send A0', 'tick 1000', 'attach c1', 'credit c1 1', 'tick 1000', 'detach c1', 'tick 1000', 'attach c2', 'tick 1000']);
    expect(deleted(effects)).toEqual([]);
    expect(deleted(run({ autoDelete: true, autoDeleteDelayMs: 0 }, ['send A0', 'tick 1000', 'attach c1', 'credit c1 1', 'settle c1 A0 accepted', 'detach c1', 'tick 1']))).toEqual(['q']);
  });

  test('off by default', () => {
    expect(deleted(run({}, ['attach c1', 'detach c1', 'tick 100', 'tick 100000']))).toEqual([]);
  });
});
