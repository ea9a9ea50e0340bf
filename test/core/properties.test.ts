import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { apply } from '../../src/core/apply';
import { createCoreState } from '../../src/core/state';
import type { Command, CoreState, Effect, QueueOptions } from '../../src/core/types';
import { DEFAULT_QUEUE_OPTIONS } from '../../src/config/queue-policies';
import { logArb, optionsArb, resolveMove, type Move } from '../model/generator';
import { queuedMessages } from '../../src/core/queued';
import { InvariantWatch } from '../model/invariants';
import { coreCommand } from '../model/lockstep';
import { formatStep } from '../model/steps';

/**
 * Random command logs through the core alone: the invariants (test/model/invariants.ts: no exemptions,
 * liveness included) after every command, and the same log replayed on a fresh state gives the same
 * effects and state (the core is deterministic). test/model/lockstep.test.ts compares the core with the
 * reference model on the same kind of logs. A longer search:
 *   CONVOY_PROPERTY_RUNS=20000 npx vitest run test/core/properties.test.ts
 */
const RUNS = Number(process.env.CONVOY_PROPERTY_RUNS ?? 150);
const QUEUE = 'q';

interface RunResult {
  readonly log: { command: Command; nowMs: number }[];
  readonly effects: string[];
  readonly finalState: string;
}

function run(options: QueueOptions, moves: Move[]): RunResult {
  const state = createCoreState(() => options);
  const watch = new InvariantWatch(state);
  const log: { command: Command; nowMs: number }[] = [];
  const steps: string[] = [];
  const effects: string[] = [];
  let nowMs = 0;
  let sent = 0;
  for (const move of moves) {
    const step = resolveMove(state, move, sent + 1);
    if (step === null) continue;
    if (step.op === 'send') sent++;
    if (step.op === 'tick') nowMs += step.ms;
    steps.push(formatStep(step));
    const command = coreCommand(state, step, nowMs);
    log.push({ command, nowMs });
    try {
      watch.before(command);
      const produced = apply(state, command, nowMs);
      watch.after(command, produced);
      effects.push(...produced.map(describeEffect));
    } catch (error) {
      throw new Error(`${(error as Error).message}\noptions ${JSON.stringify(options)}\nsteps:\n${steps.map((l) => `  '${l}',`).join('\n')}`);
    }
  }
  return { log, effects, finalState: describeState(state) };
}

function replay(options: QueueOptions, log: { command: Command; nowMs: number }[]): RunResult {
  const state = createCoreState(() => options);
  const effects: string[] = [];
  for (const { command, nowMs } of log) effects.push(...apply(state, command, nowMs).map(describeEffect));
  return { log, effects, finalState: describeState(state) };
}

function describeEffect(effect: Effect): string {
  switch (effect.type) {
    case 'deliver':
      return `deliver ${effect.message.id}@${effect.message.deliveryCount} -> ${effect.consumerId}`;
    case 'removed':
    case 'enqueued':
    case 'scheduled-due':
    case 'delivery-count':
      return `${effect.type} ${effect.message.id}`;
    case 'dead-lettered':
      return `dead ${effect.message.id} ${effect.reason}`;
    case 'retried':
      return `retried ${effect.message.id} -> ${effect.originQueue}`;
    case 'drained':
      return `drained ${effect.consumerId}`;
    case 'queue-created':
      return `queue ${effect.queue}`;
    case 'queue-deleted':
      return `deleted ${effect.queue}`;
    case 'exclusive-active':
      return `active ${effect.consumerId}`;
    case 'group-owner':
      return `owner ${effect.groupId} ${effect.consumerId}`;
    case 'queue-deleted':
      return `deleted ${effect.queue} ${effect.reason} [${effect.consumers.join(',')}] [${effect.messages.map((m) => m.id).join(',')}]`;
  }
}

function describeState(state: CoreState): string {
  const queues = [...state.queues.values()].map((q) => ({
    name: q.name,
    queued: queuedMessages(q).map((m) => m.id).sort((a, b) => a - b),
    groups: [...q.groups.values()].map((g) => [g.id, g.state, g.owner?.id ?? null, g.queued, g.inFlight]),
    consumers: q.consumers.map((c) => [c.id, c.credit, [...c.unsettled.keys()]]),
  }));
  return JSON.stringify(queues);
}

describe('dispatch core properties', () => {
  test('groups and plain consumers: every invariant holds after every step, and replay is identical', () => {
    fc.assert(
      fc.property(optionsArb(false), logArb(false), (options, moves) => {
        const first = run(options, moves);
        const again = replay(options, first.log);
        expect(again.effects).toEqual(first.effects);
        expect(again.finalState).toEqual(first.finalState);
      }),
      { numRuns: RUNS, seed: 20261122 },
    );
  });

  test('with exclusive consumers mixed in: every invariant holds after every step', () => {
    let deliveries = 0;
    fc.assert(
      fc.property(optionsArb(true), logArb(true), (options, moves) => {
        deliveries += run(options, moves).effects.filter((e) => e.startsWith('deliver')).length;
      }),
      { numRuns: RUNS, seed: 7 },
    );
    // Guard against a generator that stops exercising dispatch.
    expect(deliveries).toBeGreaterThan(RUNS * 5);
  });

  test('the A,B,A,C,B,A,C example holds for every attach order and credit size', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 3 }), fc.integer({ min: 7, max: 20 }), (consumers, credit) => {
        const state = createCoreState(() => DEFAULT_QUEUE_OPTIONS);
        const received = new Map<string, Set<string>>();
        for (let i = 0; i < consumers; i++) {
          apply(state, { type: 'attach', consumerId: `c${i}`, queue: QUEUE, priority: 0, exclusive: false, settleOnSend: false }, 0);
          apply(state, { type: 'credit', consumerId: `c${i}`, credit, drain: false }, 0);
        }
        for (const group of ['A', 'B', 'A', 'C', 'B', 'A', 'C']) {
          const effects = apply(
            state,
            { type: 'enqueue', queue: QUEUE, meta: { groupId: group, closesGroup: false, expiresAtMs: null, deliveryCount: 0, durable: false }, body: new Uint8Array(0) },
            0,
          );
          for (const e of effects) if (e.type === 'deliver') received.set(e.consumerId, (received.get(e.consumerId) ?? new Set()).add(group));
        }
        const owners = [...received.values()];
        for (const g of ['A', 'B', 'C']) expect(owners.filter((s) => s.has(g))).toHaveLength(1);
        if (consumers === 3) expect(owners.every((s) => s.size === 1)).toBe(true);
        else expect(owners.find((s) => s.has('A'))!.has('B')).toBe(false);
      }),
      { numRuns: 20 },
    );
  });
});
