import { addConsumer, bestExclusive, removeConsumer, setCredit } from './consumers';
import { dispatch, dropIfExpired, isExpired, returnToQueue } from './dispatch';
import {
  checkGroupIdle,
  completeGroupMove,
  expireIdleGroups,
  groupFor,
  noteGroupQueued,
  rebalanceGroupsOnto,
  setGroupOwner,
} from './groups';
import { queueFor } from './state';
import type {
  Command,
  Consumer,
  CoreState,
  DeadLetterReason,
  Delivery,
  Effect,
  MessageBody,
  MessageMeta,
  Outcome,
  Queue,
  QueuedMessage,
  RecoveredMessage,
} from './types';

/**
 * The dispatch core's single entry point: applies one command at time `nowMs` and returns the effects
 * for the runtime to carry out, in order. Pure apart from mutating `state`; the same command log
 * applied to a fresh state always yields the same state and effects.
 */
export function apply(state: CoreState, command: Command, nowMs: number): Effect[] {
  state.nowMs = nowMs;
  const effects: Effect[] = [];
  switch (command.type) {
    case 'enqueue':
      enqueue(state, queueFor(state, command.queue, effects), command.meta, command.body, effects);
      break;
    case 'declare':
      queueFor(state, command.queue, effects);
      break;
    case 'recover':
      recover(state, queueFor(state, command.queue, effects), command.message);
      break;
    case 'attach':
      attach(state, command, effects);
      break;
    case 'detach':
      detach(state, command.consumerId, effects);
      break;
    case 'credit':
      credit(state, command.consumerId, command.credit, command.drain, effects);
      break;
    case 'settle':
      settle(state, command.consumerId, command.deliveryId, command.outcome, effects);
      break;
    case 'tick':
      tick(state, effects);
      break;
  }
  return effects;
}

function enqueue(state: CoreState, queue: Queue, meta: MessageMeta, body: MessageBody, effects: Effect[]): void {
  const message = newMessage(state.nextMessageId++, queue.nextSeq++, meta, body);
  addToQueue(queue, message);
  effects.push({ type: 'enqueued', queue: queue.name, message });
  dispatch(state, queue, effects);
}

function newMessage(id: number, seq: number, meta: MessageMeta, body: MessageBody): QueuedMessage {
  return {
    id,
    seq,
    groupId: meta.groupId,
    closesGroup: meta.closesGroup,
    expiresAtMs: meta.expiresAtMs,
    durable: meta.durable,
    deliveryCount: meta.deliveryCount,
    excludedConsumers: null,
    body,
  };
}

function addToQueue(queue: Queue, message: QueuedMessage): void {
  queue.queuedCount++;
  queue.enqueuedTotal++;
  if (message.groupId !== null) noteGroupQueued(queue, groupFor(queue, message.groupId));
  queue.main.insert(message);
}

/**
 * Recovery replays stored messages queue by queue in position order, before any consumer attaches;
 * ids and positions continue after the highest recovered ones.
 */
function recover(state: CoreState, queue: Queue, recovered: RecoveredMessage): void {
  state.nextMessageId = Math.max(state.nextMessageId, recovered.id + 1);
  queue.nextSeq = Math.max(queue.nextSeq, recovered.seq + 1);
  addToQueue(queue, newMessage(recovered.id, recovered.seq, recovered.meta, recovered.body));
}

function attach(state: CoreState, command: Extract<Command, { type: 'attach' }>, effects: Effect[]): void {
  if (state.consumers.has(command.consumerId)) throw new Error(`consumer ${command.consumerId} is already attached`);
  const queue = queueFor(state, command.queue, effects);
  const consumer: Consumer = {
    id: command.consumerId,
    queue,
    priority: command.priority,
    exclusive: command.exclusive || queue.options.exclusive,
    settleOnSend: command.settleOnSend,
    attachOrder: state.nextAttachOrder++,
    credit: 0,
    drain: false,
    unsettled: new Map(),
    groups: new Set(),
    blockedGroups: new Set(),
  };
  const wasExclusive = queue.exclusiveCount > 0;
  addConsumer(queue, consumer);
  state.consumers.set(consumer.id, consumer);
  if (!wasExclusive && queue.exclusiveCount > 0) enterExclusiveMode(queue);
  updateExclusive(queue, effects);
  if (queue.exclusiveCount === 0 && queue.options.groupRebalance) rebalanceGroupsOnto(queue, consumer, effects);
  wakeWaiting(queue);
  dispatch(state, queue, effects);
}

/**
 * Detach, connection loss and idle time-out: every unsettled delivery goes back to its original position
 * with delivery-count + 1 first; only then do its groups and exclusivity pass to other consumers.
 */
function detach(state: CoreState, consumerId: string, effects: Effect[]): void {
  const consumer = state.consumers.get(consumerId);
  if (!consumer) return;
  const queue = consumer.queue;
  state.consumers.delete(consumerId);
  removeConsumer(queue, consumer);
  const returned = [...consumer.unsettled.values()];
  consumer.unsettled.clear();
  for (const delivery of returned) {
    finishDelivery(queue, delivery);
    redeliverLater(state, queue, delivery.message, true, effects);
  }
  for (const group of [...consumer.groups]) {
    if (group.moving) group.moveTo = null;
    setGroupOwner(queue, group, null, effects);
    if (group.parked.size > 0) queue.readyGroups.add(group);
    checkGroupIdle(queue, group, state.nowMs, effects);
  }
  for (const group of queue.groups.values()) {
    if (group.moveTo === consumer) group.moveTo = null;
  }
  for (const delivery of returned) if (delivery.group) checkGroupIdle(queue, delivery.group, state.nowMs, effects);
  if (queue.activeExclusive === consumer) queue.activeExclusive = null;
  updateExclusive(queue, effects);
  wakeWaiting(queue);
  dispatch(state, queue, effects);
}

function credit(state: CoreState, consumerId: string, amount: number, drain: boolean, effects: Effect[]): void {
  const consumer = state.consumers.get(consumerId);
  if (!consumer) return;
  const queue = consumer.queue;
  setCredit(queue, consumer, Math.max(0, amount));
  if (consumer.credit > 0) {
    for (const group of consumer.blockedGroups) queue.readyGroups.add(group);
    consumer.blockedGroups.clear();
    wakeWaiting(queue);
    dispatch(state, queue, effects);
  }
  // AMQP 1.0 2.6.7: a drain uses up whatever credit is left once nothing more is available.
  if (drain) {
    setCredit(queue, consumer, 0);
    effects.push({ type: 'drained', consumerId });
  }
}

function settle(state: CoreState, consumerId: string, deliveryId: number, outcome: Outcome, effects: Effect[]): void {
  const consumer = state.consumers.get(consumerId);
  if (!consumer) return;
  const delivery = consumer.unsettled.get(deliveryId);
  if (!delivery) return;
  const queue = consumer.queue;
  consumer.unsettled.delete(deliveryId);
  finishDelivery(queue, delivery);
  const message = delivery.message;
  switch (outcome.type) {
    case 'accepted':
      queue.removedTotal++;
      effects.push({ type: 'removed', queue: queue.name, message, reason: 'accepted' });
      break;
    case 'released':
      returnToQueue(queue, message);
      break;
    case 'rejected':
      deadLetter(state, queue, message, 'rejected', effects);
      break;
    case 'modified':
      if (outcome.undeliverableHere) {
        if (message.excludedConsumers === null) message.excludedConsumers = new Set();
        message.excludedConsumers.add(consumer.id);
      }
      redeliverLater(state, queue, message, outcome.deliveryFailed, effects);
      break;
  }
  const group = delivery.group;
  if (group !== null) {
    if (group.moving && group.inFlight === 0) completeGroupMove(queue, group, effects);
    if (group.parked.size > 0) queue.readyGroups.add(group);
    checkGroupIdle(queue, group, state.nowMs, effects);
  }
  if (queue.activeExclusive === consumer) updateExclusive(queue, effects);
  if (outcome.type === 'modified' && outcome.undeliverableHere) wakeWaiting(queue);
  dispatch(state, queue, effects);
}

function tick(state: CoreState, effects: Effect[]): void {
  for (const queue of state.queues.values()) {
    expireIdleGroups(queue, state.nowMs, effects);
    for (let head = queue.main.peek(); head !== undefined && isExpired(state, head); head = queue.main.peek()) {
      queue.main.shift();
      dropIfExpired(state, queue, head, effects);
    }
  }
}

function finishDelivery(queue: Queue, delivery: Delivery): void {
  queue.inFlightCount--;
  if (delivery.group !== null) delivery.group.inFlight--;
}

/** Back to the queue (delivery-count + 1 when the attempt failed), or dead-lettered once attempts run out. */
function redeliverLater(state: CoreState, queue: Queue, message: QueuedMessage, failed: boolean, effects: Effect[]): void {
  if (failed) {
    message.deliveryCount++;
    if (message.deliveryCount >= queue.options.maxDeliveryAttempts) {
      deadLetter(state, queue, message, 'max-delivery-attempts', effects);
      return;
    }
    effects.push({ type: 'delivery-count', queue: queue.name, message });
  }
  returnToQueue(queue, message);
}

function deadLetter(state: CoreState, queue: Queue, message: QueuedMessage, reason: DeadLetterReason, effects: Effect[]): void {
  queue.removedTotal++;
  const target = queue.options.deadLetterQueue;
  if (target === queue.name) {
    // Dead-lettering from the dead-letter queue itself would loop; the message is dropped and logged.
    effects.push({ type: 'removed', queue: queue.name, message, reason: 'dead-letter-loop' });
    return;
  }
  effects.push({ type: 'dead-lettered', queue: queue.name, deadLetterQueue: target, message, reason });
  const deadLetterQueue = queueFor(state, target, effects);
  enqueue(
    state,
    deadLetterQueue,
    {
      groupId: message.groupId,
      closesGroup: message.closesGroup,
      expiresAtMs: message.expiresAtMs,
      deliveryCount: message.deliveryCount,
      durable: message.durable,
    },
    message.body,
    effects,
  );
}

/** Entering exclusive mode, groups play no role: parked messages rejoin the queue in order. */
function enterExclusiveMode(queue: Queue): void {
  for (const group of queue.groups.values()) {
    for (const message of group.parked.drain()) queue.main.insert(message);
    if (group.owner) group.owner.blockedGroups.clear();
  }
  queue.readyGroups.clear();
  queue.unownedBlocked.clear();
}

/**
 * Exactly one exclusive consumer is active: the highest priority, then the earliest attached. A better
 * one takes over only once the active one has nothing unsettled (it quiesces meanwhile).
 */
function updateExclusive(queue: Queue, effects: Effect[]): void {
  const best = bestExclusive(queue);
  const active = queue.activeExclusive;
  if (best === active) return;
  if (active !== null && best !== null && active.unsettled.size > 0) return;
  queue.activeExclusive = best;
  effects.push({ type: 'exclusive-active', queue: queue.name, consumerId: best ? best.id : null });
}

/** Messages and groups waiting for "any other consumer" get another chance after consumers change. */
function wakeWaiting(queue: Queue): void {
  for (const group of queue.unownedBlocked) queue.readyGroups.add(group);
  queue.unownedBlocked.clear();
  for (const message of queue.deferred.drain()) queue.main.insert(message);
}
