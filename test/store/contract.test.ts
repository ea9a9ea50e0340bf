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
