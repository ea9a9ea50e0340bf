/**
 * What a message costs in memory besides its body, whether the body is in memory or paged out: the
 * core's QueuedMessage and its slot in the queue, its group when it is the group's only message, the
 * store's index entry and paged-body reference, the body's own buffer. Measured with
 * `node --expose-gc interop/bench/message-bookkeeping.mjs` (heap and array buffers after a full GC,
 * per message, bodies subtracted, each case in a fresh process; README "Limits"): the largest case is
 * a durable message with its body in memory and a group id of its own, 900 B with 100 B and 1 KiB
 * bodies (2026-11-30, with priority, delivery time and origin on every message); rounded up.
 */
export const MESSAGE_BOOKKEEPING_BYTES = 960;

/**
 * What a delivery sent unsettled costs on top of its message until it is settled or returned: the
 * core's Delivery, rhea's delivery record and its slot in the session, the tag. Measured by the same
 * command (case "delivered and held unsettled", less the same message queued): 471-488 B; rounded up.
 */
export const DELIVERY_BOOKKEEPING_BYTES = 512;

export interface MemoryLimits {
  /** Memory for messages: bookkeeping of every message plus the bodies kept in memory. */
  readonly maxMemoryBytes: number;
  /** Share of maxMemoryBytes above which new bodies are paged out (when the store can keep them). */
  readonly memoryPagingRatio: number;
}

/**
 * The broker's account of message memory (README "Limits"): in total and per queue, each message
 * costs MESSAGE_BOOKKEEPING_BYTES plus its body while the body is in memory. Bytes of messages still
 * arriving in several transfer frames count too, from their first frame on: they are in memory; so do
 * deliveries in flight (DELIVERY_BOOKKEEPING_BYTES each, and a paged body read back to send it).
 */
export class MemoryBudget {
  private usedBytes = 0;
  private arrivingBytes = 0;
  private deliveryBytes = 0;
  private readonly byQueue = new Map<string, number>();

  constructor(private readonly limits: MemoryLimits) {}

  /** Message memory in use: stored messages plus the ones still arriving. */
  get used(): number {
    return this.usedBytes + this.arrivingBytes + this.deliveryBytes;
  }

  get max(): number {
    return this.limits.maxMemoryBytes;
  }

  queueBytes(queue: string): number {
    return this.byQueue.get(queue) ?? 0;
  }

  /** A body of this size would go past the paging threshold: it should live in the store only. */
  shouldPage(bodyBytes: number): boolean {
    return this.used + MESSAGE_BOOKKEEPING_BYTES + bodyBytes > this.limits.maxMemoryBytes * this.limits.memoryPagingRatio;
  }

  /** At maxMemoryBytes: new messages are held back or refused. */
  full(): boolean {
    return this.used >= this.limits.maxMemoryBytes;
  }

  /** The queue has reached its own limit (queue option maxMemoryBytes). */
  queueFull(queue: string, maxQueueBytes: number | null): boolean {
    return maxQueueBytes !== null && this.queueBytes(queue) >= maxQueueBytes;
  }

  /**
   * A message is now in `queue`; `bodyBytesInMemory` is 0 for a paged body. A topic's copies share one
   * body (`bodyCountedAlready` for every copy but the first): it counts once in total, in full for
   * each queue that holds it.
   */
  add(queue: string, bodyBytesInMemory: number, bodyCountedAlready = false): void {
    this.adjust(queue, MESSAGE_BOOKKEEPING_BYTES + bodyBytesInMemory, bodyCountedAlready ? bodyBytesInMemory : 0);
  }

  /** A message left `queue` (consumed, expired, dead-lettered away, deleted with the queue); `bodyStillHeld` by another copy. */
  remove(queue: string, bodyBytesInMemory: number, bodyStillHeld = false): void {
    this.adjust(queue, -(MESSAGE_BOOKKEEPING_BYTES + bodyBytesInMemory), bodyStillHeld ? -bodyBytesInMemory : 0);
  }

  /** Frames of messages not complete yet: counted while they arrive, uncounted once complete or dropped. */
  arriving(deltaBytes: number): void {
    this.arrivingBytes += deltaBytes;
  }

  /** Deliveries sent unsettled (positive) or settled or returned (negative), with paged bodies read back to send them. */
  deliveries(count: number, readBackBytes: number): void {
    this.deliveryBytes += count * DELIVERY_BOOKKEEPING_BYTES + readBackBytes;
  }

  /** `sharedBytes`: part of the queue's change that the total has already (or still) counted. */
  private adjust(queue: string, deltaBytes: number, sharedBytes: number): void {
    this.usedBytes += deltaBytes - sharedBytes;
    const bytes = (this.byQueue.get(queue) ?? 0) + deltaBytes;
    if (bytes > 0) this.byQueue.set(queue, bytes);
    else this.byQueue.delete(queue);
  }
}
