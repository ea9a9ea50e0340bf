import { addConsumer, bestExclusive, removeConsumer, setCredit } from './consumers';
import { dispatch, dropIfExpired, isExpired, returnToQueue } from './dispatch';
import {
  expireIdleGroups,
  groupDeliveryEnded,
  groupMessageQueued,
  ownerDetached,
  rebalanceOnto,
  unparkAll,
  wakeGroupsAwaitingConsumer,
  wakeGroupsAwaitingCredit,
  wakeGroupsWithExpiredHead,
} from './group-lifecycle';
import { deleteQueue, deleteUnusedQueues } from './queue-lifetime';
import { queueFor } from './state';
import type {
  Command,
  Consumer,
  CoreState,
  DeadLetterReason,
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
    case 'delete-queue': {
      const queue = state.queues.get(command.queue);
      if (queue) deleteQueue(state, queue, 'requested', effects);
      break;
    }
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
  if (message.expiresAtMs !== null) queue.holdsExpiringMessages = true;
  if (message.groupId !== null) groupMessageQueued(queue, message.groupId);
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
    attached: true,
    credit: 0,
    drain: false,
    unsettled: new Map(),
    groups: new Set(),
    groupsAwaitingCredit: new Set(),
  };
  const wasExclusive = queue.exclusiveCount > 0;
  addConsumer(queue, consumer);
  state.consumers.set(consumer.id, consumer);
  if (!wasExclusive && queue.exclusiveCount > 0) unparkAll(queue);
  updateExclusive(queue, effects);
  if (queue.exclusiveCount === 0 && queue.options.groupRebalance) rebalanceOnto(queue, consumer, effects);
  dispatch(state, queue, effects);
}

/**
 * Detach, connection loss and idle time-out: every unsettled delivery goes back to its original position
 * with delivery-count + 1 first; only then do its groups and exclusivity pass to other consumers. Its
 * groups with nothing in flight (idle ones are remembered only for it) are released at once; each other
 * group once its last delivery is back.
 */
function detach(state: CoreState, consumerId: string, effects: Effect[]): void {
  const consumer = state.consumers.get(consumerId);
  if (!consumer) return;
  const queue = consumer.queue;
  state.consumers.delete(consumerId);
  consumer.attached = false;
  removeConsumer(queue, consumer);
  ownerDetached(queue, consumer, state.nowMs, effects);
  const returned = [...consumer.unsettled.values()];
  consumer.unsettled.clear();
  for (const delivery of returned) {
    queue.inFlightCount--;
    redeliverLater(state, queue, delivery.message, true, effects);
    if (delivery.group !== null) groupDeliveryEnded(queue, delivery.group, state.nowMs, effects);
  }
  updateExclusive(queue, effects);
  dispatch(state, queue, effects);
}

function credit(state: CoreState, consumerId: string, amount: number, drain: boolean, effects: Effect[]): void {
  const consumer = state.consumers.get(consumerId);
  if (!consumer) return;
  const queue = consumer.queue;
  const hadCredit = consumer.credit > 0;
  setCredit(queue, consumer, Math.max(0, amount));
  if (consumer.credit > 0) {
    wakeGroupsAwaitingCredit(queue, consumer);
    // What every consumer with credit refused (undeliverable-here) may suit this one.
    if (!hadCredit) wakeRefused(queue);
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
  queue.inFlightCount--;
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
  if (delivery.group !== null) groupDeliveryEnded(queue, delivery.group, state.nowMs, effects);
  if (queue.activeExclusive === consumer) updateExclusive(queue, effects);
  dispatch(state, queue, effects);
}

function tick(state: CoreState, effects: Effect[]): void {
  for (const queue of state.queues.values()) {
    expireIdleGroups(queue, state.nowMs, effects);
    for (let head = queue.main.peek(); head !== undefined && isExpired(state, head); head = queue.main.peek()) {
      queue.main.shift();
      dropIfExpired(state, queue, head, effects);
    }
    if (queue.holdsExpiringMessages) wakeGroupsWithExpiredHead(queue, (message) => isExpired(state, message));
    dispatch(state, queue, effects);
  }
  deleteUnusedQueues(state, effects);
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

/**
 * Exactly one exclusive consumer is active: the highest priority, then the earliest attached. A better
 * one takes over only once the active one has nothing unsettled (it quiesces meanwhile); a detached one
 * is replaced at once (its deliveries have returned).
 */
function updateExclusive(queue: Queue, effects: Effect[]): void {
  const best = bestExclusive(queue);
  const active = queue.activeExclusive;
  if (best === active) return;
  if (active !== null && active.attached && best !== null && active.unsettled.size > 0) return;
  queue.activeExclusive = best;
  effects.push({ type: 'exclusive-active', queue: queue.name, consumerId: best ? best.id : null });
  // What the previous active consumer refused may suit the new one (or, leaving exclusive mode, anyone).
  wakeDeferred(queue);
}

/** A consumer's credit rose from zero: it may take what every consumer with credit refused. */
function wakeRefused(queue: Queue): void {
  wakeGroupsAwaitingConsumer(queue);
  wakeDeferred(queue);
}

function wakeDeferred(queue: Queue): void {
  for (const message of queue.deferred.drain()) queue.main.insert(message);
}
