import type { MessageBody, MessageMeta, StoredBody } from '../core/types';
import type { MessageStore, RecoveredStore, StoreEntry, StoredSubscription } from './types';

interface MemoryRecord {
  readonly queue: string;
  seq: number;
  meta: MessageMeta;
  delivered: boolean;
  readonly bytes: Uint8Array;
  readonly deadLetteredFrom: string | null;
}

/** What an in-memory store keeps across a simulated restart (tests pass the same medium to a new store). */
export class MemoryMedium {
  readonly queues = new Set<string>();
  readonly topics = new Set<string>();
  /** By queue name. */
  readonly subscriptions = new Map<string, StoredSubscription>();
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
  /** The open atomic unit: its changes to the medium, applied together at its end; null outside one. */
  private unit: (() => void)[] | null = null;
  /** Records added in the open unit, readable before it ends. */
  private readonly addedInUnit = new Map<number, MemoryRecord>();

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
            const body = keep ? record.bytes : new MemoryPagedBody(id, record.bytes.length);
            return { id, seq: record.seq, meta: record.meta, body, deadLetteredFrom: record.deadLetteredFrom };
          }),
      })),
      topics: [...this.medium.topics],
      subscriptions: [...this.medium.subscriptions.values()],
    };
  }

  declareQueue(name: string): void {
    this.medium.queues.add(name);
  }

  declareTopic(name: string): void {
    this.medium.topics.add(name);
  }

  declareSubscription(subscription: StoredSubscription): void {
    this.medium.subscriptions.set(subscription.queue, subscription);
  }

  deleteQueue(name: string): void {
    this.medium.queues.delete(name);
    this.medium.subscriptions.delete(name);
  }

  add(entry: StoreEntry, bytes: Uint8Array, page: boolean): MessageBody {
    const record: MemoryRecord = {
      queue: entry.queue,
      seq: entry.seq,
      meta: entry.meta,
      delivered: false,
      bytes,
      deadLetteredFrom: entry.deadLetteredFrom ?? null,
    };
    if (this.unit) this.addedInUnit.set(entry.id, record);
    this.change(() => {
      this.medium.queues.add(entry.queue);
      this.medium.records.set(entry.id, record);
    });
    return page ? new MemoryPagedBody(entry.id, bytes.length) : bytes;
  }

  remove(id: number): void {
    this.change(() => this.medium.records.delete(id));
  }

  setDeliveryCount(id: number, deliveryCount: number): void {
    this.change(() => {
      const record = this.medium.records.get(id);
      if (!record) return;
      record.meta = { ...record.meta, deliveryCount };
      record.delivered = false;
    });
  }

  setPosition(id: number, seq: number): void {
    const record = this.medium.records.get(id);
    if (record) record.seq = seq;
  }

  markDelivered(id: number): void {
    this.change(() => {
      const record = this.medium.records.get(id);
      if (record) record.delivered = true;
    });
  }

  readBody(body: StoredBody): Uint8Array {
    const id = (body as MemoryPagedBody).id;
    return (this.addedInUnit.get(id) ?? this.medium.records.get(id)!).bytes;
  }

  beginAtomic(): void {
    if (this.unit) throw new Error('atomic units do not nest');
    this.unit = [];
  }

  endAtomic(): void {
    const unit = this.unit;
    if (!unit) throw new Error('endAtomic without beginAtomic');
    this.unit = null;
    this.addedInUnit.clear();
    for (const change of unit) change();
  }

  /** A change to the medium: at once, or with the open atomic unit. */
  private change(apply: () => void): void {
    if (this.unit) this.unit.push(apply);
    else apply();
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
