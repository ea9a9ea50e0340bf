import { bestExclusive, isExcluded, pickConsumer, setCredit } from './consumers';
import { beginGroupMove, checkGroupIdle, groupFor, noteGroupQueued, setGroupOwner } from './groups';
import type { Consumer, CoreState, Effect, Group, Queue, QueuedMessage } from './types';

/**
 * Hands queued messages to consumers until no consumer with credit can take any. Every message is
 * looked at once per wake-up: a message whose group cannot move now is parked with its group and not
 * rescanned until an event (credit, settlement, detach) makes the group ready, so a backlog behind
 * blocked groups never slows other traffic (no head-of-line blocking).
 */
export function dispatch(state: CoreState, queue: Queue, effects: Effect[]): void {
  if (queue.consumersWithCredit === 0) return;
  if (queue.exclusiveCount > 0) dispatchExclusive(state, queue, effects);
  else dispatchShared(state, queue, effects);
}

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
    deliver(state, queue, message, active, message.groupId === null ? null : groupFor(queue, message.groupId), effects);
  }
}

function dispatchShared(state: CoreState, queue: Queue, effects: Effect[]): void {
  while (queue.consumersWithCredit > 0) {
    const ready = firstReadyGroup(queue);
    if (ready !== undefined) {
      const message = ready.parked.peek();
      if (message === undefined) {
        queue.readyGroups.delete(ready);
        continue;
      }
      if (isExpired(state, message)) {
        ready.parked.shift();
        dropIfExpired(state, queue, message, effects);
        continue;
      }
      const target = groupTarget(queue, ready, message, effects);
      if (target === null) {
        queue.readyGroups.delete(ready);
        markBlocked(queue, ready);
        continue;
      }
      ready.parked.shift();
      deliver(state, queue, message, target, ready, effects);
      continue;
    }

    const message = queue.main.shift();
    if (message === undefined) return;
    if (dropIfExpired(state, queue, message, effects)) continue;
    if (message.groupId === null) {
      const consumer = pickConsumer(queue, message, false);
      if (consumer === null) queue.deferred.insert(message);
      else deliver(state, queue, message, consumer, null, effects);
      continue;
    }
    const group = groupFor(queue, message.groupId);
    if (group.parked.size > 0) {
      // Earlier messages of the group are parked: this one queues behind them.
      group.parked.insert(message);
      continue;
    }
    const target = groupTarget(queue, group, message, effects);
    if (target === null) {
      group.parked.insert(message);
      markBlocked(queue, group);
    } else {
      deliver(state, queue, message, target, group, effects);
    }
  }
}

function firstReadyGroup(queue: Queue): Group | undefined {
  if (queue.readyGroups.size === 0) return undefined;
  return queue.readyGroups.values().next().value;
}

/** The consumer that must receive the group's next message now, or null if the group has to wait. */
function groupTarget(queue: Queue, group: Group, message: QueuedMessage, effects: Effect[]): Consumer | null {
  const limit = queue.options.maxInFlightPerGroup;
  if (limit !== null && group.inFlight >= limit) return null;
  if (group.moving) return null;
  if (group.closedAtSeq !== null && message.seq > group.closedAtSeq) {
    // The group was closed before this message: it starts afresh once the old sequence is settled.
    if (group.inFlight > 0) return null;
    setGroupOwner(queue, group, null, effects);
  }
  const owner = group.owner;
  if (owner !== null) {
    if (!isExcluded(message, owner)) return owner.credit > 0 ? owner : null;
    // The owner refused this message (undeliverable-here): the group has to move to someone else.
    beginGroupMove(queue, group, null, effects);
    if (group.moving) return null;
  }
  const chosen = pickConsumer(queue, message, true);
  if (chosen !== null) setGroupOwner(queue, group, chosen, effects);
  return chosen;
}

/** Records who must wake the group up again. Moves and in-flight limits are woken by settlement. */
function markBlocked(queue: Queue, group: Group): void {
  const limit = queue.options.maxInFlightPerGroup;
  if (group.moving || (limit !== null && group.inFlight >= limit)) return;
  if (group.closedAtSeq !== null && group.inFlight > 0) return;
  if (group.owner !== null) group.owner.blockedGroups.add(group);
  else queue.unownedBlocked.add(group);
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
  if (group !== null) group.queued--;
  const deliveryId = state.nextDeliveryId++;
  effects.push({ type: 'deliver', queue: queue.name, consumerId: consumer.id, deliveryId, message, settled: consumer.settleOnSend });
  if (consumer.settleOnSend) {
    queue.removedTotal++;
    effects.push({ type: 'removed', queue: queue.name, message, reason: 'accepted' });
  } else {
    consumer.unsettled.set(deliveryId, { id: deliveryId, message, group });
    queue.inFlightCount++;
    if (group !== null) group.inFlight++;
  }
  if (group === null) return;
  // A closing message (group-sequence 4294967295 / JMSXGroupSeq -1) ends the group: its next message is
  // assigned afresh, once everything up to the close is settled (redeliveries still go to the owner).
  if (message.closesGroup && group.owner !== null && !group.moving) group.closedAtSeq = message.seq;
  checkGroupIdle(queue, group, state.nowMs, effects);
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
  if (message.groupId !== null) {
    const group = groupFor(queue, message.groupId);
    group.queued--;
    checkGroupIdle(queue, group, state.nowMs, effects);
  }
  return true;
}

/** Puts a message back at its original position, behind nothing that came after it. */
export function returnToQueue(queue: Queue, message: QueuedMessage): void {
  queue.queuedCount++;
  if (message.groupId === null) {
    queue.main.insert(message);
    return;
  }
  const group = groupFor(queue, message.groupId);
  noteGroupQueued(queue, group);
  if (group.parked.size > 0) {
    // Later messages of the group are parked; this one goes before them.
    group.parked.insert(message);
    queue.readyGroups.add(group);
  } else {
    queue.main.insert(message);
  }
}
