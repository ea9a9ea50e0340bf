import { bestExclusive, chooseConsumer, isExcluded, notePicked, setCredit } from './consumers';
import {
  firstReadyGroup,
  groupMessageDelivered,
  groupMessageRemoved,
  groupOf,
  holdBack,
  nextConsumer,
  parkBehind,
  parkFirst,
  requeueGroupMessage,
  takeParkedHead,
} from './group-lifecycle';
import type { Consumer, CoreState, Effect, Group, Queue, QueuedMessage } from './types';

/**
 * Hands queued messages to consumers until no consumer with credit can take any. Every message is
 * looked at once per wake-up: a message whose group cannot move now is parked with its group and not
 * looked at again until the group's wake event (group-lifecycle.ts) makes it ready, so a backlog behind
 * blocked groups never slows other traffic (no head-of-line blocking).
 */
export function dispatch(state: CoreState, queue: Queue, effects: Effect[]): void {
  if (queue.consumersWithCredit === 0) return;
  if (queue.exclusiveCount > 0) dispatchExclusive(state, queue, effects);
  else dispatchShared(state, queue, effects);
}

/** Exclusive mode: the active exclusive consumer takes every message in queue order; groups play no role. */
function dispatchExclusive(state: CoreState, queue: Queue, effects: Effect[]): void {
  const active = queue.activeExclusive;
  // A higher-priority exclusive consumer is waiting for the active one to quiesce: nothing new goes out.
  if (active === null || active !== bestExclusive(queue)) return;
  while (active.credit > 0) {
    const message = queue.main.shift();
    if (message === undefined) return;
    if (dropIfExpired(state, queue, message, effects)) continue;
    if (isExcluded(message, active)) {
      queue.deferred.insert(message);
      continue;
    }
    deliver(state, queue, message, active, null, effects);
    if (message.groupId !== null) groupMessageRemoved(queue, groupOf(queue, message), state.nowMs, effects);
  }
}

function dispatchShared(state: CoreState, queue: Queue, effects: Effect[]): void {
  while (queue.consumersWithCredit > 0) {
    const ready = firstReadyGroup(queue);
    if (ready !== undefined) dispatchParkedHead(state, queue, ready, effects);
    else if (!dispatchFromQueue(state, queue, effects)) return;
  }
}

function dispatchParkedHead(state: CoreState, queue: Queue, group: Group, effects: Effect[]): void {
  const head = group.parked!.peek()!;
  if (isExpired(state, head)) {
    dropIfExpired(state, queue, takeParkedHead(queue, group), effects);
    return;
  }
  const next = nextConsumer(queue, group, head);
  if (typeof next === 'string') {
    holdBack(queue, group, next);
    return;
  }
  deliverGrouped(state, queue, takeParkedHead(queue, group), next, group, effects);
}

/** Looks at the next message not looked at yet; false when there is none. */
function dispatchFromQueue(state: CoreState, queue: Queue, effects: Effect[]): boolean {
  const message = queue.main.shift();
  if (message === undefined) return false;
  if (dropIfExpired(state, queue, message, effects)) return true;
  if (message.groupId === null) {
    const consumer = chooseConsumer(queue, message, false);
    if (consumer === null) {
      queue.deferred.insert(message);
    } else {
      notePicked(queue, consumer);
      deliver(state, queue, message, consumer, null, effects);
    }
    return true;
  }
  const group = groupOf(queue, message);
  if (group.parked !== null) {
    parkBehind(group, message);
    return true;
  }
  const next = nextConsumer(queue, group, message);
  if (typeof next === 'string') parkFirst(queue, group, message, next);
  else deliverGrouped(state, queue, message, next, group, effects);
  return true;
}

function deliverGrouped(state: CoreState, queue: Queue, message: QueuedMessage, consumer: Consumer, group: Group, effects: Effect[]): void {
  deliver(state, queue, message, consumer, group, effects);
  groupMessageDelivered(queue, group, consumer, message, !consumer.settleOnSend, state.nowMs, effects);
}

function deliver(
  state: CoreState,
  queue: Queue,
  message: QueuedMessage,
  consumer: Consumer,
  group: Group | null,
  effects: Effect[],
): void {
  setCredit(queue, consumer, consumer.credit - 1);
  queue.queuedCount--;
  const deliveryId = state.nextDeliveryId++;
  effects.push({ type: 'deliver', queue: queue.name, consumerId: consumer.id, deliveryId, message, settled: consumer.settleOnSend });
  if (consumer.settleOnSend) {
    queue.removedTotal++;
    effects.push({ type: 'removed', queue: queue.name, message, reason: 'accepted' });
  } else {
    consumer.unsettled.set(deliveryId, { id: deliveryId, message, group });
    queue.inFlightCount++;
  }
}

export function isExpired(state: CoreState, message: QueuedMessage): boolean {
  return message.expiresAtMs !== null && message.expiresAtMs <= state.nowMs;
}

/** An expired message is never delivered (AMQP 1.0 3.2.1 ttl, 3.2.4 absolute-expiry-time). */
export function dropIfExpired(state: CoreState, queue: Queue, message: QueuedMessage, effects: Effect[]): boolean {
  if (!isExpired(state, message)) return false;
  queue.queuedCount--;
  queue.removedTotal++;
  effects.push({ type: 'removed', queue: queue.name, message, reason: 'expired' });
  if (message.groupId !== null) groupMessageRemoved(queue, groupOf(queue, message), state.nowMs, effects);
  return true;
}

/** Puts a message back at its original position, behind nothing that came after it. */
export function returnToQueue(queue: Queue, message: QueuedMessage): void {
  queue.queuedCount++;
  if (message.groupId === null) queue.main.insert(message);
  else requeueGroupMessage(queue, message);
}
