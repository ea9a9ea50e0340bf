import { describe, expect, test } from 'vitest';
import { apply } from '../../src/core/apply';
import { DEFAULT_QUEUE_OPTIONS } from '../../src/config/queue-policies';
import { nextDueMs } from '../../src/core/schedule';
import { createCoreState } from '../../src/core/state';
import type { CoreState, Effect, MessageFilter } from '../../src/core/types';
import { ownerOf, runSteps as scenario, type Lockstep } from '../model/lockstep';
import { bodyOf, colorOfBody, labelOfBody } from '../model/steps';

/**
 * Selectors, browsing, priority and delayed delivery in the core (README "Semantics you can rely on").
 * Scenarios run through the core and the reference model in lockstep with the invariants after every
 * step (test/model/); the cost tests count what the selector filters are asked.
 */
function statusOf(run: Lockstep, group: string): unknown {
  const group_ = run.state.queues.get('q')!.groups.get(group)!;
  return [group_.state, group_.waitingIn];
}

describe('selectors and groups', () => {
  test("a group whose next message does not match its owner's selector moves, once the owner holds nothing of it", () => {
    const run = scenario({}, ['attach c1 selector=red', 'credit c1 10', 'attach c2', 'credit c2 10', 'send A0 group=A color=red', 'send A1 group=A color=blue', 'send A2 group=A color=red']);
    expect(run.labels('c1')).toEqual(['A0']);
    expect(run.labels('c2')).toEqual([]);
    expect(statusOf(run, 'A')).toEqual(['owned', 'refusal']);
    run.run('settle c1 A0 accepted');
    // A1 and everything after it go to the new owner, A2 too although c1 would select it.
    expect(run.labels('c2')).toEqual(['A1', 'A2']);
    expect(ownerOf(run, 'A')).toBe('c2');
  });

  test('a group whose next message no consumer with credit selects waits; only credit of a matching selector wakes it', () => {
    const run = scenario({}, ['attach c1 selector=red', 'credit c1 10', 'send A0 group=A color=blue', 'send A1 group=A color=red']);
    expect(run.delivered).toEqual([]);
    expect(statusOf(run, 'A')).toEqual(['unowned', 'eligible-consumer']);
    const queue = run.state.queues.get('q')!;
    expect([...queue.groupsAwaitingMatch].map((g) => g.id)).toEqual(['A']);
    run.run('attach c2 selector=red|retry');
    run.run('credit c2 5');
    expect(run.delivered).toEqual([]);
    run.run('attach c3 selector=blue');
    expect(queue.selectorClasses.get('blue')!.waitingGroups.size).toBe(1);
    run.run('credit c3 1');
    // c3 takes the group; A1 (red) then waits for c3, its owner, which refuses it: it moves once A0 is settled.
    expect(run.labels('c3')).toEqual(['A0']);
    run.run('settle c3 A0 accepted');
    expect([...run.labels('c1'), ...run.labels('c2')]).toEqual(['A1']);
  });

  test('an exclusive consumer with a selector takes what it selects; the rest waits for the next active one', () => {
    const run = scenario({}, ['attach c1 exclusive selector=red', 'credit c1 10', 'send u1 color=blue', 'send u2 color=red', 'attach c2 exclusive', 'credit c2 10']);
    expect(run.labels('c1')).toEqual(['u2']);
    expect(run.labels('c2')).toEqual([]);
    run.run('detach c1');
    expect(run.labels('c2')).toEqual(['u1', 'u2']);
  });

  test('a selector reading the delivery-count sees each redelivery as a new message state', () => {
    const run = scenario({ maxDeliveryAttempts: 5 }, ['attach c1 selector=red', 'credit c1 1', 'attach c2 selector=retry', 'credit c2 1', 'send u1 color=red']);
    expect(run.labels('c1')).toEqual(['u1']);
    run.run('settle c1 u1 modified:failed:here');
    expect(run.labels('c2')).toEqual(['u1']);
  });
});

describe('priority', () => {
  test('higher levels first across the queue; a group keeps send order at the lowest level of its earlier messages', () => {
    const run = scenario({}, ['send u1 prio=1', 'send A2 group=A prio=1', 'send A3 group=A prio=8', 'send u4 prio=8', 'send u5', 'attach c1', 'credit c1 10']);
    expect(run.labels('c1')).toEqual(['u4', 'u5', 'u1', 'A2', 'A3']);
    expect(run.state.queues.get('q')!.groups.get('A')!.levels!.live).toBe(2);
  });

  test('once a group has nothing queued or in flight its next message takes its own priority again', () => {
    const run = scenario({}, ['attach c1', 'credit c1 1', 'send A1 group=A prio=1', 'send A2 group=A prio=8', 'settle c1 A1 accepted', 'send u3 prio=5']);
    // A2 entered at level 1 (A1 was in flight): u3 (5) goes first.
    run.run('credit c1 2');
    expect(run.labels('c1')).toEqual(['A1', 'u3', 'A2']);
    run.run('settle c1 A2 accepted');
    run.run('send u4 prio=5');
    run.run('send A5 group=A prio=8');
    run.run('credit c1 2');
    expect(run.labels('c1').slice(3)).toEqual(['A5', 'u4']);
  });

  test('a returned message goes back to its position and level, ahead of later ones of its group', () => {
    const run = scenario({}, ['attach c1', 'credit c1 1', 'send A1 group=A prio=9', 'send A2 group=A prio=9', 'send u3 prio=9', 'settle c1 A1 released', 'detach c1', 'attach c2', 'credit c2 10']);
    expect(run.labels('c2')).toEqual(['A1', 'A2', 'u3']);
  });

  test('in exclusive mode too a group is served in send order', () => {
    const run = scenario({}, ['send A1 group=A prio=2', 'send A2 group=A prio=7', 'send u3 prio=5', 'attach c1 exclusive', 'credit c1 10']);
    expect(run.labels('c1')).toEqual(['u3', 'A1', 'A2']);
  });
});

describe('browsing', () => {
  test('a browser sees the queue as it was at attach, in queue order, without taking anything', () => {
    const run = scenario({}, ['send u1', 'send u2 prio=9', 'attach c1', 'credit c1 1', 'send u3', 'attach b1 browse', 'send u4', 'credit b1 10 drain']);
    // u2 went to c1 before the browser attached; u4 came after it.
    expect(run.labels('c1')).toEqual(['u2']);
    expect(run.labels('b1')).toEqual(['u1', 'u3']);
    const queue = run.state.queues.get('q')!;
    expect([queue.queuedCount, queue.inFlightCount]).toEqual([3, 1]);
    expect(run.state.consumers.has('b1')).toBe(false);
  });

  test('a message in flight when the browser reaches it is skipped; one returned before is shown; its selector applies', () => {
    const run = scenario({}, [
      'send u1 color=red',
      'send u2 color=red',
      'send u3 color=green',
      'send u4 color=blue',
      'attach b1 browse selector=red|green',
      'attach c1',
      'credit c1 2',
      'settle c1 u1 released',
      'credit b1 10',
    ]);
    expect(run.labels('b1')).toEqual(['u1', 'u3']);
  });
});

describe('delayed delivery', () => {
  test('a scheduled message enters its queue, and its group, when due: after messages sent meanwhile', () => {
    const run = scenario({}, ['attach c1', 'credit c1 10', 'send A1 group=A delay=100', 'send A2 group=A', 'tick 99']);
    expect(run.labels('c1')).toEqual(['A2']);
    expect(nextDueMs(run.state)).toBe(100);
    run.run('tick 1');
    expect(run.labels('c1')).toEqual(['A2', 'A1']);
    expect(nextDueMs(run.state)).toBe(null);
  });

  test('messages due by the same command enter in due order (then send order); dispatch then serves them in queue order', () => {
    const run = scenario({}, ['send u1 delay=50', 'send u2 delay=40 prio=9', 'send u3 delay=40', 'attach c1', 'credit c1 10', 'tick 60']);
    expect(run.labels('c1')).toEqual(['u2', 'u3', 'u1']);
  });

  test('any command lets due messages in first; the clock command does nothing else', () => {
    const state = createCoreState(() => DEFAULT_QUEUE_OPTIONS);
    apply(state, { type: 'enqueue', queue: 'q', meta: meta({ deliverAtMs: 500 }), body: bodyOf('d', null) }, 0);
    expect(state.queues.get('q')!.scheduledCount).toBe(1);
    expect(apply(state, { type: 'clock' }, 499)).toEqual([]);
    const effects = apply(state, { type: 'clock' }, 500);
    expect(effects.map((e) => e.type)).toEqual(['scheduled-due']);
    expect(state.queues.get('q')!.queuedCount).toBe(1);
  });
});

describe('selector cost: each message is asked at most once per selector class, and a backlog nobody with credit selects costs nothing per dispatched message', () => {
  /** Counts the questions each selector class is asked. */
  function countingFilter(colour: string, asked: Map<string, number>): MessageFilter {
    return {
      key: colour,
      matches: (message) => {
        asked.set(colour, (asked.get(colour) ?? 0) + 1);
        return colorOfBody(message.body) === colour;
      },
    };
  }

  function run(backlog: number): { askedWhileDispatching: number; delivered: string[] } {
    const state = createCoreState(() => DEFAULT_QUEUE_OPTIONS);
    const asked = new Map<string, number>();
    const step = (command: Parameters<typeof apply>[1]): Effect[] => apply(state, command, 0);
    step({ type: 'attach', consumerId: 'blue', queue: 'q', priority: 0, exclusive: false, settleOnSend: false, filter: countingFilter('blue', asked) });
    step({ type: 'attach', consumerId: 'red', queue: 'q', priority: 0, exclusive: false, settleOnSend: false, filter: countingFilter('red', asked) });
    step({ type: 'credit', consumerId: 'red', credit: 1, drain: false });
    for (let i = 0; i < backlog; i++) step({ type: 'enqueue', queue: 'q', meta: meta(), body: bodyOf(`b${i}`, 'blue') });
    const before = [...asked.values()].reduce((a, b) => a + b, 0);
    // The red consumer pulls one message at a time: the blue backlog is never looked at again.
    const delivered: string[] = [];
    for (let i = 0; i < 50; i++) {
      const effects = step({ type: 'enqueue', queue: 'q', meta: meta(), body: bodyOf(`r${i}`, 'red') });
      for (const effect of effects) {
        if (effect.type !== 'deliver') continue;
        delivered.push(labelOfBody(effect.message.body));
        step({ type: 'settle', consumerId: 'red', deliveryId: effect.deliveryId, outcome: { type: 'accepted' } });
      }
      step({ type: 'credit', consumerId: 'red', credit: 1, drain: false });
    }
    expect(before).toBe(backlog * 2);
    return { askedWhileDispatching: [...asked.values()].reduce((a, b) => a + b, 0) - before, delivered };
  }

  test.each([0, 100, 10_000])('backlog of %i blue messages, a red consumer with credit 1 at a time', (backlog) => {
    const { askedWhileDispatching, delivered } = run(backlog);
    expect(delivered).toEqual(Array.from({ length: 50 }, (_, i) => `r${i}`));
    // Each red message is asked once, by the red class (its consumer has credit, so it goes at once).
    expect(askedWhileDispatching).toBe(50);
  });

  test('a selector not seen before is asked about every waiting message once; consumers joining its class ask nothing more', () => {
    const state: CoreState = createCoreState(() => DEFAULT_QUEUE_OPTIONS);
    const asked = new Map<string, number>();
    apply(state, { type: 'attach', consumerId: 'red', queue: 'q', priority: 0, exclusive: false, settleOnSend: false, filter: countingFilter('red', asked) }, 0);
    apply(state, { type: 'credit', consumerId: 'red', credit: 10, drain: false }, 0);
    for (let i = 0; i < 100; i++) apply(state, { type: 'enqueue', queue: 'q', meta: meta(), body: bodyOf(`g${i}`, 'green') }, 0);
    expect(state.queues.get('q')!.waiting.size).toBe(100);
    for (const id of ['green1', 'green2']) {
      apply(state, { type: 'attach', consumerId: id, queue: 'q', priority: 0, exclusive: false, settleOnSend: false, filter: countingFilter('green', asked) }, 0);
    }
    expect(asked.get('green')).toBe(100);
    apply(state, { type: 'credit', consumerId: 'green2', credit: 100, drain: false }, 0);
    expect(asked.get('green')).toBe(100);
    expect(asked.get('red')).toBe(100);
    expect(state.queues.get('q')!.queuedCount).toBe(0);
  });

  test('the wake index of a class without credit sheds the entries of messages another class took (compaction)', () => {
    const state = createCoreState(() => DEFAULT_QUEUE_OPTIONS);
    const asked = new Map<string, number>();
    const attach = (id: string, colour: string): void =>
      void apply(state, { type: 'attach', consumerId: id, queue: 'q', priority: 0, exclusive: false, settleOnSend: true, filter: countingFilter(colour, asked) }, 0);
    attach('red', 'red');
    attach('blue', 'blue');
    apply(state, { type: 'attach', consumerId: 'any', queue: 'q', priority: 0, exclusive: false, settleOnSend: true }, 0);
    apply(state, { type: 'credit', consumerId: 'blue', credit: 1, drain: false }, 0);
    // Red messages wait for the `red` class and the match-all class: their consumers have no credit.
    for (let i = 0; i < 1000; i++) apply(state, { type: 'enqueue', queue: 'q', meta: meta(), body: bodyOf(`r${i}`, 'red') }, 0);
    const redClass = state.queues.get('q')!.selectorClasses.get('red')!;
    expect(redClass.waiting.size).toBe(1000);
    apply(state, { type: 'credit', consumerId: 'any', credit: 1000, drain: false }, 0);
    expect(state.queues.get('q')!.queuedCount).toBe(0);
    expect(redClass.waiting.size).toBeLessThan(64);
  });
});

function meta(extra: { deliverAtMs?: number } = {}) {
  return { groupId: null, closesGroup: false, expiresAtMs: null, deliveryCount: 0, durable: false, ...extra };
}
