import type { BrokerRuntime } from '../broker/runtime';
import { SetsByKey } from '../broker/sets-by-key';

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
  private readonly byQueue = new SetsByKey<string, QueueProducer>();

  constructor(runtime: BrokerRuntime) {
    runtime.onQueueDeleted((queue) => this.deleted(queue));
  }

  /** Registers a producer to `queue`; returns how to unregister it. */
  add(queue: string, producer: QueueProducer): () => void {
    return this.byQueue.add(queue, producer);
  }

  private deleted(queue: string): void {
    for (const producer of this.byQueue.take(queue)) producer.queueDeleted(queue);
  }
}
