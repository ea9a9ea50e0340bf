import type { BrokerRuntime } from '../broker/runtime';

/** A producer link with a fixed target, as far as queue deletion goes. */
export interface QueueProducer {
  queueDeleted(queue: string): void;
}

/**
 * Producer links by the queue of their fixed target, broker-wide: when a queue is deleted (README "Queue
 * lifetime"), each is detached with amqp:resource-deleted; otherwise its next message would create the
 * queue again at once. Links that route each message by its `to` are not affected.
 */
export class QueueProducers {
  private readonly byQueue = new Map<string, Set<QueueProducer>>();

  constructor(runtime: BrokerRuntime) {
    runtime.onQueueDeleted((queue) => this.deleted(queue));
  }

  /** Registers a producer to `queue`; returns how to unregister it. */
  add(queue: string, producer: QueueProducer): () => void {
    let producers = this.byQueue.get(queue);
    if (!producers) {
      producers = new Set();
      this.byQueue.set(queue, producers);
    }
    producers.add(producer);
    const set = producers;
    return () => {
      set.delete(producer);
      if (set.size === 0 && this.byQueue.get(queue) === set) this.byQueue.delete(queue);
    };
  }

  private deleted(queue: string): void {
    const producers = this.byQueue.get(queue);
    if (!producers) return;
    this.byQueue.delete(queue);
    for (const producer of producers) producer.queueDeleted(queue);
  }
}
