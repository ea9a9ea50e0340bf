import { bestExclusive, chooseConsumer, notePicked, refuses, setCredit } from './consumers';
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
  wakeMatchedGroup,
} from './group-lifecycle';
import { leaveLevel } from './priority';
import { groupForClassWithCredit, leaveWaiting, takeNextMessage, waitForMatch, type SelectorClass } from './selection';
import type { Consumer, CoreState, Effect, Group, MessageStatus, Queue, QueuedMessage } from './types';

/**
 * Hands queued messages to consumers until no consumer with credit can take any. Every message is
 * looked at once per wake-up: a message whose group cannot move now is parked with its group and not
 * looked at again until the group's wake event (group-lifecycle.ts) makes it ready, so a backlog behind
 * blocked groups never slows other traffic (no head-of-line blocking). Likewise a message (or a group's
 * next message) that no consumer with credit may take waits in the wake index of the selector classes
 * that match it (selection.ts). Messages are looked at in queue order: priority level, then position.
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
    if (refuses(active, message)) {
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
    if (ready !== undefined) {
      dispatchParkedHead(state, queue, ready, effects);
      continue;
    }
    const matched = groupForClassWithCredit(queue);
    if (matched !== undefined) {
      wakeMatchedGroup(queue, matched);
      continue;
    }
    if (queue.waiting.size === 0) {
      // Nothing waits for a match (the common case): the next new message, with no allocation.
      const message = queue.main.shift();
      if (message === undefined) return;
      dispatchMessage(state, queue, message, null, effects);
    } else {
      const next = takeNextMessage(queue);
      if (next === null) return;
      dispatchMessage(state, queue, next.message, next.from, effects);
    }
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

/**
 * Looks at the next message: new (or returned) from `main` (`from` null), or waiting for a match in the
 * index of selector class `from`, which now has credit.
 */
function dispatchMessage(state: CoreState, queue: Queue, message: QueuedMessage, from: SelectorClass | null, effects: Effect[]): void {
  if (dropIfExpired(state, queue, message, effects)) return;
  if (message.groupId === null) {
    const consumer = chooseConsumer(queue, message, false);
    if (consumer === null) {
      waitForMatch(queue, message, from);
    } else {
      notePicked(queue, consumer);
      deliver(state, queue, message, consumer, null, effects);
    }
    return;
  }
  const group = groupOf(queue, message);
  if (group.parked !== null) {
    parkBehind(group, message);
    return;
  }
  const consumer = nextConsumer(queue, group, message);
  if (typeof consumer === 'string') parkFirst(queue, group, message, consumer);
  else deliverGrouped(state, queue, message, consumer, group, effects);
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
    messageGone(queue, message);
    effects.push({ type: 'removed', queue: queue.name, message, reason: 'accepted' });
  } else {
    setStatus(queue, message, 'in-flight');
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
  messageGone(queue, message);
  effects.push({ type: 'removed', queue: queue.name, message, reason: 'expired' });
  if (message.groupId !== null) groupMessageRemoved(queue, groupOf(queue, message), state.nowMs, effects);
  return true;
}

/** The message leaves its queue for good; the caller reports why (`removed` or `dead-lettered`). */
export function messageGone(queue: Queue, message: QueuedMessage): void {
  setStatus(queue, message, 'gone');
  leaveLevel(queue, message);
}

function setStatus(queue: Queue, message: QueuedMessage, status: MessageStatus): void {
  if (message.status === 'waiting') leaveWaiting(queue, message, status);
  else message.status = status;
}

/** Puts a message back at its original position (and level), behind nothing that came after it. */
export function returnToQueue(queue: Queue, message: QueuedMessage): void {
  queue.queuedCount++;
  message.status = 'queued';
  if (message.groupId === null) queue.main.insert(message);
  else requeueGroupMessage(queue, message);
}
