import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { apply } from '../../src/core/apply';
import { createCoreState } from '../../src/core/state';
import type { Command, CoreState, Effect, Outcome, Queue, QueueOptions, QueuedMessage } from '../../src/core/types';
import { DEFAULT_QUEUE_OPTIONS } from '../../src/config/queue-policies';

/**
 * Random command logs through the core, with the DESIGN §2 invariants checked after every step.
 * CI runs a fixed number of runs; a longer search is one command:
 *   CONVOY_PROPERTY_RUNS=20000 npx vitest run test/core/properties.test.ts
 */
const RUNS = Number(process.env.CONVOY_PROPERTY_RUNS ?? 150);
const CONSUMERS = ['c0', 'c1', 'c2', 'c3'];
const GROUPS = ['A', 'B', 'C', 'D'];
const QUEUE = 'q';

type Step =
  | { kind: 'enqueue'; group: string | null; closes: boolean; ttlMs: number | null }
  | { kind: 'attach'; consumer: number; priority: number; exclusive: boolean; settleOnSend: boolean }
  | { kind: 'detach'; consumer: number }
  | { kind: 'credit'; consumer: number; credit: number; drain: boolean }
  | { kind: 'settle'; consumer: number; pick: number; outcome: Outcome }
  | { kind: 'tick'; advanceMs: number };

const outcomeArb: fc.Arbitrary<Outcome> = fc.oneof(
  { weight: 6, arbitrary: fc.constant<Outcome>({ type: 'accepted' }) },
  { weight: 2, arbitrary: fc.constant<Outcome>({ type: 'released' }) },
  { weight: 1, arbitrary: fc.constant<Outcome>({ type: 'rejected' }) },
  {
    weight: 2,
    arbitrary: fc.record({ deliveryFailed: fc.boolean(), undeliverableHere: fc.boolean({ noBias: true }) }).map(
      (m): Outcome => ({ type: 'modified', deliveryFailed: m.deliveryFailed, undeliverableHere: m.undeliverableHere && Math.random() >= 0 }),
    ),
  },
);

function stepArb(allowExclusive: boolean): fc.Arbitrary<Step> {
  const consumer = fc.integer({ min: 0, max: CONSUMERS.length - 1 });
  return fc.oneof(
    {
      weight: 8,
      arbitrary: fc.record({
        kind: fc.constant('enqueue' as const),
        group: fc.option(fc.constantFrom(...GROUPS), { freq: 4 }),
        closes: fc.boolean().chain((b) => (b ? fc.boolean() : fc.constant(false))).map((b) => b && Math.random() >= 0),
        ttlMs: fc.option(fc.integer({ min: 1, max: 300 }), { freq: 8 }),
      }).map((s) => ({ ...s, closes: s.closes && s.group !== null })),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('attach' as const),
        consumer,
        priority: fc.integer({ min: 0, max: 2 }),
        exclusive: allowExclusive ? fc.boolean() : fc.constant(false),
        settleOnSend: fc.boolean().chain((b) => (b ? fc.boolean() : fc.constant(false))),
      }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('detach' as const), consumer }) },
    {
      weight: 4,
      arbitrary: fc.record({ kind: fc.constant('credit' as const), consumer, credit: fc.integer({ min: 0, max: 6 }), drain: fc.boolean() }),
    },
    { weight: 7, arbitrary: fc.record({ kind: fc.constant('settle' as const), consumer, pick: fc.nat(20), outcome: outcomeArb }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('tick' as const), advanceMs: fc.integer({ min: 1, max: 400 }) }) },
  );
}

const optionsArb: fc.Arbitrary<QueueOptions> = fc.record({
  groupKey: fc.constant(null),
  maxGroups: fc.option(fc.integer({ min: 1, max: 3 })),
  groupIdleTimeoutMs: fc.option(fc.integer({ min: 50, max: 500 })),
  groupRebalance: fc.boolean(),
  maxInFlightPerGroup: fc.option(fc.integer({ min: 1, max: 2 })),
  exclusive: fc.boolean().chain((b) => (b ? fc.boolean() : fc.constant(false))),
  maxDeliveryAttempts: fc.integer({ min: 2, max: 5 }),
  deadLetterQueue: fc.constant('DLQ'),
});

type Life = 'queued' | 'in-flight' | 'done';

interface Tracked {
  readonly generation: number;
  life: Life;
}

/** The test's own record of every message and every consumer's credit, to check the core against. */
class Model {
  readonly messages = new Map<number, Tracked>();
  readonly generations = new Map<string, number>();
  readonly credit = new Map<string, number>();
  /** Group owners as announced by group-owner effects. */
  readonly owners = new Map<string, string | null>();
  everExclusive = false;
  deliveries = 0;
}

/** Resolves a step against the current state into a core command (or null when it makes no sense now). */
function toCommand(state: CoreState, step: Step, nowMs: number): Command | null {
  switch (step.kind) {
    case 'enqueue':
      return {
        type: 'enqueue',
        queue: QUEUE,
        meta: {
          groupId: step.group,
          closesGroup: step.closes,
          expiresAtMs: step.ttlMs === null ? null : nowMs + step.ttlMs,
          deliveryCount: 0,
          durable: false,
        },
        body: new Uint8Array(0),
      };
    case 'attach': {
      const id = CONSUMERS[step.consumer]!;
      if (state.consumers.has(id)) return null;
      return { type: 'attach', consumerId: id, queue: QUEUE, priority: step.priority, exclusive: step.exclusive, settleOnSend: step.settleOnSend };
    }
    case 'detach': {
      const id = CONSUMERS[step.consumer]!;
      return state.consumers.has(id) ? { type: 'detach', consumerId: id } : null;
    }
    case 'credit': {
      const id = CONSUMERS[step.consumer]!;
      return state.consumers.has(id) ? { type: 'credit', consumerId: id, credit: step.credit, drain: step.drain } : null;
    }
    case 'settle': {
      const consumer = state.consumers.get(CONSUMERS[step.consumer]!);
      if (!consumer || consumer.unsettled.size === 0) return null;
      const ids = [...consumer.unsettled.keys()];
      return { type: 'settle', consumerId: consumer.id, deliveryId: ids[step.pick % ids.length]!, outcome: step.outcome };
    }
    case 'tick':
      return { type: 'tick' };
  }
}

function allQueued(queue: Queue): QueuedMessage[] {
  const out = [...queue.main, ...queue.deferred];
  for (const group of queue.groups.values()) out.push(...group.parked);
  return out;
}

function isExpired(message: QueuedMessage, nowMs: number): boolean {
  return message.expiresAtMs !== null && message.expiresAtMs <= nowMs;
}

function excludedFor(message: QueuedMessage, consumerId: string): boolean {
  return message.excludedConsumers !== null && message.excludedConsumers.has(consumerId);
}

function checkEffects(state: CoreState, model: Model, effects: Effect[], command: Command): void {
  // Credit is absolute (AMQP 1.0 2.6.7): it replaces what the consumer had before this command's deliveries.
  if (command.type === 'credit') model.credit.set(command.consumerId, Math.max(0, command.credit));
  for (const effect of effects) {
    if (effect.type === 'enqueued') {
      let generation = 0;
      if (effect.message.groupId !== null) {
        const key = `${effect.queue}/${effect.message.groupId}`;
        generation = model.generations.get(key) ?? 0;
        if (effect.message.closesGroup) model.generations.set(key, generation + 1);
      }
      model.messages.set(effect.message.id, { generation, life: 'queued' });
    }
    if (effect.type === 'deliver') {
      const tracked = model.messages.get(effect.message.id)!;
      // No duplicate unless it is a redelivery of a message that came back.
      expect(tracked.life, `message ${effect.message.id} delivered while ${tracked.life}`).toBe('queued');
      tracked.life = effect.settled ? 'done' : 'in-flight';
      // No consumer over its credit.
      const credit = model.credit.get(effect.consumerId) ?? 0;
      expect(credit, `${effect.consumerId} received without credit`).toBeGreaterThan(0);
      model.credit.set(effect.consumerId, credit - 1);
      const queue = state.queues.get(effect.queue)!;
      if (queue.exclusiveCount > 0) {
        expect(effect.consumerId, 'only the active exclusive consumer receives').toBe(queue.activeExclusive?.id);
      }
      checkGroupOrder(state, model, queue, effect.message);
      if (effect.message.groupId !== null && queue.exclusiveCount === 0) {
        expect(model.owners.get(effect.message.groupId), `group ${effect.message.groupId} delivered to a non-owner`).toBe(effect.consumerId);
      }
      model.deliveries++;
    }
    if (effect.type === 'group-owner') model.owners.set(effect.groupId, effect.consumerId);
    if (effect.type === 'removed' || effect.type === 'dead-lettered') model.messages.get(effect.message.id)!.life = 'done';
    if (effect.type === 'drained') model.credit.set(effect.consumerId, 0);
  }
  if (command.type === 'attach' && command.exclusive) model.everExclusive = true;
}

/** Per-group order: when a message of a group goes out, no earlier message of the same generation is still queued. */
function checkGroupOrder(state: CoreState, model: Model, queue: Queue, message: QueuedMessage): void {
  if (message.groupId === null) return;
  const generation = model.messages.get(message.id)!.generation;
  for (const other of allQueued(queue)) {
    if (other.groupId !== message.groupId || other.seq >= message.seq) continue;
    if (model.messages.get(other.id)!.generation !== generation) continue;
    if (isExpired(other, state.nowMs) || other.excludedConsumers !== null) continue;
    throw new Error(`group ${message.groupId}: message seq ${message.seq} overtook queued seq ${other.seq}`);
  }
}

function checkState(state: CoreState, model: Model): void {
  // Messages the model thinks are in flight or queued match the core's structures.
  for (const queue of state.queues.values()) {
    const queued = allQueued(queue);
    let inFlight = 0;
    for (const consumer of queue.consumers) inFlight += consumer.unsettled.size;
    expect(queued.length).toBe(queue.queuedCount);
    expect(inFlight).toBe(queue.inFlightCount);
    // Nothing lost: queued + in flight = enqueued - removed.
    expect(queue.queuedCount + queue.inFlightCount).toBe(queue.enqueuedTotal - queue.removedTotal);
    for (const message of queued) {
      expect(model.messages.get(message.id)!.life === 'queued' || isExpired(message, state.nowMs)).toBe(true);
    }
    // At most one owner per group, and ownership sets agree with group owners.
    const owners = new Map<string, string>();
    for (const consumer of queue.consumers) {
      expect(consumer.credit).toBeGreaterThanOrEqual(0);
      for (const group of consumer.groups) {
        expect(owners.has(group.id), `group ${group.id} owned twice`).toBe(false);
        owners.set(group.id, consumer.id);
        expect(group.owner).toBe(consumer);
      }
    }
    for (const group of queue.groups.values()) {
      if (group.owner) expect(owners.get(group.id)).toBe(group.owner.id);
      expect(group.queued).toBe([...queued].filter((m) => m.groupId === group.id).length);
    }
    // Two consumers never hold the same group generation at once (while no exclusive consumer ever came).
    if (!model.everExclusive) {
      const holders = new Map<string, string>();
      for (const consumer of queue.consumers) {
        for (const delivery of consumer.unsettled.values()) {
          const m = delivery.message;
          if (m.groupId === null) continue;
          const key = `${m.groupId}#${model.messages.get(m.id)!.generation}`;
          const holder = holders.get(key);
          expect(holder === undefined || holder === consumer.id, `${key} held by ${holder} and ${consumer.id}`).toBe(true);
          holders.set(key, consumer.id);
        }
      }
    }
    // At most one active exclusive consumer, and it is attached and exclusive.
    if (queue.activeExclusive) {
      expect(queue.activeExclusive.exclusive).toBe(true);
      expect(queue.consumers).toContain(queue.activeExclusive);
    }
    if (queue.exclusiveCount > 0) expect(queue.activeExclusive).not.toBeNull();
    checkNothingHeldBack(state, queue, queued);
  }
}

/** No message is held back while a consumer that may take it has credit. */
function checkNothingHeldBack(state: CoreState, queue: Queue, queued: QueuedMessage[]): void {
  const live = queued.filter((m) => !isExpired(m, state.nowMs));
  if (queue.exclusiveCount > 0) {
    const active = queue.activeExclusive!;
    const best = queue.consumers.find((c) => c.exclusive)!;
    if (active !== best || active.credit === 0) return;
    const blocked = live.filter((m) => !excludedFor(m, active.id));
    expect(blocked.map((m) => m.seq), `exclusive ${active.id} has credit but messages wait`).toEqual([]);
    return;
  }
  const withCredit = queue.consumers.filter((c) => c.credit > 0);
  if (withCredit.length === 0) return;
  const heads = new Map<string, QueuedMessage>();
  for (const message of live) {
    if (message.groupId === null) {
      const taker = withCredit.find((c) => !excludedFor(message, c.id));
      expect(taker, `ungrouped seq ${message.seq} waits while ${taker?.id} has credit`).toBeUndefined();
    } else {
      const head = heads.get(message.groupId);
      if (!head || message.seq < head.seq) heads.set(message.groupId, message);
    }
  }
  const limit = queue.options.maxInFlightPerGroup;
  for (const [groupId, head] of heads) {
    const group = queue.groups.get(groupId)!;
    if (group.moving || (limit !== null && group.inFlight >= limit)) continue;
    if (group.closedAtSeq !== null && head.seq > group.closedAtSeq && group.inFlight > 0) continue;
    if (group.owner) {
      const ownerCanTake = group.owner.credit > 0 && !excludedFor(head, group.owner.id);
      expect(ownerCanTake, `group ${groupId} waits while its owner ${group.owner.id} has credit`).toBe(false);
    } else {
      const taker = withCredit.find((c) => !excludedFor(head, c.id));
      expect(taker, `unowned group ${groupId} waits while ${taker?.id} has credit`).toBeUndefined();
    }
  }
}

/** Messages whose delivery ends with this command; unless removed or dead-lettered, they are queued again. */
function deliveriesLeaving(state: CoreState, command: Command): number[] {
  if (command.type === 'detach') {
    const consumer = state.consumers.get(command.consumerId);
    return consumer ? [...consumer.unsettled.values()].map((d) => d.message.id) : [];
  }
  if (command.type === 'settle') {
    const delivery = state.consumers.get(command.consumerId)?.unsettled.get(command.deliveryId);
    return delivery ? [delivery.message.id] : [];
  }
  return [];
}

interface RunResult {
  readonly log: { command: Command; nowMs: number }[];
  readonly effects: string[];
  readonly finalState: string;
}

function run(options: QueueOptions, steps: Step[]): RunResult {
  const state = createCoreState(() => options);
  const model = new Model();
  const log: { command: Command; nowMs: number }[] = [];
  const effects: string[] = [];
  let nowMs = 0;
  for (const step of steps) {
    if (step.kind === 'tick') nowMs += step.advanceMs;
    const command = toCommand(state, step, nowMs);
    if (command === null) continue;
    log.push({ command, nowMs });
    const leaving = deliveriesLeaving(state, command);
    const produced = apply(state, command, nowMs);
    for (const id of leaving) {
      const tracked = model.messages.get(id)!;
      if (tracked.life === 'in-flight') tracked.life = 'queued';
    }
    effects.push(...produced.map(describeEffect));
    checkEffects(state, model, produced, command);
    checkState(state, model);
  }
  totalDeliveries += model.deliveries;
  return { log, effects, finalState: describeState(state) };
}

let totalDeliveries = 0;

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
    case 'delivery-count':
      return `${effect.type} ${effect.message.id}`;
    case 'dead-lettered':
      return `dead ${effect.message.id} ${effect.reason}`;
    case 'drained':
      return `drained ${effect.consumerId}`;
    case 'queue-created':
      return `queue ${effect.queue}`;
    case 'exclusive-active':
      return `active ${effect.consumerId}`;
    case 'group-owner':
      return `owner ${effect.groupId} ${effect.consumerId}`;
  }
}

function describeState(state: CoreState): string {
  const queues = [...state.queues.values()].map((q) => ({
    name: q.name,
    queued: allQueued(q).map((m) => m.id).sort((a, b) => a - b),
    groups: [...q.groups.values()].map((g) => [g.id, g.owner?.id ?? null, g.queued, g.inFlight]),
    consumers: q.consumers.map((c) => [c.id, c.credit, [...c.unsettled.keys()]]),
  }));
  return JSON.stringify(queues);
}

describe('dispatch core properties', () => {
  test('groups and plain consumers: every invariant holds after every step, and replay is identical', () => {
    fc.assert(
      fc.property(optionsArb.map((o) => ({ ...o, exclusive: false })), fc.array(stepArb(false), { minLength: 30, maxLength: 150, size: 'max' }), (options, steps) => {
        const first = run(options, steps);
        const again = replay(options, first.log);
        expect(again.effects).toEqual(first.effects);
        expect(again.finalState).toEqual(first.finalState);
      }),
      { numRuns: RUNS, seed: 20261122 },
    );
  });

  test('with exclusive consumers mixed in: every invariant holds after every step', () => {
    fc.assert(
      fc.property(optionsArb, fc.array(stepArb(true), { minLength: 30, maxLength: 150, size: 'max' }), (options, steps) => {
        run(options, steps);
      }),
      { numRuns: RUNS, seed: 7 },
    );
    // Guard against a generator that stops exercising dispatch.
    expect(totalDeliveries).toBeGreaterThan(RUNS * 5);
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
