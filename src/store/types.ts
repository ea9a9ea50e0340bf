import type { MessageBody, MessageMeta, RecoveredMessage, StoredBody } from '../core/types';

/**
 * When producer deliveries of durable messages are acknowledged, relative to fsync:
 * - batch: every record written in one turn of the event loop shares one fdatasync (group commit);
 *   the producer is accepted once its record is on disk. The default.
 * - per-message: one fdatasync per message. Safest against power loss per message, and slowest.
 * - interval: fdatasync at most every `intervalMs`; acceptance waits for it (more batching, more latency).
 * - none: acceptance after write(): survives a broker crash (the page cache), not a power loss.
 */
export type FsyncPolicy =
  | { readonly mode: 'batch' }
  | { readonly mode: 'per-message' }
  | { readonly mode: 'interval'; readonly intervalMs: number }
  | { readonly mode: 'none' };

export interface RecoveredQueue {
  readonly name: string;
  /** In queue order. */
  readonly messages: readonly RecoveredMessage[];
}

export interface RecoveredStore {
  readonly queues: readonly RecoveredQueue[];
  /** Topics declared and not deleted, in the order they were first declared. */
  readonly topics: readonly string[];
  /** Durable subscriptions whose queue was not deleted. */
  readonly subscriptions: readonly StoredSubscription[];
}

/** A durable topic subscription as the store keeps it: a queue (its messages) fed by a topic. */
export interface StoredSubscription {
  /** The queue that holds the subscription's messages. */
  readonly queue: string;
  readonly topic: string;
  /** The subscription name (JMS: the name given to createDurableConsumer). */
  readonly name: string;
  /** The client id (AMQP container-id) it belongs to; null for a global one (source capability `global`). */
  readonly clientId: string | null;
  /** Shared: several consumers may attach and split its messages (source capability `shared`). */
  readonly shared: boolean;
  /** Its JMS message selector (only messages it selects enter it); absent in records without one. */
  readonly selector?: string | null;
}

/** A message the store is asked to keep. */
export interface StoreEntry {
  readonly id: number;
  readonly queue: string;
  readonly seq: number;
  readonly meta: MessageMeta;
  /** A dead-letter queue's message: the queue it was dead-lettered from (an operator retry sends it back there). */
  readonly deadLetteredFrom?: string | null;
}

/**
 * Persistence behind the broker (DESIGN §1): durable messages and what happens to them. Non-durable
 * messages are written only when paged out of memory, and are not recovered.
 */
export interface MessageStore {
  /** Bodies it keeps stay in memory (the in-memory store): paging them would free nothing. */
  readonly keepsBodiesInMemory: boolean;
  /** Reads what the store holds; called once, before anything else. `keepInMemoryBytes` of bodies are loaded, the rest stay paged. */
  open(keepInMemoryBytes: number): RecoveredStore;
  declareQueue(name: string): void;
  /** A topic: it comes back after a restart, so the name stays a topic. */
  declareTopic(name: string): void;
  /** A durable subscription; its queue is declared separately and its messages are stored as any queue's. */
  declareSubscription(subscription: StoredSubscription): void;
  /**
   * The queue is gone, and the subscription it held if any; the broker has removed each of its messages
   * first. It does not come back after a restart.
   */
  deleteQueue(name: string): void;
  /**
   * Records a message. With `page`, the body is kept only in the store and the returned StoredBody
   * replaces it in memory; otherwise the bytes are returned as they are.
   */
  add(entry: StoreEntry, bytes: Uint8Array, page: boolean): MessageBody;
  remove(id: number): void;
  setDeliveryCount(id: number, deliveryCount: number): void;
  /** A scheduled message (stored with position 0) entered its queue at position `seq` (README "Delayed delivery"). */
  setPosition(id: number, seq: number): void;
  /** The message left the broker for a consumer: after a crash it comes back with delivery-count + 1. */
  markDelivered(id: number): void;
  /**
   * Everything recorded from here until `endAtomic` is one unit (a committed transaction, AMQP 1.0 4.4):
   * after a crash it is there wholly or not at all. Units do not nest, and the broker begins and ends
   * one within a single call, so no `flush` falls inside it. Bodies added in the unit can be read back
   * before it ends.
   */
  beginAtomic(): void;
  endAtomic(): void;
  readBody(body: StoredBody): Uint8Array;
  /**
   * Calls back once everything recorded so far is as durable as the fsync policy makes it; the wait
   * starts at the next `flush`.
   */
  whenDurable(callback: () => void): void;
  /**
   * Writes what was recorded since the last flush and starts the fsync the policy asks for. Nothing is
   * written before: the broker calls it once per turn, before the turn's frames reach the network.
   */
  flush(): void;
  /** Bytes the store occupies on disk. */
  diskBytes(): number;
  /** Reclaims space of consumed messages; cheap to call often. */
  reclaim(): void;
  close(): void;
}

export class StoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreError';
  }
}
