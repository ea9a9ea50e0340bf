import type { MessageBody, MessageMeta, StoredBody } from '../core/types';
import type { MessageStore, RecoveredStore, StoreEntry } from './types';

interface MemoryRecord {
  readonly queue: string;
  readonly seq: number;
  meta: MessageMeta;
  delivered: boolean;
  readonly bytes: Uint8Array;
}

/** What an in-memory store keeps across a simulated restart (tests pass the same medium to a new store). */
export class MemoryMedium {
  readonly queues = new Set<string>();
  readonly records = new Map<number, MemoryRecord>();
}

class MemoryPagedBody implements StoredBody {
  constructor(readonly id: number, readonly storedBytes: number) {}
}

/**
 * The store for brokers that keep nothing across restarts (`store: "memory"`), and the reference
 * the journal is tested against: both pass the same contract suite.
 */
export class MemoryStore implements MessageStore {
  readonly keepsBodiesInMemory = true;
  private readonly waiters: (() => void)[] = [];

  constructor(private readonly medium: MemoryMedium = new MemoryMedium()) {}

  open(keepInMemoryBytes: number): RecoveredStore {
    for (const [id, record] of this.medium.records) if (!record.meta.durable) this.medium.records.delete(id);
    const byQueue = new Map<string, { id: number; record: MemoryRecord }[]>([...this.medium.queues].map((q) => [q, []]));
    for (const [id, record] of this.medium.records) {
      if (record.delivered) {
        record.meta = { ...record.meta, deliveryCount: record.meta.deliveryCount + 1 };
        record.delivered = false;
      }
      if (!byQueue.has(record.queue)) byQueue.set(record.queue, []);
      byQueue.get(record.queue)!.push({ id, record });
    }
    let inMemory = 0;
    return {
      queues: [...byQueue].map(([name, entries]) => ({
        name,
        messages: entries
          .sort((a, b) => a.record.seq - b.record.seq)
          .map(({ id, record }) => {
            const keep = inMemory + record.bytes.length <= keepInMemoryBytes;
            if (keep) inMemory += record.bytes.length;
            return { id, seq: record.seq, meta: record.meta, body: keep ? record.bytes : new MemoryPagedBody(id, record.bytes.length) };
          }),
      })),
    };
  }

  declareQueue(name: string): void {
    this.medium.queues.add(name);
  }

  deleteQueue(name: string): void {
    this.medium.queues.delete(name);
  }

  add(entry: StoreEntry, bytes: Uint8Array, page: boolean): MessageBody {
    this.medium.queues.add(entry.queue);
    this.medium.records.set(entry.id, { queue: entry.queue, seq: entry.seq, meta: entry.meta, delivered: false, bytes });
    return page ? new MemoryPagedBody(entry.id, bytes.length) : bytes;
  }

  remove(id: number): void {
    this.medium.records.delete(id);
  }

  setDeliveryCount(id: number, deliveryCount: number): void {
    const record = this.medium.records.get(id);
    if (!record) return;
    record.meta = { ...record.meta, deliveryCount };
    record.delivered = false;
  }

  markDelivered(id: number): void {
    const record = this.medium.records.get(id);
    if (record) record.delivered = true;
  }

  readBody(body: StoredBody): Uint8Array {
    return this.medium.records.get((body as MemoryPagedBody).id)!.bytes;
  }

  whenDurable(callback: () => void): void {
    this.waiters.push(callback);
  }

  /** Nothing is written: everything recorded is as durable as this store makes it at once. */
  flush(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }

  diskBytes(): number {
    return 0;
  }

  reclaim(): void {}

  close(): void {}
}
