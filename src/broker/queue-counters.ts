import type { Effect } from '../core/types';

/** What happened to a queue's messages since the broker started (Prometheus counters, `/api/queues`). */
export interface QueueCounts {
  /** Messages that entered the queue: sent, dead-lettered into it, retried back into it. */
  enqueued: number;
  /** Deliveries to consumers, first deliveries and redeliveries alike. */
  delivered: number;
  /** Deliveries accepted (or settled without an outcome and taken as accepted, or sent pre-settled). */
  acknowledged: number;
  /** Deliveries of a message with delivery-count > 0: what clients see as redelivered (JMSRedelivered). */
  redelivered: number;
  /** Messages moved from this queue to its dead-letter queue (rejected, or maxDeliveryAttempts reached). */
  deadLettered: number;
  /** Messages dropped because their time to live ran out. */
  expired: number;
  /** Messages removed by an operator's purge. */
  purged: number;
  /** Messages that failed in their own dead-letter queue and were dropped. */
  dropped: number;
}

/**
 * Per-queue counters, kept from the effects the runtime carries out anyway: a few additions per message
 * and one map lookup (skipped while effects keep naming the same queue). The number of counters follows
 * the queues, never the groups.
 */
export class QueueCounters {
  private readonly byQueue = new Map<string, QueueCounts>();
  private lastQueue: string | null = null;
  private lastCounts: QueueCounts | null = null;

  count(effect: Effect): void {
    switch (effect.type) {
      case 'enqueued':
        this.of(effect.queue).enqueued++;
        break;
      case 'deliver': {
        const counts = this.of(effect.queue);
        counts.delivered++;
        if (effect.message.deliveryCount > 0) counts.redelivered++;
        break;
      }
      case 'removed': {
        const counts = this.of(effect.queue);
        if (effect.reason === 'accepted') counts.acknowledged++;
        else if (effect.reason === 'expired') counts.expired++;
        else if (effect.reason === 'purged') counts.purged++;
        else if (effect.reason === 'dead-letter-loop') counts.dropped++;
        break;
      }
      case 'dead-lettered':
        this.of(effect.queue).deadLettered++;
        break;
      case 'queue-deleted':
        this.forget(effect.queue);
        break;
      default:
        break;
    }
  }

  /** The queue's counts (all zero for a queue nothing happened to yet); a live object, read it at once. */
  of(queue: string): QueueCounts {
    if (queue === this.lastQueue) return this.lastCounts!;
    let counts = this.byQueue.get(queue);
    if (counts === undefined) {
      counts = { enqueued: 0, delivered: 0, acknowledged: 0, redelivered: 0, deadLettered: 0, expired: 0, purged: 0, dropped: 0 };
      this.byQueue.set(queue, counts);
    }
    this.lastQueue = queue;
    this.lastCounts = counts;
    return counts;
  }

  /** The queue is gone (deleted): its counters go with it, so that deleted queues leave no series behind. */
  forget(queue: string): void {
    this.byQueue.delete(queue);
    if (queue === this.lastQueue) {
      this.lastQueue = null;
      this.lastCounts = null;
    }
  }
}
