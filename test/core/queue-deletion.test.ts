import { describe, expect, test } from 'vitest';
import { CoreHarness, labelOf, notHere } from './harness';

describe('delete-queue', () => {
  test('every message goes, in queue order, wherever it waited: main, deferred, parked with its group', () => {
    const h = new CoreHarness();
    h.attach('c1', 'q', { credit: 3 });
    h.send('q', 'u1');
    h.settle('c1', 'u1', notHere);
    h.send('q', 'A2', { group: 'A' });
    h.send('q', 'u3');
    h.send('q', 'A4', { group: 'A' });
    h.attach('c2', 'q', { credit: 3 });
    h.settle('c2', 'u1', notHere);
    h.send('q', 'u5');
    h.detach('c2');
    h.detach('c1');
    // u1 was refused by both (it waits for a consumer that may take it), A2 and A4 wait parked with group A,
    // u3 and u5 are back in main.
    const queue = h.state.queues.get('q')!;
    expect([queue.main.size, queue.waiting.size, queue.groups.get('A')!.parked!.size]).toEqual([2, 1, 2]);
    h.clearRecords();
    h.run({ type: 'delete-queue', queue: 'q' });
    const removed = h.effectsOf('removed');
    expect(removed.map((e) => [labelOf(e.message.body as Uint8Array), e.reason])).toEqual([
      ['u1', 'queue-deleted'],
      ['A2', 'queue-deleted'],
      ['u3', 'queue-deleted'],
      ['A4', 'queue-deleted'],
      ['u5', 'queue-deleted'],
    ]);
    expect(h.effects.at(-1)).toEqual({ type: 'queue-deleted', queue: 'q' });
    expect(h.state.queues.has('q')).toBe(false);
  });

  test('a queue with a consumer attached is not deleted: a programming error, nothing changes', () => {
    const h = new CoreHarness();
    h.attach('c1', 'q');
    h.send('q', 'm1');
    expect(() => h.run({ type: 'delete-queue', queue: 'q' })).toThrow(/consumer/);
    expect(h.state.queues.get('q')!.queuedCount).toBe(1);
  });

  test('the name can be used again: a fresh queue, positions from the start, no groups remembered', () => {
    const h = new CoreHarness();
    h.attach('c1', 'q', { credit: 5 });
    h.send('q', 'A1', { group: 'A' });
    h.settle('c1', 'A1');
    h.detach('c1');
    h.run({ type: 'delete-queue', queue: 'q' });
    h.clearRecords();
    h.send('q', 'm1');
    expect(h.effectsOf('queue-created').map((e) => e.queue)).toEqual(['q']);
    expect(h.state.queues.get('q')!.groups.size).toBe(0);
    expect(h.effectsOf('enqueued')[0]!.message.seq).toBe(1);
  });

  test('deleting a queue that does not exist does nothing', () => {
    const h = new CoreHarness();
    expect(h.run({ type: 'delete-queue', queue: 'nothing' })).toEqual([]);
  });
});
