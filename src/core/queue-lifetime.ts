import type { CoreState, Effect, Queue, QueuedMessage } from './types';

export type QueueDeletionReason = 'requested' | 'unused';

/**
 * Deletes a queue with everything in it (README "Queue lifetime"): its queued messages and the ones in
 * flight to its consumers are dropped, its consumers are removed (the AMQP layer detaches their links
 * with amqp:resource-deleted; settling a delivery of the queue afterwards does nothing). The queue comes
 * back empty, with its configured options, the next time it is used.
 */
export function deleteQueue(state: CoreState, queue: Queue, reason: QueueDeletionReason, effects: Effect[]): void {
  const messages = queuedMessages(queue);
  for (const consumer of queue.consumers) {
    for (const delivery of consumer.unsettled.values()) messages.push(delivery.message);
    consumer.unsettled.clear();
    consumer.attached = false;
    state.consumers.delete(consumer.id);
  }
  state.queues.delete(queue.name);
  effects.push({ type: 'queue-deleted', queue: queue.name, reason, consumers: queue.consumers.map((consumer) => consumer.id), messages });
}

/**
 * Queue option autoDelete: a queue with no consumer and no message (queued or in flight) is deleted once
 * it has been so at every tick for autoDeleteDelayMs. Unused from the first tick that sees it unused;
 * any use in between starts the wait again at the next tick that sees it unused.
 */
export function deleteUnusedQueues(state: CoreState, effects: Effect[]): void {
  const expired: Queue[] = [];
  for (const queue of state.queues.values()) {
    if (!queue.options.autoDelete) continue;
    const unused = queue.consumers.length === 0 && queue.queuedCount === 0 && queue.inFlightCount === 0;
    if (!unused) queue.unusedSinceMs = null;
    else if (queue.unusedSinceMs === null) queue.unusedSinceMs = state.nowMs;
    if (queue.unusedSinceMs !== null && state.nowMs - queue.unusedSinceMs >= queue.options.autoDeleteDelayMs) expired.push(queue);
  }
  for (const queue of expired) deleteQueue(state, queue, 'unused', effects);
}

/** Every message waiting in the queue: not looked at yet, deferred, or parked behind its group. */
function queuedMessages(queue: Queue): QueuedMessage[] {
  const messages = [...queue.main, ...queue.deferred];
  for (const group of queue.groups.values()) if (group.parked !== null) messages.push(...group.parked);
  return messages;
}
