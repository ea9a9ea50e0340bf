import fc from 'fast-check';
import type { CoreState, Outcome, QueueOptions } from '../../src/core/types';
import { unsettledLabels } from './lockstep';
import type { Step } from './steps';

/**
 * Random command logs for the property tests. A generated move is resolved against the current state
 * into a literal step (steps.ts): its consumer index picks among the consumers the move applies to
 * (an attach among the detached ones, a settle among those holding deliveries), a settle picks one of
 * the unsettled deliveries and names it by label; a move that applies to nobody is skipped. So fast-check
 * can shrink the moves while every failure is reported as a literal, replayable log.
 */
const CONSUMERS = ['c0', 'c1', 'c2', 'c3', 'd0'];
/** d0 consumes the dead-letter queue. */
const DEAD_LETTER_CONSUMER = 'd0';
const GROUPS = ['A', 'B', 'C', 'D', 'E', 'F'];
const COLORS = ['red', 'blue'];
/** Selectors (steps.ts selectorMatches): overlapping colour sets, and one that reads the delivery-count. */
const SELECTORS = ['red', 'blue', 'red|blue', 'retry', 'blue|retry'];

export type Move =
  | { kind: 'send'; group: string | null; closes: boolean; ttlMs: number | null; priority: number | null; color: string | null; delayMs: number | null }
  | { kind: 'attach'; consumer: number; priority: number; exclusive: boolean; presettled: boolean; selector: string | null; browse: boolean }
  | { kind: 'detach'; consumer: number }
  | { kind: 'credit'; consumer: number; credit: number; drain: boolean }
  | { kind: 'settle'; consumer: number; pick: number; outcome: Outcome }
  | { kind: 'tick'; ms: number }
  | { kind: 'purge'; deadLetters: boolean }
  | { kind: 'release'; group: string; deadLetters: boolean }
  | { kind: 'retry'; from: string | null; limit: number | null }
  | { kind: 'delete'; deadLetterQueue: boolean };

const outcomeArb: fc.Arbitrary<Outcome> = fc.oneof(
  { weight: 6, arbitrary: fc.constant<Outcome>({ type: 'accepted' }) },
  { weight: 2, arbitrary: fc.constant<Outcome>({ type: 'released' }) },
  { weight: 1, arbitrary: fc.constant<Outcome>({ type: 'rejected' }) },
  {
    weight: 3,
    arbitrary: fc
      .record({ deliveryFailed: fc.boolean(), undeliverableHere: fc.boolean() })
      .map((m): Outcome => ({ type: 'modified', deliveryFailed: m.deliveryFailed, undeliverableHere: m.undeliverableHere })),
  },
);

const consumerArb = fc.nat(CONSUMERS.length - 1);

/** One value in eight from `arbitrary`, else null (fc.option's freq makes null the rare one). */
function rarely<T>(arbitrary: fc.Arbitrary<T>): fc.Arbitrary<T | null> {
  return fc.oneof({ weight: 7, arbitrary: fc.constant(null) }, { weight: 1, arbitrary });
}

export function moveArb(withExclusive: boolean): fc.Arbitrary<Move> {
  return fc.oneof(
    {
      weight: 8,
      arbitrary: fc
        .record({
          kind: fc.constant('send' as const),
          group: fc.option(fc.constantFrom(...GROUPS), { freq: 4 }),
          closes: fc.boolean().chain((b) => (b ? fc.boolean() : fc.constant(false))),
          ttlMs: fc.option(fc.integer({ min: 1, max: 300 }), { freq: 8 }),
          priority: fc.option(fc.integer({ min: 0, max: 9 }), { freq: 2 }),
          color: fc.option(fc.constantFrom(...COLORS), { freq: 3 }),
          delayMs: rarely(fc.integer({ min: 1, max: 400 })),
        })
        .map((s) => ({ ...s, closes: s.closes && s.group !== null })),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('attach' as const),
        consumer: consumerArb,
        priority: fc.integer({ min: 0, max: 2 }),
        exclusive: withExclusive ? fc.boolean().chain((b) => (b ? fc.boolean() : fc.constant(false))) : fc.constant(false),
        presettled: fc.boolean().chain((b) => (b ? fc.boolean() : fc.constant(false))),
        selector: fc.oneof({ weight: 2, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.constantFrom(...SELECTORS) }),
        browse: fc.integer({ min: 0, max: 7 }).map((n) => n === 0),
      }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('detach' as const), consumer: consumerArb }) },
    {
      weight: 6,
      arbitrary: fc.record({
        kind: fc.constant('credit' as const),
        consumer: consumerArb,
        credit: fc.integer({ min: 0, max: 8 }),
        drain: fc.boolean().chain((b) => (b ? fc.boolean() : fc.constant(false))),
      }),
    },
    { weight: 7, arbitrary: fc.record({ kind: fc.constant('settle' as const), consumer: consumerArb, pick: fc.nat(20), outcome: outcomeArb }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 1, max: 400 }) }) },
    // Operator commands: rare, as in life, but in every long log.
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('purge' as const), deadLetters: fc.boolean() }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('release' as const), group: fc.constantFrom(...GROUPS), deadLetters: fc.boolean() }) },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('retry' as const),
        from: fc.constantFrom(null, 'q', 'elsewhere'),
        limit: fc.option(fc.integer({ min: 1, max: 3 })),
      }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), deadLetterQueue: fc.boolean() }) },
  );
}

export function optionsArb(withExclusive: boolean): fc.Arbitrary<QueueOptions> {
  return fc.record({
    groupKey: fc.constant(null),
    maxGroups: fc.option(fc.integer({ min: 1, max: 3 })),
    groupIdleTimeoutMs: fc.option(fc.integer({ min: 50, max: 500 })),
    groupRebalance: fc.boolean(),
    maxInFlightPerGroup: fc.option(fc.integer({ min: 1, max: 2 })),
    exclusive: withExclusive ? fc.boolean().chain((b) => (b ? fc.boolean() : fc.constant(false))) : fc.constant(false),
    maxDeliveryAttempts: fc.integer({ min: 2, max: 5 }),
    deadLetterQueue: fc.constant('DLQ'),
    maxMemoryBytes: fc.constant(null),
    autoDelete: fc.boolean(),
    autoDeleteDelayMs: fc.constantFrom(0, 100, 500),
  });
}

export function logArb(withExclusive: boolean): fc.Arbitrary<Move[]> {
  return fc.array(moveArb(withExclusive), { minLength: 30, maxLength: 150, size: 'max' });
}

/** The literal step for a move in the current state, or null when the move applies to nobody now. */
export function resolveMove(state: CoreState, move: Move, sent: number): Step | null {
  const attached = CONSUMERS.filter((c) => state.consumers.has(c) || state.browsers.has(c));
  const nth = (candidates: string[], index: number): string | null => (candidates.length === 0 ? null : candidates[index % candidates.length]!);
  switch (move.kind) {
    case 'send':
      return {
        op: 'send',
        label: `${move.group ?? 'u'}${sent}`,
        queue: 'q',
        group: move.group,
        closes: move.closes,
        ttlMs: move.ttlMs,
        priority: move.priority,
        color: move.color,
        delayMs: move.delayMs,
      };
    case 'attach': {
      const consumer = nth(CONSUMERS.filter((c) => !attached.includes(c)), move.consumer);
      if (consumer === null) return null;
      const queue = consumer === DEAD_LETTER_CONSUMER ? 'DLQ' : 'q';
      return {
        op: 'attach',
        consumer,
        queue,
        priority: move.priority,
        exclusive: move.exclusive && !move.browse,
        presettled: move.presettled,
        selector: move.selector,
        browse: move.browse,
      };
    }
    case 'detach': {
      const consumer = nth(attached, move.consumer);
      return consumer === null ? null : { op: 'detach', consumer };
    }
    case 'credit': {
      const consumer = nth(attached, move.consumer);
      return consumer === null ? null : { op: 'credit', consumer, credit: move.credit, drain: move.drain };
    }
    case 'settle': {
      const consumer = nth(attached.filter((c) => unsettledLabels(state, c).length > 0), move.consumer);
      if (consumer === null) return null;
      const labels = unsettledLabels(state, consumer);
      return { op: 'settle', consumer, label: labels[move.pick % labels.length]!, outcome: move.outcome };
    }
    case 'tick':
      return { op: 'tick', ms: move.ms };
    case 'purge':
      return { op: 'purge', queue: move.deadLetters ? 'DLQ' : 'q' };
    case 'release':
      return { op: 'release', group: move.group, queue: move.deadLetters ? 'DLQ' : 'q' };
    case 'retry':
      return { op: 'retry', queue: 'DLQ', from: move.from, limit: move.limit };
    case 'delete': {
      // Only a queue nobody consumes or browses can be deleted (they detach first); a later send recreates it.
      const queue = move.deadLetterQueue ? 'DLQ' : 'q';
      const consumed = [...state.consumers.values(), ...state.browsers.values()].some((consumer) => consumer.queue.name === queue);
      return consumed || !state.queues.has(queue) ? null : { op: 'delete', queue };
    }
  }
}
