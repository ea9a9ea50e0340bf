import { dispatch, messageGone } from './dispatch';
import { groupMessageRemoved, groupOf, releaseGroup, takeParked } from './group-lifecycle';
import { takeWaiting } from './selection';
import type { CoreState, Effect, MessageBody, MessageMeta, Queue, QueuedMessage } from './types';

/**
 * Operator commands (README "Operating Convoy"): purge a queue, release a group from its owner, send
 * dead-lettered messages back to their queues. Each changes queued messages and groups only through
 * the group lifecycle's events, so every group ends in the state its facts call for.
 */

/** Every queued message goes (reason `purged`); deliveries in flight are left to settle, and a returned one is queued again. */
export function purge(state: CoreState, queue: Queue, effects: Effect[]): void {
  for (const message of takeAllQueued(queue)) {
    queue.queuedCount--;
    queue.removedTotal++;
    messageGone(queue, message);
    effects.push({ type: 'removed', queue: queue.name, message, reason: 'purged' });
    if (message.groupId !== null) groupMessageRemoved(queue, groupOf(queue, message), state.nowMs, effects);
  }
}

export function releaseGroupOf(state: CoreState, queue: Queue, groupId: string, effects: Effect[]): void {
  const group = queue.groups.get(groupId);
  if (group === undefined) return;
  releaseGroup(queue, group, state.nowMs, effects);
  dispatch(state, queue, effects);
}

/** Enqueues a new message into the named queue (created on first use), as a producer's would be. */
export type EnqueueInto = (queueName: string, meta: MessageMeta, body: MessageBody) => void;

/**
 * Queued messages of the dead-letter queue go back to the queue they were dead-lettered from, in
 * dead-letter order, at the end of that queue, with delivery-count 0: the full `maxDeliveryAttempts`
 * again. Messages of unknown origin (sent to the dead-letter queue directly), those from another queue
 * than `from`, and those beyond `limit` stay where they were.
 */
export function retryDeadLetters(
  state: CoreState,
  deadLetterQueue: Queue,
  from: string | null,
  limit: number | null,
  effects: Effect[],
  enqueueInto: EnqueueInto,
): void {
  let moved = 0;
  for (const message of takeAllQueued(deadLetterQueue)) {
    const origin = message.deadLetteredFrom;
    if (origin === null || (from !== null && origin !== from) || (limit !== null && moved >= limit)) {
      deadLetterQueue.main.insert(message);
      continue;
    }
    moved++;
    deadLetterQueue.queuedCount--;
    deadLetterQueue.removedTotal++;
    messageGone(deadLetterQueue, message);
    effects.push({ type: 'retried', queue: deadLetterQueue.name, originQueue: origin, message });
    if (message.groupId !== null) groupMessageRemoved(deadLetterQueue, groupOf(deadLetterQueue, message), state.nowMs, effects);
    const meta: MessageMeta = {
      groupId: message.groupId,
      closesGroup: message.closesGroup,
      expiresAtMs: message.expiresAtMs,
      deliveryCount: 0,
      durable: message.durable,
      priority: message.priority,
    };
    enqueueInto(origin, meta, message.body);
  }
  // What stays is looked at afresh: a group whose next message left may go on now.
  dispatch(state, deadLetterQueue, effects);
}

/**
 * Takes every queued message out of the queue's buffers (not yet looked at, refused by the active
 * exclusive consumer, waiting for a consumer that may take it, parked with their groups), in position
 * order. Counts are unchanged: the caller removes each message or puts it back into `main`, where
 * dispatch looks at it again. (Scheduled messages are not in the queue yet: they stay scheduled.)
 */
function takeAllQueued(queue: Queue): QueuedMessage[] {
  const messages = [...queue.main.drain(), ...queue.deferred.drain(), ...takeWaiting(queue)];
  for (const group of queue.groups.values()) messages.push(...takeParked(queue, group));
  return messages.sort((a, b) => a.seq - b.seq);
}
