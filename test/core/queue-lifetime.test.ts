import { describe, expect, test } from 'vitest';
import { DEFAULT_QUEUE_OPTIONS } from '../../src/config/queue-policies';
import type { Effect, QueueOptions } from '../../src/core/types';
import { labelOf, Lockstep } from '../model/lockstep';

/**
 * README "Queue lifetime" in the core: delete-queue and the queue option autoDelete, each run through
 * the core and the reference model in lockstep (test/model/), invariants after every step.
 */
function run(options: Partial<QueueOptions>, steps: string[]): { lockstep: Lockstep; effects: Effect[] } {
  const lockstep = new Lockstep({ ...DEFAULT_QUEUE_OPTIONS, ...options });
  const effects: Effect[] = [];
  for (const step of steps) effects.push(...lockstep.run(step));
  return { lockstep, effects };
}

function deletions(effects: Effect[]): { queue: string; reason: string; consumers: readonly string[]; messages: string[] }[] {
  return effects
    .filter((e): e is Extract<Effect, { type: 'queue-deleted' }> => e.type === 'queue-deleted')
    .map((e) => ({ queue: e.queue, reason: e.reason, consumers: e.consumers, messages: e.messages.map((m) => labelOf(m.body)).sort() }));
}

describe('delete-queue', () => {
  test('takes every message, queued, parked behind its group or in flight, and every consumer with it', () => {
    const { lockstep, effects } = run({ maxInFlightPerGroup: 1 }, [
      'attach c1',
      'attach c2',
      'credit c1 1',
      'send A0 group=G',
      'send A1 group=G',
      'send U0',
      'delete q',
    ]);
    expect(deletions(effects)).toEqual([{ queue: 'q', reason: 'requested', consumers: ['c1', 'c2'], messages: ['A0', 'A1', 'U0'] }]);
    expect(lockstep.state.queues.has('q')).toBe(false);
    expect(lockstep.state.consumers.size).toBe(0);
  });

  test('the queue comes back empty, positions from 1 again, on its next use; other queues are untouched', () => {
    const { lockstep } = run({}, ['send X0 to=other', 'send A0', 'send A1', 'delete q', 'send B0', 'attach c1', 'credit c1 5']);
    expect(lockstep.labels('c1')).toEqual(['B0']);
    expect(lockstep.state.queues.get('q')!.nextSeq).toBe(2);
    expect(lockstep.state.queues.get('other')!.queuedCount).toBe(1);
  });

  test('deleting a queue that does not exist does nothing', () => {
    const { effects } = run({}, ['delete q']);
    expect(effects).toEqual([]);
  });

  test('a dead-letter queue is deleted like any other; the next dead letter makes it again', () => {
    const { lockstep, effects } = run({}, ['attach c1', 'credit c1 5', 'send A0', 'send A1', 'settle c1 A0 rejected', 'delete DLQ', 'settle c1 A1 rejected']);
    expect(deletions(effects)).toEqual([{ queue: 'DLQ', reason: 'requested', consumers: [], messages: ['A0'] }]);
    expect(lockstep.state.queues.get('DLQ')!.queuedCount).toBe(1);
  });
});

describe('autoDelete', () => {
  test('a queue without consumers and messages is deleted once ticks have seen it so for autoDeleteDelayMs', () => {
    const { effects } = run({ autoDelete: true, autoDeleteDelayMs: 500 }, ['send A0', 'attach c1', 'credit c1 1', 'settle c1 A0 accepted', 'detach c1', 'tick 100', 'tick 400']);
    expect(deletions(effects)).toEqual([]);
    const later = run({ autoDelete: true, autoDeleteDelayMs: 500 }, ['send A0', 'attach c1', 'credit c1 1', 'settle c1 A0 accepted', 'detach c1', 'tick 100', 'tick 400', 'tick 100']);
    expect(deletions(later.effects)).toEqual([{ queue: 'q', reason: 'unused', consumers: [], messages: [] }]);
  });

  test('any use in between starts the wait again: a message, a consumer', () => {
    const { effects } = run({ autoDelete: true, autoDeleteDelayMs: 500 }, [
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
    expect(deletions(effects)).toEqual([]);
  });

  test('never while a message is queued or in flight, or a consumer is attached', () => {
    const { effects } = run({ autoDelete: true, autoDeleteDelayMs: 0 }, ['send A0', 'tick 1000', 'attach c1', 'credit c1 1', 'tick 1000', 'detach c1', 'tick 1000', 'attach c2', 'tick 1000']);
    expect(deletions(effects)).toEqual([]);
  });

  test('off by default', () => {
    const { effects } = run({}, ['attach c1', 'detach c1', 'tick 100', 'tick 100000']);
    expect(deletions(effects)).toEqual([]);
  });
});
