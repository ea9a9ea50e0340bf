import { describe, expect, test } from 'vitest';
import { findGroup, groupPage, queueView } from '../../src/core/inspect';
import { CoreHarness, failed, notHere, rejected, released } from './harness';

function queueOf(h: CoreHarness, name: string) {
  const queue = h.state.queues.get(name);
  if (!queue) throw new Error(`no queue ${name}`);
  return queue;
}

function group(h: CoreHarness, queue: string, id: string) {
  return findGroup(queueOf(h, queue), id);
}

describe('purge', () => {
  test('removes every queued message (parked, refused, not yet looked at), leaves deliveries in flight to settle', () => {
    const h = new CoreHarness();
    h.attach('c1', 'q', { credit: 2 });
    h.send('q', 'A1', { group: 'A' });
    h.send('q', 'u1');
    h.send('q', 'A2', { group: 'A' }); // parked: the owner has no credit left
    h.send('q', 'u2');
    h.send('q', 'B1', { group: 'B' });
    expect(h.labels('c1')).toEqual(['A1', 'u1']);
    h.run({ type: 'purge', queue: 'q' });
    const purged = h.effectsOf('removed').filter((e) => e.reason === 'purged');
    expect(purged.map((e) => Buffer.from(e.message.body as Uint8Array).toString())).toEqual(['A2', 'u2', 'B1']);
    const queue = queueOf(h, 'q');
    expect(queue.queuedCount).toBe(0);
    expect(queue.inFlightCount).toBe(2);
    // A keeps its owner while A1 is in flight; B (never delivered, no owner) is forgotten.
    expect(group(h, 'q', 'A')).toMatchObject({ owner: 'c1', queued: 0, inFlight: 1, blockedReason: null });
    expect(group(h, 'q', 'B')).toBeNull();
    expect(queue.groupsWithQueued).toBe(0);
    // In flight was not purged: released, A1 is queued again and goes out again.
    h.settle('c1', 'A1', released);
    h.credit('c1', 5);
    expect(h.labels('c1')).toEqual(['A1', 'u1', 'A1']);
  });

  test('an ungrouped message every consumer refused (it waits for one that may take it) is purged too', () => {
    const h = new CoreHarness();
    h.attach('c1', 'q', { credit: 2 });
    h.send('q', 'u1');
    h.settle('c1', 'u1', notHere);
    expect(queueOf(h, 'q').waiting.size).toBe(1);
    h.run({ type: 'purge', queue: 'q' });
    expect(queueOf(h, 'q').waiting.size).toBe(0);
    expect(queueOf(h, 'q').queuedCount).toBe(0);
  });

  test('in exclusive mode, a message the active consumer refused (deferred) is purged too', () => {
    const h = new CoreHarness();
    h.attach('c1', 'q', { credit: 2, exclusive: true });
    h.send('q', 'u1');
    h.settle('c1', 'u1', notHere);
    expect(queueOf(h, 'q').deferred.size).toBe(1);
    h.run({ type: 'purge', queue: 'q' });
    expect(queueOf(h, 'q').deferred.size).toBe(0);
    expect(queueOf(h, 'q').queuedCount).toBe(0);
  });

  test('a group whose queued messages were purged stays with its owner (idle): its next message still goes there', () => {
    const h = new CoreHarness();
    h.attach('c1', 'q', { credit: 1 });
    h.attach('c2', 'q', { credit: 0 });
    h.send('q', 'A1', { group: 'A' });
    h.send('q', 'A2', { group: 'A' });
    h.settle('c1', 'A1');
    h.run({ type: 'purge', queue: 'q' });
    expect(group(h, 'q', 'A')).toMatchObject({ state: 'idle', owner: 'c1' });
    h.credit('c2', 5);
    h.credit('c1', 5);
    h.send('q', 'A3', { group: 'A' });
    expect(h.labels('c1')).toEqual(['A1', 'A3']);
  });

  test('a queue that does not exist is not created', () => {
    const h = new CoreHarness();
    expect(h.run({ type: 'purge', queue: 'nowhere' })).toEqual([]);
    expect(h.state.queues.has('nowhere')).toBe(false);
  });
});

describe('release-group', () => {
  test('with nothing in flight the group leaves its owner at once; its next message goes to a fresh pick', () => {
    const h = new CoreHarness();
    h.attach('c1', 'q', { credit: 10 });
    h.send('q', 'A1', { group: 'A' });
    h.settle('c1', 'A1');
    h.attach('c2', 'q', { credit: 10 });
    h.send('q', 'B1', { group: 'B' }); // c2 now owns B: both own one group
    h.run({ type: 'release-group', queue: 'q', groupId: 'A' });
    expect(group(h, 'q', 'A')).toBeNull(); // idle and ownerless: forgotten
    h.send('q', 'C1', { group: 'C' }); // c1 owns nothing now: C goes to it
    h.send('q', 'A2', { group: 'A' }); // a fresh pick again: c1 has C, c2 has B; rotation gives c2
    expect(h.labels('c1')).toEqual(['A1', 'C1']);
    expect(h.labels('c2')).toEqual(['B1', 'A2']);
  });

  test('with messages in flight it moves once they are settled, never to two owners at once', () => {
    const h = new CoreHarness();
    h.attach('c1', 'q', { credit: 1 });
    h.attach('c2', 'q', { credit: 10 });
    h.send('q', 'A1', { group: 'A' });
    h.send('q', 'A2', { group: 'A' });
    expect(h.labels('c1')).toEqual(['A1']);
    h.run({ type: 'release-group', queue: 'q', groupId: 'A' });
    expect(group(h, 'q', 'A')).toMatchObject({
      state: 'moving',
      owner: 'c1',
      moveTo: null,
      blockedReason: 'awaiting-settlement-before-move',
      wakesOn: 'settlement',
    });
    h.credit('c1', 10);
    expect(h.labels('c2')).toEqual([]); // A2 waits: c1 still holds A1
    expect(h.labels('c1')).toEqual(['A1']); // and the old owner gets nothing new of A either
    h.settle('c1', 'A1');
    // Assigned afresh: both consumers own nothing and have credit; the rotation picks c2 (after c1).
    expect(h.labels('c2')).toEqual(['A2']);
    expect(group(h, 'q', 'A')).toMatchObject({ state: 'owned', owner: 'c2' });
  });

  test('a returned in-flight message finishes the move too (consumer gone)', () => {
    const h = new CoreHarness();
    h.attach('c1', 'q', { credit: 5 });
    h.send('q', 'A1', { group: 'A' });
    h.run({ type: 'release-group', queue: 'q', groupId: 'A' });
    h.settle('c1', 'A1', failed);
    expect(group(h, 'q', 'A')).toMatchObject({ state: 'owned', owner: 'c1', queued: 0, inFlight: 1 });
    expect(h.labels('c1')).toEqual(['A1', 'A1']);
  });

  test('a moving group (groupRebalance) released goes to a fresh pick instead of the move target', () => {
    const h = new CoreHarness({ groupRebalance: true });
    h.attach('c1', 'q', { credit: 10 });
    for (const id of ['A', 'B']) h.send('q', `${id}1`, { group: id });
    h.attach('c2', 'q', { credit: 0 });
    expect(group(h, 'q', 'A')).toMatchObject({ state: 'moving', moveTo: 'c2' });
    h.run({ type: 'release-group', queue: 'q', groupId: 'A' });
    expect(group(h, 'q', 'A')).toMatchObject({ state: 'moving', moveTo: null, owner: 'c1' });
    h.settle('c1', 'A1');
    expect(group(h, 'q', 'A')).toBeNull();
  });

  test('a closing group, an unknown group and an unknown queue are left alone', () => {
    const h = new CoreHarness();
    h.attach('c1', 'q', { credit: 10 });
    h.send('q', 'A1', { group: 'A', closes: true });
    const before = group(h, 'q', 'A');
    expect(h.run({ type: 'release-group', queue: 'q', groupId: 'A' })).toEqual([]);
    expect(group(h, 'q', 'A')).toEqual(before);
    expect(h.run({ type: 'release-group', queue: 'q', groupId: 'nope' })).toEqual([]);
    expect(h.run({ type: 'release-group', queue: 'nowhere', groupId: 'A' })).toEqual([]);
    expect(h.state.queues.has('nowhere')).toBe(false);
  });
});

describe('retry-dead-letters', () => {
  function deadLetter(h: CoreHarness, consumer: string, queue: string, labels: string[], group?: string): void {
    h.attach(consumer, queue, { credit: labels.length });
    for (const label of labels) h.send(queue, label, group === undefined ? {} : { group });
    for (const label of labels) h.settle(consumer, label, rejected);
    h.detach(consumer);
  }

  test('dead letters go back to the end of the queue they came from, in dead-letter order, with delivery-count 0', () => {
    const h = new CoreHarness({ maxDeliveryAttempts: 2 });
    deadLetter(h, 'c1', 'orders', ['o1', 'o2']);
    h.attach('c2', 'orders', { credit: 2 });
    h.send('orders', 'poison');
    h.settle('c2', 'poison', failed);
    h.settle('c2', 'poison', failed); // delivery-count 2: dead-lettered as a poison message
    h.detach('c2');
    h.send('orders', 'o3');
    const dlq = queueOf(h, 'DLQ');
    expect(dlq.queuedCount).toBe(3);
    expect([...dlq.main].map((m) => m.deadLetteredFrom)).toEqual(['orders', 'orders', 'orders']);
    h.clearRecords();
    h.run({ type: 'retry-dead-letters', queue: 'DLQ', from: null, limit: null });
    expect(h.effectsOf('retried').map((e) => e.originQueue)).toEqual(['orders', 'orders', 'orders']);
    expect(dlq.queuedCount).toBe(0);
    h.attach('c3', 'orders', { credit: 10 });
    expect(h.delivered.map((d) => [d.label, d.deliveryCount])).toEqual([
      ['o3', 0],
      ['o1', 0],
      ['o2', 0],
      ['poison', 0],
    ]);
    expect(h.delivered.every((d) => d.consumer === 'c3')).toBe(true);
  });

  test('from picks the origin queue, limit bounds the count; messages of unknown origin stay', () => {
    const h = new CoreHarness();
    deadLetter(h, 'c1', 'a', ['a1', 'a2', 'a3']);
    deadLetter(h, 'c2', 'b', ['b1']);
    h.send('DLQ', 'sent-directly');
    h.run({ type: 'retry-dead-letters', queue: 'DLQ', from: 'a', limit: 2 });
    expect(queueOf(h, 'a').queuedCount).toBe(2);
    expect(queueOf(h, 'b').queuedCount).toBe(0);
    const left = () => [...queueOf(h, 'DLQ').main].sort((x, y) => x.seq - y.seq).map((m) => Buffer.from(m.body as Uint8Array).toString());
    expect(left()).toEqual(['a3', 'b1', 'sent-directly']);
    h.run({ type: 'retry-dead-letters', queue: 'DLQ', from: null, limit: null });
    expect(left()).toEqual(['sent-directly']);
    expect(queueOf(h, 'a').queuedCount).toBe(3);
    expect(queueOf(h, 'b').queuedCount).toBe(1);
  });

  test('grouped dead letters keep their group; a group waiting in the dead-letter queue is looked at again', () => {
    const h = new CoreHarness();
    deadLetter(h, 'c1', 'q', ['A1', 'A2'], 'A');
    h.send('DLQ', 'A3', { group: 'A' }); // unknown origin: stays
    h.attach('d', 'DLQ', { credit: 0 });
    h.run({ type: 'retry-dead-letters', queue: 'DLQ', from: null, limit: 1 });
    expect(group(h, 'DLQ', 'A')).toMatchObject({ queued: 2, blockedReason: 'no-eligible-consumer' });
    h.credit('d', 10);
    expect(h.labels('d')).toEqual(['A2', 'A3']);
    expect(group(h, 'q', 'A')).toMatchObject({ queued: 1, owner: null });
  });

  test('a dead-letter queue that does not exist is not created', () => {
    const h = new CoreHarness();
    expect(h.run({ type: 'retry-dead-letters', queue: 'DLQ', from: null, limit: null })).toEqual([]);
    expect(h.state.queues.has('DLQ')).toBe(false);
  });
});

describe('groups for operators', () => {
  test('pages in the order the queue came to know its groups, searched by prefix, continued after the previous page', () => {
    const h = new CoreHarness();
    for (const id of ['b2', 'a1', 'b10', 'b1', 'c', 'ab']) h.send('q', id, { group: id });
    const queue = queueOf(h, 'q');
    const page = (prefix: string, after: string | null, limit: number, maxScanned = 1000) => {
      const result = groupPage(queue, { prefix, after, limit, maxScanned });
      if ('afterGone' in result) throw new Error('after is gone');
      return { ids: result.groups.map((g) => g.id), next: result.next, scanned: result.scanned };
    };
    expect(page('', null, 100)).toEqual({ ids: ['b2', 'a1', 'b10', 'b1', 'c', 'ab'], next: null, scanned: 6 });
    const first = page('b', null, 2);
    expect(first).toEqual({ ids: ['b2', 'b10'], next: 'b10', scanned: 3 });
    expect(page('b', first.next, 2)).toEqual({ ids: ['b1'], next: null, scanned: 3 });
    // The work per request is bounded: a rare prefix is searched page by page.
    expect(page('c', null, 10, 2)).toEqual({ ids: [], next: 'a1', scanned: 2 });
    expect(page('c', 'a1', 10, 2)).toEqual({ ids: [], next: 'b1', scanned: 2 });
    expect(page('c', 'b1', 10, 2)).toEqual({ ids: ['c'], next: null, scanned: 2 });
    expect(groupPage(queue, { prefix: '', after: 'zz', limit: 5, maxScanned: 10 })).toEqual({ afterGone: true });
  });

  test('a group forgotten and used again moves to the end of the list', () => {
    const h = new CoreHarness();
    h.attach('c1', 'q', { credit: 10, settleOnSend: true });
    h.detach('c1');
    for (const id of ['A', 'B', 'C']) h.send('q', id, { group: id });
    h.run({ type: 'purge', queue: 'q' }); // no owners: all three are forgotten
    for (const id of ['B', 'D', 'A']) h.send('q', id, { group: id });
    const result = groupPage(queueOf(h, 'q'), { prefix: '', after: null, limit: 10, maxScanned: 10 });
    expect('groups' in result && result.groups.map((g) => g.id)).toEqual(['B', 'D', 'A']);
  });

  test('the queue view counts groups with an owner and groups that wait', () => {
    const h = new CoreHarness();
    h.attach('c1', 'q', { credit: 1 });
    h.send('q', 'A1', { group: 'A' });
    h.send('q', 'A2', { group: 'A' });
    h.send('q', 'B1', { group: 'B' });
    expect(queueView(queueOf(h, 'q'))).toMatchObject({ groups: 2, groupsOwned: 1, groupsBlocked: 2 });
    h.settle('c1', 'A1');
    h.credit('c1', 10);
    expect(queueView(queueOf(h, 'q'))).toMatchObject({ groups: 2, groupsOwned: 2, groupsBlocked: 0 });
  });
});
