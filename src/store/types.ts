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
}

/** A message the store is asked to keep. */
export interface StoreEntry {
  readonly id: number;
  readonly queue: string;
  readonly seq: number;
  readonly meta: MessageMeta;
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
  /**
   * The queue is deleted (its messages each removed before): it does not come back at the next start,
   * unless declared again.
   */
  deleteQueue(name: string): void;
  /**
   * Records a message. With `page`, the body is kept only in the store and the returned StoredBody
   * replaces it in memory; otherwise the bytes are returned as they are.
   */
  add(entry: StoreEntry, bytes: Uint8Array, page: boolean): MessageBody;
  remove(id: number): void;
  setDeliveryCount(id: number, deliveryCount: number): void;
  /** The message left the broker for a consumer: after a crash it comes back with delivery-count + 1. */
  markDelivered(id: number): void;
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
