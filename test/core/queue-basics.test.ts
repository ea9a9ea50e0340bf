import { describe, expect, test } from 'vitest';
import { CoreHarness, failed, notHere, rejected, released } from './harness';

describe('plain queues', () => {
  test('messages are delivered in FIFO order within the consumer credit', () => {
    const h = new CoreHarness();
    for (const label of ['m1', 'm2', 'm3']) h.send('q', label);
    h.attach('c1', 'q', { credit: 2 });
    expect(h.labels('c1')).toEqual(['m1', 'm2']);
    h.credit('c1', 5);
    expect(h.labels('c1')).toEqual(['m1', 'm2', 'm3']);
  });

  test('a consumer never receives more than its credit', () => {
    const h = new CoreHarness();
    h.attach('c1', 'q', { credit: 1 });
    for (let i = 0; i < 5; i++) h.send('q', `m${i}`);
    expect(h.labels('c1')).toEqual(['m0']);
    expect(h.state.consumers.get('c1')!.credit).toBe(0);
  });

  test('competing consumers share messages round-robin', () => {
    const h = new CoreHarness();
    h.attach('c1', 'q', { credit: 10 });
    h.attach('c2', 'q', { credit: 10 });
    h.attach('c3', 'q', { credit: 10 });
    for (let i = 0; i < 6; i++) h.send('q', `m${i}`);
    expect(h.labels('c1')).toEqual(['m0', 'm3']);
    expect(h.labels('c2')).toEqual(['m1', 'm4']);
    expect(h.labels('c3')).toEqual(['m2', 'm5']);
  });

  test('accepted removes the message', () => {
    const h = new CoreHarness();
    h.attach('c1', 'q', { credit: 10 });
    h.send('q', 'm1');
    h.settle('c1', 'm1');
    const queue = h.state.queues.get('q')!;
    expect(queue.queuedCount + queue.inFlightCount).toBe(0);
    expect(h.effectsOf('removed').map((e) => e.reason)).toEqual(['accepted']);
  });

  test('released goes back to its original position with delivery-count unchanged', () => {
    const h = new CoreHarness();
    for (const label of ['m1', 'm2', 'm3']) h.send('q', label);
    h.attach('c1', 'q', { credit: 2 });
    h.settle('c1', 'm1', released);
    h.credit('c1', 3);
    expect(h.labels('c1')).toEqual(['m1', 'm2', 'm1', 'm3']);
    expect(h.delivered[2]!.deliveryCount).toBe(0);
  });

  test('modified{delivery-failed} returns the message with delivery-count + 1', () => {
    const h = new CoreHarness();
    h.send('q', 'm1');
    h.send('q', 'm2');
    h.attach('c1', 'q', { credit: 1 });
    h.settle('c1', 'm1', failed);
    h.credit('c1', 1);
    expect(h.labels('c1')).toEqual(['m1', 'm1']);
    expect(h.delivered[1]!.deliveryCount).toBe(1);
  });

  test('modified{undeliverable-here} never goes to that consumer again', () => {
    const h = new CoreHarness();
    h.attach('c1', 'q', { credit: 10 });
    h.send('q', 'm1');
    h.settle('c1', 'm1', notHere);
    h.send('q', 'm2');
    expect(h.labels('c1')).toEqual(['m1', 'm2']);
    h.attach('c2', 'q', { credit: 10 });
    expect(h.labels('c2')).toEqual(['m1']);
  });

  test('rejected goes to the dead-letter queue with its bytes', () => {
    const h = new CoreHarness();
    h.attach('c1', 'q', { credit: 10 });
    h.send('q', 'm1');
    h.settle('c1', 'm1', rejected);
    const dead = h.effectsOf('dead-lettered');
    expect(dead).toHaveLength(1);
    expect(dead[0]!.deadLetterQueue).toBe('DLQ');
    expect(dead[0]!.reason).toBe('rejected');
    h.attach('d', 'DLQ', { credit: 10 });
    expect(h.labels('d')).toEqual(['m1']);
  });

  test('a queue may name its own dead-letter queue', () => {
    const h = new CoreHarness({}, { q: { deadLetterQueue: 'q.dead' } });
    h.attach('c1', 'q', { credit: 10 });
    h.send('q', 'm1');
    h.settle('c1', 'm1', rejected);
    expect(h.effectsOf('dead-lettered')[0]!.deadLetterQueue).toBe('q.dead');
  });

  test('maxDeliveryAttempts sends the message to the dead-letter queue', () => {
    const h = new CoreHarness({ maxDeliveryAttempts: 3 });
    h.attach('c1', 'q', { credit: 100 });
    h.send('q', 'm1');
    h.settle('c1', 'm1', failed);
    h.settle('c1', 'm1', failed);
    expect(h.effectsOf('dead-lettered')).toHaveLength(0);
    h.settle('c1', 'm1', failed);
    expect(h.labels('c1')).toEqual(['m1', 'm1', 'm1']);
    const dead = h.effectsOf('dead-lettered');
    expect(dead).toHaveLength(1);
    expect(dead[0]!.reason).toBe('max-delivery-attempts');
    expect(dead[0]!.message.deliveryCount).toBe(3);
  });

  test('failing in the dead-letter queue itself drops the message instead of looping', () => {
    const h = new CoreHarness();
    h.attach('d', 'DLQ', { credit: 10 });
    h.send('DLQ', 'm1');
    h.settle('d', 'm1', rejected);
    expect(h.effectsOf('removed').map((e) => e.reason)).toEqual(['dead-letter-loop']);
  });

  test('a detaching consumer returns every unsettled message to its position with delivery-count + 1', () => {
    const h = new CoreHarness();
    for (const label of ['m1', 'm2', 'm3', 'm4']) h.send('q', label);
    h.attach('c1', 'q', { credit: 3 });
    h.settle('c1', 'm2');
    h.detach('c1');
    h.attach('c2', 'q', { credit: 10 });
    expect(h.labels('c2')).toEqual(['m1', 'm3', 'm4']);
    expect(h.delivered.filter((d) => d.consumer === 'c2').map((d) => d.deliveryCount)).toEqual([1, 1, 0]);
  });

  test('pre-settled consumers remove the message as it is sent (at-most-once)', () => {
    const h = new CoreHarness();
    h.attach('c1', 'q', { credit: 10, settleOnSend: true });
    h.send('q', 'm1');
    expect(h.delivered[0]!.settled).toBe(true);
    h.detach('c1');
    expect(h.state.queues.get('q')!.queuedCount).toBe(0);
  });

  test('expired messages are never delivered', () => {
    const h = new CoreHarness();
    h.send('q', 'old', { expiresAtMs: h.nowMs + 100 });
    h.send('q', 'fresh');
    h.tick(200);
    h.attach('c1', 'q', { credit: 10 });
    expect(h.labels('c1')).toEqual(['fresh']);
    expect(h.effectsOf('removed').map((e) => e.reason)).toEqual(['expired']);
  });

  test('a message that expires while parked behind credit is not delivered later', () => {
    const h = new CoreHarness();
    h.attach('c1', 'q', { credit: 0 });
    h.send('q', 'm1', { expiresAtMs: h.nowMs + 50 });
    h.nowMs += 100;
    h.credit('c1', 1);
    expect(h.labels('c1')).toEqual([]);
  });

  test('drain uses up the remaining credit once nothing more is available', () => {
    const h = new CoreHarness();
    h.send('q', 'm1');
    h.attach('c1', 'q');
    const effects = h.credit('c1', 5, true);
    expect(h.labels('c1')).toEqual(['m1']);
    expect(effects.map((e) => e.type)).toContain('drained');
    expect(h.state.consumers.get('c1')!.credit).toBe(0);
    h.send('q', 'm2');
    expect(h.labels('c1')).toEqual(['m1']);
  });

  test('higher-priority consumers are served first; lower ones get messages when those have no credit', () => {
    const h = new CoreHarness();
    h.attach('low', 'q', { credit: 10, priority: 0 });
    h.attach('high', 'q', { credit: 2, priority: 5 });
    for (let i = 0; i < 4; i++) h.send('q', `m${i}`);
    expect(h.labels('high')).toEqual(['m0', 'm1']);
    expect(h.labels('low')).toEqual(['m2', 'm3']);
  });
});

describe('recovery', () => {
  test('recovered messages keep their ids, positions, groups and delivery-counts; new ones continue after them', () => {
    const h = new CoreHarness();
    const meta = (groupId: string | null, deliveryCount: number) => ({ groupId, closesGroup: false, expiresAtMs: null, deliveryCount, durable: true });
    h.run({ type: 'recover', queue: 'q', message: { id: 7, seq: 3, meta: meta('A', 2), body: Buffer.from('r3') } });
    h.run({ type: 'recover', queue: 'q', message: { id: 5, seq: 1, meta: meta('A', 0), body: Buffer.from('r1') } });
    expect(h.effectsOf('enqueued')).toHaveLength(0);
    h.send('q', 'new', { group: 'A' });
    h.attach('c1', 'q', { credit: 10 });
    expect(h.labels('c1')).toEqual(['r1', 'r3', 'new']);
    expect(h.delivered.map((d) => d.deliveryCount)).toEqual([0, 2, 0]);
    expect(h.effectsOf('enqueued')[0]!.message.id).toBe(8);
    expect(h.effectsOf('enqueued')[0]!.message.seq).toBe(4);
  });
});
