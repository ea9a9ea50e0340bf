import { describe, expect, test } from 'vitest';
import { groupViews } from '../../src/core/inspect';
import { CoreHarness, failed, notHere, released } from './harness';

const EXAMPLE = ['A', 'B', 'A', 'C', 'B', 'A', 'C'];

function sendExample(h: CoreHarness): void {
  EXAMPLE.forEach((group, i) => h.send('q', `${group}${i}`, { group }));
}

function groupsOf(h: CoreHarness, consumer: string): Set<string> {
  return new Set(h.labels(consumer).map((label) => label[0]!));
}

describe('message groups', () => {
  test('A,B,A,C,B,A,C over 3 consumers: each consumer gets exactly one whole group', () => {
    const h = new CoreHarness();
    for (const c of ['c1', 'c2', 'c3']) h.attach(c, 'q', { credit: 10 });
    sendExample(h);
    expect(h.labels('c1')).toEqual(['A0', 'A2', 'A5']);
    expect(h.labels('c2')).toEqual(['B1', 'B4']);
    expect(h.labels('c3')).toEqual(['C3', 'C6']);
  });

  test('A,B,A,C,B,A,C over 2 consumers: A and B apart, C wholly on one', () => {
    const h = new CoreHarness();
    for (const c of ['c1', 'c2']) h.attach(c, 'q', { credit: 10 });
    sendExample(h);
    const g1 = groupsOf(h, 'c1');
    const g2 = groupsOf(h, 'c2');
    expect(g1.has('A') !== g2.has('A')).toBe(true);
    expect(g1.has('A') ? g2.has('B') : g1.has('B')).toBe(true);
    expect(g1.has('C') !== g2.has('C')).toBe(true);
  });

  test('with a backlog, groups go to the consumers that have credit when dispatch runs', () => {
    const h = new CoreHarness();
    for (const c of ['c1', 'c2', 'c3']) h.attach(c, 'q');
    sendExample(h);
    h.credit('c1', 1);
    h.credit('c2', 1);
    h.credit('c3', 1);
    for (const c of ['c1', 'c2', 'c3']) h.credit(c, 10);
    for (const c of ['c1', 'c2', 'c3']) expect(groupsOf(h, c).size).toBe(1);
  });

  test('later messages of a group follow its owner, also after the group was idle', () => {
    const h = new CoreHarness();
    h.attach('c1', 'q', { credit: 10 });
    h.attach('c2', 'q', { credit: 10 });
    h.send('q', 'A1', { group: 'A' });
    h.settleAll('c1');
    h.tick(60_000);
    h.send('q', 'A2', { group: 'A' });
    expect(h.labels('c1')).toEqual(['A1', 'A2']);
  });

  test('a new group goes to the highest-priority consumer with credit, then the one with the fewest groups', () => {
    const h = new CoreHarness();
    h.attach('low', 'q', { credit: 10, priority: 0 });
    h.attach('high', 'q', { credit: 10, priority: 9 });
    h.send('q', 'A1', { group: 'A' });
    h.send('q', 'B1', { group: 'B' });
    expect(h.labels('high')).toEqual(['A1', 'B1']);
  });

  test('no head-of-line blocking: an owner without credit does not hold back other groups or ungrouped messages', () => {
    const h = new CoreHarness();
    h.attach('c1', 'q', { credit: 1 });
    h.attach('c2', 'q', { credit: 100 });
    h.send('q', 'A1', { group: 'A' });
    for (let i = 2; i <= 50; i++) h.send('q', `A${i}`, { group: 'A' });
    h.send('q', 'B1', { group: 'B' });
    h.send('q', 'u1');
    expect(h.labels('c1')).toEqual(['A1']);
    expect(h.labels('c2')).toEqual(['B1', 'u1']);
    const group = h.state.queues.get('q')!.groups.get('A')!;
    expect(group.parked.size).toBe(49);
  });

  test('parked messages are not rescanned when unrelated messages flow', () => {
    const h = new CoreHarness();
    h.attach('c1', 'q', { credit: 1 });
    h.attach('c2', 'q', { credit: 1_000_000 });
    for (let i = 0; i < 1000; i++) h.send('q', `A${i}`, { group: 'A' });
    const queue = h.state.queues.get('q')!;
    expect(queue.main.size).toBe(0);
    h.send('q', 'u');
    expect(queue.readyGroups.size).toBe(0);
    expect(h.labels('c2')).toEqual(['u']);
  });

  test('owner credit arriving later releases its parked messages in order', () => {
    const h = new CoreHarness();
    h.attach('c1', 'q', { credit: 1 });
    for (let i = 1; i <= 4; i++) h.send('q', `A${i}`, { group: 'A' });
    h.credit('c1', 10);
    expect(h.labels('c1')).toEqual(['A1', 'A2', 'A3', 'A4']);
  });

  test('owner detaches: its unsettled messages return first, then the new owner gets them before later ones', () => {
    const h = new CoreHarness();
    h.attach('c1', 'q', { credit: 2 });
    h.attach('c2', 'q', { credit: 0 });
    for (let i = 1; i <= 4; i++) h.send('q', `A${i}`, { group: 'A' });
    expect(h.labels('c1')).toEqual(['A1', 'A2']);
    h.credit('c2', 10);
    expect(h.labels('c2')).toEqual([]);
    h.detach('c1');
    expect(h.labels('c2')).toEqual(['A1', 'A2', 'A3', 'A4']);
    expect(h.delivered.filter((d) => d.consumer === 'c2').map((d) => d.deliveryCount)).toEqual([1, 1, 0, 0]);
  });

  test('no other consumer ever receives a message of the group while the owner lives', () => {
    const h = new CoreHarness();
    h.attach('c1', 'q', { credit: 1 });
    h.attach('c2', 'q', { credit: 100 });
    for (let i = 1; i <= 10; i++) h.send('q', `A${i}`, { group: 'A' });
    h.settle('c1', 'A1', released);
    expect(h.labels('c2')).toEqual([]);
    h.credit('c1', 1);
    expect(h.labels('c1')).toEqual(['A1', 'A1']);
    expect(h.labels('c2')).toEqual([]);
  });

  test('a released grouped message is redelivered before later messages of its group', () => {
    const h = new CoreHarness();
    h.attach('c1', 'q', { credit: 3 });
    for (let i = 1; i <= 5; i++) h.send('q', `A${i}`, { group: 'A' });
    h.settle('c1', 'A1', released);
    h.credit('c1', 10);
    expect(h.labels('c1')).toEqual(['A1', 'A2', 'A3', 'A1', 'A4', 'A5']);
  });

  test('group-sequence close: the closing message goes to the owner, the next message is assigned afresh', () => {
    const h = new CoreHarness();
    h.attach('c1', 'q', { credit: 10 });
    h.attach('c2', 'q', { credit: 10 });
    h.send('q', 'A1', { group: 'A' });
    h.send('q', 'B1', { group: 'B' });
    h.send('q', 'A2', { group: 'A', closes: true });
    expect(h.labels('c1')).toEqual(['A1', 'A2']);
    h.settleAll('c1');
    expect(h.state.queues.get('q')!.groups.has('A')).toBe(false);
    h.send('q', 'C1', { group: 'C' });
    h.send('q', 'A3', { group: 'A' });
    // c1 now owns no group, c2 owns B: the rotation continues after c2 for C, then A goes to the least loaded.
    expect(h.labels('c1')).toEqual(['A1', 'A2', 'C1']);
    expect(h.labels('c2')).toEqual(['B1', 'A3']);
  });

  test('after a close, a returned earlier message still goes to the owner and the next sequence waits for it', () => {
    const h = new CoreHarness();
    h.attach('c1', 'q', { credit: 10 });
    h.attach('c2', 'q', { credit: 10 });
    h.send('q', 'A1', { group: 'A' });
    h.send('q', 'A2', { group: 'A', closes: true });
    h.send('q', 'A3', { group: 'A' });
    expect(h.labels('c1')).toEqual(['A1', 'A2']);
    h.settle('c1', 'A1', released);
    expect(h.labels('c1')).toEqual(['A1', 'A2', 'A1']);
    expect(h.labels('c2')).toEqual([]);
    h.settleAll('c1');
    expect(h.labels('c2')).toEqual(['A3']);
  });

  test('maxInFlightPerGroup = 1 makes a group strictly sequential', () => {
    const h = new CoreHarness({ maxInFlightPerGroup: 1 });
    h.attach('c1', 'q', { credit: 10 });
    h.attach('c2', 'q', { credit: 10 });
    for (let i = 1; i <= 3; i++) h.send('q', `A${i}`, { group: 'A' });
    h.send('q', 'B1', { group: 'B' });
    expect(h.labels('c1')).toEqual(['A1']);
    expect(h.labels('c2')).toEqual(['B1']);
    h.settle('c1', 'A1', failed);
    expect(h.labels('c1')).toEqual(['A1', 'A1']);
    h.settle('c1', 'A1');
    expect(h.labels('c1')).toEqual(['A1', 'A1', 'A2']);
    h.settle('c1', 'A2');
    expect(h.labels('c1')).toEqual(['A1', 'A1', 'A2', 'A3']);
  });

  test('a poison message goes to the dead-letter queue and its group continues', () => {
    const h = new CoreHarness({ maxDeliveryAttempts: 2 });
    h.attach('c1', 'q', { credit: 10 });
    h.send('q', 'A1', { group: 'A' });
    h.send('q', 'A2', { group: 'A' });
    h.settle('c1', 'A1', failed);
    h.settle('c1', 'A1', failed);
    expect(h.effectsOf('dead-lettered')).toHaveLength(1);
    expect(h.labels('c1')).toEqual(['A1', 'A2', 'A1']);
    h.send('q', 'A3', { group: 'A' });
    expect(h.labels('c1')).toEqual(['A1', 'A2', 'A1', 'A3']);
  });

  test('undeliverable-here on a grouped message moves the group once its owner has nothing in flight', () => {
    const h = new CoreHarness();
    h.attach('c1', 'q', { credit: 10 });
    h.send('q', 'A1', { group: 'A' });
    h.send('q', 'A2', { group: 'A' });
    h.attach('c2', 'q', { credit: 10 });
    h.settle('c1', 'A1', notHere);
    expect(h.labels('c2')).toEqual([]);
    h.settle('c1', 'A2', released);
    expect(h.labels('c2')).toEqual(['A1', 'A2']);
  });

  test('maxGroups forgets the least recently used idle groups', () => {
    const h = new CoreHarness({ maxGroups: 2 });
    h.attach('c1', 'q', { credit: 100 });
    for (const g of ['A', 'B', 'C']) {
      h.send('q', `${g}1`, { group: g });
      h.settleAll('c1');
    }
    const queue = h.state.queues.get('q')!;
    expect([...queue.groups.keys()]).toEqual(['B', 'C']);
    expect(h.state.consumers.get('c1')!.groups.size).toBe(2);
  });

  test('a group with queued or in-flight messages is never forgotten', () => {
    const h = new CoreHarness({ maxGroups: 1, groupIdleTimeoutMs: 10 });
    h.attach('c1', 'q', { credit: 100 });
    h.send('q', 'A1', { group: 'A' });
    h.send('q', 'B1', { group: 'B' });
    h.tick(1_000);
    expect([...h.state.queues.get('q')!.groups.keys()].sort()).toEqual(['A', 'B']);
  });

  test('groupIdleTimeoutMs forgets idle groups', () => {
    const h = new CoreHarness({ groupIdleTimeoutMs: 500 });
    h.attach('c1', 'q', { credit: 100 });
    h.send('q', 'A1', { group: 'A' });
    h.settleAll('c1');
    h.tick(100);
    expect(h.state.queues.get('q')!.groups.has('A')).toBe(true);
    h.tick(500);
    expect(h.state.queues.get('q')!.groups.has('A')).toBe(false);
  });

  test('unowned groups with nothing queued are dropped at once', () => {
    const h = new CoreHarness();
    h.attach('c1', 'q', { credit: 100 });
    h.send('q', 'A1', { group: 'A' });
    h.settleAll('c1');
    h.detach('c1');
    expect(h.state.queues.get('q')!.groups.size).toBe(0);
  });

  test('groupRebalance moves groups to a newcomer once they have nothing in flight', () => {
    const h = new CoreHarness({ groupRebalance: true });
    h.attach('c1', 'q', { credit: 100 });
    for (const g of ['A', 'B', 'C', 'D']) h.send('q', `${g}1`, { group: g });
    h.settle('c1', 'A1');
    h.settle('c1', 'B1');
    h.attach('c2', 'q', { credit: 100 });
    for (const g of ['A', 'B', 'C', 'D']) h.send('q', `${g}2`, { group: g });
    // A and B moved at once (nothing in flight); C and D wait for their in-flight message... and stay with c1
    // because two of four groups already moved.
    expect(h.labels('c2').sort()).toEqual(['A2', 'B2']);
    expect(h.labels('c1')).toEqual(['A1', 'B1', 'C1', 'D1', 'C2', 'D2']);
  });

  test('groupRebalance: a group with messages in flight moves only after they are settled', () => {
    const h = new CoreHarness({ groupRebalance: true });
    h.attach('c1', 'q', { credit: 100 });
    h.send('q', 'A1', { group: 'A' });
    h.send('q', 'B1', { group: 'B' });
    h.attach('c2', 'q', { credit: 100 });
    h.send('q', 'A2', { group: 'A' });
    h.send('q', 'B2', { group: 'B' });
    const states = [...h.state.queues.get('q')!.groups.values()].map((g) => g.state);
    expect(states.filter((s) => s === 'moving')).toHaveLength(1);
    expect(h.labels('c2')).toEqual([]);
    h.settleAll('c1');
    expect(h.labels('c2')).toHaveLength(1);
  });

  test('groupKey reads the group from what the AMQP layer extracted: other groups are independent', () => {
    const h = new CoreHarness();
    h.attach('c1', 'q', { credit: 100 });
    h.send('q', 'x', { group: 'k1' });
    expect(h.state.queues.get('q')!.groups.get('k1')!.owner!.id).toBe('c1');
  });
});

describe('exclusive consumers', () => {
  test('only the active exclusive consumer receives; the others wait', () => {
    const h = new CoreHarness();
    h.attach('e1', 'q', { credit: 10, exclusive: true });
    h.attach('e2', 'q', { credit: 10, exclusive: true });
    h.attach('plain', 'q', { credit: 10 });
    for (let i = 0; i < 3; i++) h.send('q', `m${i}`, { group: i === 1 ? 'G' : undefined });
    expect(h.labels('e1')).toEqual(['m0', 'm1', 'm2']);
    expect(h.labels('e2')).toEqual([]);
    expect(h.labels('plain')).toEqual([]);
  });

  test('on detach the next one takes over after the unsettled messages returned, in order', () => {
    const h = new CoreHarness();
    h.attach('e1', 'q', { credit: 2, exclusive: true });
    h.attach('e2', 'q', { credit: 10, exclusive: true });
    for (let i = 0; i < 4; i++) h.send('q', `m${i}`);
    h.detach('e1');
    expect(h.labels('e2')).toEqual(['m0', 'm1', 'm2', 'm3']);
    expect(h.delivered.filter((d) => d.consumer === 'e2').map((d) => d.deliveryCount)).toEqual([1, 1, 0, 0]);
  });

  test('a higher-priority newcomer takes over only once the active one has nothing unsettled', () => {
    const h = new CoreHarness();
    h.attach('e1', 'q', { credit: 10, exclusive: true });
    h.send('q', 'm1');
    h.attach('e2', 'q', { credit: 10, exclusive: true, priority: 5 });
    h.send('q', 'm2');
    expect(h.labels('e1')).toEqual(['m1']);
    expect(h.labels('e2')).toEqual([]);
    h.settle('e1', 'm1');
    expect(h.labels('e2')).toEqual(['m2']);
    expect(h.effectsOf('exclusive-active').map((e) => e.consumerId)).toEqual(['e1', 'e2']);
  });

  test('the queue option exclusive makes every consumer exclusive', () => {
    const h = new CoreHarness({ exclusive: true });
    h.attach('c1', 'q', { credit: 10 });
    h.attach('c2', 'q', { credit: 10 });
    for (let i = 0; i < 3; i++) h.send('q', `m${i}`);
    expect(h.labels('c1')).toHaveLength(3);
    expect(h.labels('c2')).toHaveLength(0);
  });

  test('an exclusive consumer attaching over parked groups takes every message in queue order', () => {
    const h = new CoreHarness();
    h.attach('c1', 'q', { credit: 1 });
    for (let i = 1; i <= 3; i++) h.send('q', `A${i}`, { group: 'A' });
    h.send('q', 'u1');
    h.attach('e', 'q', { credit: 10, exclusive: true });
    expect(h.labels('c1')).toEqual(['A1']);
    expect(h.labels('e')).toEqual(['A2', 'A3', 'u1']);
  });

  test('after the last exclusive consumer leaves, groups apply again', () => {
    const h = new CoreHarness();
    h.attach('e', 'q', { credit: 10, exclusive: true });
    h.attach('c1', 'q', { credit: 10 });
    h.attach('c2', 'q', { credit: 10 });
    h.detach('e');
    for (const g of ['A', 'B', 'A', 'B']) h.send('q', g, { group: g });
    expect(new Set(h.labels('c1')).size).toBe(1);
    expect(new Set(h.labels('c2')).size).toBe(1);
  });
});

describe('why a group waits (GroupView state, blockedReason, wakesOn)', () => {
  function view(h: CoreHarness, group: string) {
    return groupViews(h.state.queues.get('q')!).find((g) => g.id === group)!;
  }

  test('owner-has-no-credit until the owner gets credit', () => {
    const h = new CoreHarness();
    h.attach('c1', 'q', { credit: 1 });
    h.send('q', 'A1', { group: 'A' });
    h.send('q', 'A2', { group: 'A' });
    expect(view(h, 'A')).toMatchObject({ state: 'owned', owner: 'c1', blockedReason: 'owner-has-no-credit', wakesOn: 'owner-credit' });
    h.credit('c1', 1);
    expect(view(h, 'A')).toMatchObject({ state: 'owned', queued: 0, blockedReason: null, wakesOn: null });
  });

  test('awaiting-settlement-before-move while a rebalanced group still has a message in flight', () => {
    const h = new CoreHarness({ groupRebalance: true });
    h.attach('c1', 'q', { credit: 10 });
    h.send('q', 'A1', { group: 'A' });
    h.send('q', 'B1', { group: 'B' });
    h.attach('c2', 'q', { credit: 10 });
    h.send('q', 'A2', { group: 'A' });
    expect(view(h, 'A')).toMatchObject({
      state: 'moving',
      owner: 'c1',
      moveTo: 'c2',
      blockedReason: 'awaiting-settlement-before-move',
      wakesOn: 'settlement',
    });
    h.settle('c1', 'A1');
    expect(view(h, 'A')).toMatchObject({ state: 'owned', owner: 'c2', blockedReason: null });
    expect(h.labels('c2')).toEqual(['A2']);
  });

  test('max-in-flight-per-group, closing-awaits-settlement and owner-refused-message wait for a settlement', () => {
    const strict = new CoreHarness({ maxInFlightPerGroup: 1 });
    strict.attach('c1', 'q', { credit: 10 });
    strict.send('q', 'A1', { group: 'A' });
    strict.send('q', 'A2', { group: 'A' });
    expect(view(strict, 'A')).toMatchObject({ blockedReason: 'max-in-flight-per-group', wakesOn: 'settlement' });

    const closing = new CoreHarness();
    closing.attach('c1', 'q', { credit: 10 });
    closing.send('q', 'A1', { group: 'A', closes: true });
    closing.send('q', 'A2', { group: 'A' });
    expect(view(closing, 'A')).toMatchObject({ state: 'closing', blockedReason: 'closing-awaits-settlement', wakesOn: 'settlement' });

    const refused = new CoreHarness();
    refused.attach('c1', 'q', { credit: 10 });
    refused.attach('c2', 'q', { credit: 10 });
    refused.send('q', 'A1', { group: 'A' });
    refused.send('q', 'A2', { group: 'A' });
    refused.settle('c1', 'A1', notHere);
    expect(view(refused, 'A')).toMatchObject({ state: 'owned', owner: 'c1', blockedReason: 'owner-refused-message', wakesOn: 'settlement' });
    refused.settle('c1', 'A2', released);
    expect(refused.labels('c2')).toEqual(['A1', 'A2']);
  });

  test('no-eligible-consumer until a consumer that did not refuse the message gets credit', () => {
    const h = new CoreHarness();
    h.send('q', 'A1', { group: 'A' });
    expect(view(h, 'A')).toMatchObject({ state: 'unowned', owner: null, blockedReason: 'no-eligible-consumer', wakesOn: 'eligible-consumer-credit' });
    h.attach('c1', 'q', { credit: 10 });
    h.settle('c1', 'A1', notHere);
    expect(view(h, 'A')).toMatchObject({ owner: 'c1', blockedReason: 'no-eligible-consumer' });
    h.attach('c2', 'q', { credit: 1 });
    expect(h.labels('c2')).toEqual(['A1']);
    expect(view(h, 'A')).toMatchObject({ owner: 'c2', blockedReason: null });
  });

  test('queue-is-exclusive: groups play no role while an exclusive consumer is attached', () => {
    const h = new CoreHarness();
    h.attach('e1', 'q', { exclusive: true });
    h.send('q', 'A1', { group: 'A' });
    expect(view(h, 'A')).toMatchObject({ blockedReason: 'queue-is-exclusive', wakesOn: 'exclusive-consumer-ready' });
  });

  test('an idle group is remembered with its owner and waits for nothing', () => {
    const h = new CoreHarness();
    h.attach('c1', 'q', { credit: 10 });
    h.send('q', 'A1', { group: 'A' });
    h.settle('c1', 'A1');
    expect(view(h, 'A')).toMatchObject({ state: 'idle', owner: 'c1', queued: 0, inFlight: 0, blockedReason: null, wakesOn: null });
  });
});
