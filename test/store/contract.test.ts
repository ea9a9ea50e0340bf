import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { describe, expect, test } from 'vitest';
import type { MessageMeta, StoredBody } from '../../src/core/types';
import { JournalStore } from '../../src/store/journal-store';
import { MemoryMedium, MemoryStore } from '../../src/store/memory-store';
import type { MessageStore, RecoveredStore } from '../../src/store/types';

/** A store backend under test: `restart` opens a fresh store over what the previous one left behind. */
interface Backend {
  readonly name: string;
  create(): { store: MessageStore; restart(options?: { crash?: boolean; keepInMemoryBytes?: number }): { store: MessageStore; recovered: RecoveredStore } };
}

const quiet = pino({ level: 'silent' });

const backends: Backend[] = [
  {
    name: 'memory',
    create() {
      const medium = new MemoryMedium();
      const store = new MemoryStore(medium);
      store.open(Infinity);
      return {
        store,
        restart: (options = {}) => {
          const next = new MemoryStore(medium);
          return { store: next, recovered: next.open(options.keepInMemoryBytes ?? Infinity) };
        },
      };
    },
  },
  {
    name: 'journal',
    create() {
      const dir = mkdtempSync(join(tmpdir(), 'convoy-journal-'));
      const make = (): JournalStore => new JournalStore({ dir, fsync: { mode: 'batch' }, segmentBytes: 4096, logger: quiet });
      let current = make();
      current.open(Infinity);
      return {
        store: current,
        restart: (options = {}) => {
          // A crash leaves what was written (the page cache) but runs no close.
          if (options.crash) current.writePending();
          else current.close();
          current = make();
          return { store: current, recovered: current.open(options.keepInMemoryBytes ?? Infinity) };
        },
      };
    },
  },
];

function meta(overrides: Partial<MessageMeta> = {}): MessageMeta {
  return { groupId: null, closesGroup: false, expiresAtMs: null, deliveryCount: 0, durable: true, ...overrides };
}

function bodiesOf(recovered: RecoveredStore, queue: string, store: MessageStore): string[] {
  const found = recovered.queues.find((q) => q.name === queue);
  return (found?.messages ?? []).map((m) => Buffer.from(m.body instanceof Uint8Array ? m.body : store.readBody(m.body as StoredBody)).toString());
}

for (const backend of backends) {
  describe(`store contract: ${backend.name}`, () => {
    test('durable messages come back per queue in position order with their metadata', () => {
      const { store, restart } = backend.create();
      store.declareQueue('a');
      store.add({ id: 2, queue: 'a', seq: 2, meta: meta({ groupId: 'G', closesGroup: true, expiresAtMs: 123 }) }, Buffer.from('a2'), false);
      store.add({ id: 1, queue: 'a', seq: 1, meta: meta() }, Buffer.from('a1'), false);
      store.add({ id: 3, queue: 'b', seq: 1, meta: meta({ groupId: 'H' }) }, Buffer.from('b1'), false);
      const { store: next, recovered } = restart();
      expect(bodiesOf(recovered, 'a', next)).toEqual(['a1', 'a2']);
      expect(bodiesOf(recovered, 'b', next)).toEqual(['b1']);
      const a2 = recovered.queues.find((q) => q.name === 'a')!.messages[1]!;
      expect([a2.id, a2.seq, a2.meta.groupId, a2.meta.closesGroup, a2.meta.expiresAtMs]).toEqual([2, 2, 'G', true, 123]);
    });

    test('a dead-letter queue message keeps the queue it was dead-lettered from, also after compaction moved it', () => {
      const { store, restart } = backend.create();
      store.add({ id: 1, queue: 'DLQ', seq: 1, meta: meta(), deadLetteredFrom: 'orders.eu' }, Buffer.from('d1'), false);
      store.add({ id: 2, queue: 'DLQ', seq: 2, meta: meta() }, Buffer.from('d2'), false);
      // Enough traffic after them that the journal compacts their segment (4 KiB segments).
      for (let id = 3; id < 60; id++) store.add({ id, queue: 'q', seq: id, meta: meta() }, Buffer.alloc(200), false);
      for (let id = 3; id < 60; id++) store.remove(id);
      store.reclaim();
      const first = restart();
      first.store.reclaim();
      const { recovered } = restart();
      const dlq = recovered.queues.find((q) => q.name === 'DLQ')!.messages;
      expect(dlq.map((m) => [m.id, m.deadLetteredFrom ?? null])).toEqual([
        [1, 'orders.eu'],
        [2, null],
      ]);
    });

    test('removed messages do not come back; empty declared queues do', () => {
      const { store, restart } = backend.create();
      store.declareQueue('empty');
      store.add({ id: 1, queue: 'q', seq: 1, meta: meta() }, Buffer.from('x'), false);
      store.remove(1);
      const { recovered } = restart();
      expect(recovered.queues.map((q) => [q.name, q.messages.length]).sort()).toEqual([['empty', 0], ['q', 0]]);
    });

    test('a deleted queue does not come back, with the messages removed before it; declared again, it does', () => {
      const { store, restart } = backend.create();
      store.declareQueue('gone');
      store.declareQueue('kept');
      store.add({ id: 1, queue: 'gone', seq: 1, meta: meta() }, Buffer.from('x'), false);
      store.add({ id: 2, queue: 'kept', seq: 1, meta: meta() }, Buffer.from('y'), false);
      store.remove(1);
      store.deleteQueue('gone');
      const first = restart();
      expect(first.recovered.queues.map((q) => q.name)).toEqual(['kept']);
      first.store.declareQueue('gone');
      const second = restart();
      expect(second.recovered.queues.map((q) => q.name).sort()).toEqual(['gone', 'kept']);
    });

    test('delivery-count changes are kept', () => {
      const { store, restart } = backend.create();
      store.add({ id: 1, queue: 'q', seq: 1, meta: meta() }, Buffer.from('x'), false);
      store.setDeliveryCount(1, 4);
      const { recovered } = restart();
      expect(recovered.queues[0]!.messages[0]!.meta.deliveryCount).toBe(4);
    });

    test('a message that had left for a consumer comes back with delivery-count + 1, once, across restarts', () => {
      const { store, restart } = backend.create();
      store.add({ id: 1, queue: 'q', seq: 1, meta: meta({ deliveryCount: 2 }) }, Buffer.from('x'), false);
      store.add({ id: 2, queue: 'q', seq: 2, meta: meta() }, Buffer.from('y'), false);
      store.markDelivered(1);
      const first = restart({ crash: true });
      expect(first.recovered.queues[0]!.messages.map((m) => m.meta.deliveryCount)).toEqual([3, 0]);
      const second = restart({ crash: true });
      expect(second.recovered.queues[0]!.messages.map((m) => m.meta.deliveryCount)).toEqual([3, 0]);
    });

    test('non-durable messages paged to the store are not recovered', () => {
      const { store, restart } = backend.create();
      const body = store.add({ id: 1, queue: 'q', seq: 1, meta: meta({ durable: false }) }, Buffer.from('transient'), true);
      expect(body instanceof Uint8Array).toBe(false);
      expect(Buffer.from(store.readBody(body as StoredBody)).toString()).toBe('transient');
      const { recovered } = restart();
      expect(recovered.queues.flatMap((q) => q.messages)).toHaveLength(0);
    });

    test('paged bodies are read back from the store; beyond the memory budget recovery leaves bodies paged', () => {
      const { store, restart } = backend.create();
      for (let i = 1; i <= 4; i++) store.add({ id: i, queue: 'q', seq: i, meta: meta() }, Buffer.alloc(100, i), i > 2);
      const { store: next, recovered } = restart({ keepInMemoryBytes: 250 });
      const messages = recovered.queues[0]!.messages;
      expect(messages.map((m) => m.body instanceof Uint8Array)).toEqual([true, true, false, false]);
      expect(Buffer.from(next.readBody(messages[3]!.body as StoredBody))).toEqual(Buffer.alloc(100, 4));
    });

    test('priority and delivery time come back; a scheduled message keeps position 0 until setPosition gives it one', () => {
      const { store, restart } = backend.create();
      store.add({ id: 1, queue: 'q', seq: 1, meta: meta({ priority: 8 }) }, Buffer.from('high'), false);
      store.add({ id: 2, queue: 'q', seq: 0, meta: meta({ deliverAtMs: 5000 }) }, Buffer.from('later'), false);
      store.add({ id: 3, queue: 'q', seq: 0, meta: meta({ deliverAtMs: 6000, priority: 1 }) }, Buffer.from('due'), false);
      store.setPosition(3, 2);
      const { store: next, recovered } = restart();
      const messages = recovered.queues.find((q) => q.name === 'q')!.messages;
      expect(messages.map((m) => [m.id, m.seq, m.meta.priority ?? 4, m.meta.deliverAtMs ?? null])).toEqual([
        [2, 0, 4, 5000],
        [1, 1, 8, null],
        [3, 2, 1, 6000],
      ]);
      next.setPosition(2, 3);
      const { recovered: again } = restart();
      expect(again.queues.find((q) => q.name === 'q')!.messages.map((m) => [m.id, m.seq])).toEqual([
        [1, 1],
        [3, 2],
        [2, 3],
      ]);
    });

    test('topics and durable subscriptions come back; a deleted queue does not, nor its subscription', () => {
      const { store, restart } = backend.create();
      const audit = { queue: 'prices::app.audit', topic: 'prices', name: 'audit', clientId: 'app', shared: false };
      const shared = { queue: 'prices::all', topic: 'prices', name: 'all', clientId: null, shared: true };
      store.declareTopic('prices');
      store.declareTopic('news');
      for (const subscription of [audit, shared]) {
        store.declareSubscription(subscription);
        store.declareQueue(subscription.queue);
      }
      store.add({ id: 1, queue: audit.queue, seq: 1, meta: meta() }, Buffer.from('p1'), false);
      store.add({ id: 2, queue: shared.queue, seq: 1, meta: meta() }, Buffer.from('p1'), false);
      store.remove(2);
      store.deleteQueue(shared.queue);
      const { store: next, recovered } = restart();
      expect([...recovered.topics].sort()).toEqual(['news', 'prices']);
      expect(recovered.subscriptions).toEqual([audit]);
      expect(recovered.queues.map((q) => q.name)).toEqual([audit.queue]);
      expect(bodiesOf(recovered, audit.queue, next)).toEqual(['p1']);
    });

    test('a deleted name declared again comes back as declared the second time', () => {
      const { store, restart } = backend.create();
      const first = { queue: 't::s', topic: 't', name: 's', clientId: 'c', shared: false };
      store.declareSubscription(first);
      store.declareQueue(first.queue);
      store.deleteQueue(first.queue);
      const second = { ...first, shared: true };
      store.declareSubscription(second);
      store.declareQueue(second.queue);
      const { recovered } = restart();
      expect(recovered.subscriptions).toEqual([second]);
      expect(recovered.queues.map((q) => q.name)).toEqual(['t::s']);
    });

    test('an atomic unit comes back whole: the messages it added, the ones it removed, the counts it changed', () => {
      const { store, restart } = backend.create();
      store.add({ id: 1, queue: 'in', seq: 1, meta: meta() }, Buffer.from('in1'), false);
      store.add({ id: 2, queue: 'in', seq: 2, meta: meta() }, Buffer.from('in2'), false);
      store.beginAtomic();
      store.remove(1);
      store.setDeliveryCount(2, 3);
      store.add({ id: 3, queue: 'out', seq: 1, meta: meta() }, Buffer.from('out1'), false);
      store.add({ id: 4, queue: 'out', seq: 2, meta: meta({ groupId: 'G' }) }, Buffer.from('out2'), false);
      store.endAtomic();
      const { store: next, recovered } = restart({ crash: true });
      expect(bodiesOf(recovered, 'in', next)).toEqual(['in2']);
      expect(recovered.queues.find((q) => q.name === 'in')!.messages[0]!.meta.deliveryCount).toBe(3);
      expect(bodiesOf(recovered, 'out', next)).toEqual(['out1', 'out2']);
    });

    test('a unit that had not ended when the broker stopped leaves nothing of itself; what came before stays', () => {
      const { store, restart } = backend.create();
      store.add({ id: 1, queue: 'in', seq: 1, meta: meta() }, Buffer.from('in1'), false);
      store.beginAtomic();
      store.remove(1);
      store.add({ id: 2, queue: 'out', seq: 1, meta: meta() }, Buffer.from('out1'), false);
      store.markDelivered(2);
      const { store: next, recovered } = restart({ crash: true });
      expect(bodiesOf(recovered, 'in', next)).toEqual(['in1']);
      expect(recovered.queues.find((q) => q.name === 'in')!.messages[0]!.meta.deliveryCount).toBe(0);
      expect(bodiesOf(recovered, 'out', next)).toEqual([]);
    });

    test('a body paged in a unit is readable before the unit ends, and after', () => {
      const { store, restart } = backend.create();
      store.beginAtomic();
      const body = store.add({ id: 1, queue: 'q', seq: 1, meta: meta() }, Buffer.from('paged in a unit'), true);
      expect(body instanceof Uint8Array).toBe(false);
      expect(Buffer.from(store.readBody(body as StoredBody)).toString()).toBe('paged in a unit');
      store.endAtomic();
      expect(Buffer.from(store.readBody(body as StoredBody)).toString()).toBe('paged in a unit');
      const { store: next, recovered } = restart();
      expect(bodiesOf(recovered, 'q', next)).toEqual(['paged in a unit']);
    });

    test('units do not nest', () => {
      const { store } = backend.create();
      store.beginAtomic();
      expect(() => store.beginAtomic()).toThrow(/do not nest/);
      store.endAtomic();
      expect(() => store.endAtomic()).toThrow(/without beginAtomic/);
    });

    test('whenDurable calls back once the store is flushed, not before', async () => {
      const { store } = backend.create();
      store.add({ id: 1, queue: 'q', seq: 1, meta: meta() }, Buffer.from('x'), false);
      let called = false;
      const durable = new Promise<void>((resolve) => store.whenDurable(() => resolve()));
      void durable.then(() => (called = true));
      await new Promise((resolve) => setImmediate(resolve));
      expect(called).toBe(false);
      store.flush();
      await durable;
    });
  });
}
