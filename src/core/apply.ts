import { attachBrowser, browserCredit } from './browsing';
import { purge, releaseGroupOf, retryDeadLetters } from './admin-commands';
import { addConsumer, bestExclusive, removeConsumer, setCredit } from './consumers';
import { dispatch, dropIfExpired, isExpired, messageGone, returnToQueue } from './dispatch';
import {
  expireIdleGroups,
  groupDeliveryEnded,
  groupMessageQueued,
  ownerDetached,
  rebalanceOnto,
  unparkAll,
  wakeGroupsAwaitingCredit,
  wakeGroupsWithExpiredHead,
} from './group-lifecycle';
import { enterLevel, levelsOf, priorityOf } from './priority';
import { schedule, takeDue } from './schedule';
import { joinSelectorClass, leaveSelectorClass, unfileWaiting, wakeHeld } from './selection';
import { deleteQueue } from './queue-deletion';
import { deleteUnusedQueues } from './auto-delete';
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
 * applied to a fresh state always yields the same state and effects. Scheduled messages due by `nowMs`
 * enter their queues first, whatever the command (a tick lets them in once it has forgotten the idle
 * groups whose time ran out).
 */
export function apply(state: CoreState, command: Command, nowMs: number): Effect[] {
  state.nowMs = nowMs;
  const effects: Effect[] = [];
  if (command.type !== 'tick') releaseDue(state, effects);
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
    case 'clock':
      break;
    case 'purge':
    case 'release-group':
    case 'retry-dead-letters':
      operatorCommand(state, command, effects);
      break;
    case 'delete-queue':
      deleteQueue(state, command.queue, effects);
      break;
  }
  return effects;
}

/** A new message; one with a delivery time still to come is scheduled and enters the queue then. */
function enqueue(
  state: CoreState,
  queue: Queue,
  meta: MessageMeta,
  body: MessageBody,
  effects: Effect[],
  deadLetteredFrom: string | null = null,
): void {
  const deliverAtMs = meta.deliverAtMs ?? null;
  if (deliverAtMs !== null && deliverAtMs > state.nowMs) {
    const message = newMessage(state.nextMessageId++, UNPOSITIONED, meta, body, deadLetteredFrom);
    schedule(state, queue, message);
    effects.push({ type: 'enqueued', queue: queue.name, message });
    return;
  }
  const message = newMessage(state.nextMessageId++, queue.nextSeq++, meta, body, deadLetteredFrom);
  addToQueue(queue, message);
  effects.push({ type: 'enqueued', queue: queue.name, message });
  dispatch(state, queue, effects);
}

/** The position of a scheduled message until it enters its queue (positions start at 1). */
const UNPOSITIONED = 0;

function newMessage(id: number, seq: number, meta: MessageMeta, body: MessageBody, deadLetteredFrom: string | null): QueuedMessage {
  const priority = priorityOf(meta);
  return {
    id,
    seq,
    groupId: meta.groupId,
    closesGroup: meta.closesGroup,
    expiresAtMs: meta.expiresAtMs,
    durable: meta.durable,
    deadLetteredFrom,
    deliveryCount: meta.deliveryCount,
    priority,
    level: priority,
    levels: null,
    status: 'queued',
    deliverAtMs: meta.deliverAtMs ?? null,
    selection: null,
    excludedConsumers: null,
    body,
  };
}

/**
 * Scheduled messages whose time has come enter their queues, the earliest first, as if just sent; then
 * dispatch looks at each queue that got any, so messages due together go out in queue order.
 */
function releaseDue(state: CoreState, effects: Effect[]): void {
  let due = takeDue(state);
  if (due === undefined) return;
  const touched = new Set<Queue>();
  for (; due !== undefined; due = takeDue(state)) {
    const { queue, message } = due;
    message.seq = queue.nextSeq++;
    addToQueue(queue, message);
    effects.push({ type: 'scheduled-due', queue: queue.name, message });
    touched.add(queue);
  }
  for (const queue of touched) dispatch(state, queue, effects);
}

function addToQueue(queue: Queue, message: QueuedMessage): void {
  queue.queuedCount++;
  queue.enqueuedTotal++;
  message.status = 'queued';
  if (message.expiresAtMs !== null) queue.holdsExpiringMessages = true;
  enterLevel(message.groupId === null ? null : levelsOf(groupMessageQueued(queue, message.groupId)), message);
  queue.main.insert(message);
}

/**
 * Recovery replays stored messages queue by queue in position order, before any consumer attaches;
 * ids and positions continue after the highest recovered ones. A scheduled message that had not
 * entered its queue yet (no position) is scheduled again.
 */
function recover(state: CoreState, queue: Queue, recovered: RecoveredMessage): void {
  state.nextMessageId = Math.max(state.nextMessageId, recovered.id + 1);
  const message = newMessage(recovered.id, recovered.seq, recovered.meta, recovered.body, recovered.deadLetteredFrom ?? null);
  if (recovered.seq === UNPOSITIONED) {
    schedule(state, queue, message);
    return;
  }
  queue.nextSeq = Math.max(queue.nextSeq, recovered.seq + 1);
  addToQueue(queue, message);
}

function attach(state: CoreState, command: Extract<Command, { type: 'attach' }>, effects: Effect[]): void {
  if (state.consumers.has(command.consumerId) || state.browsers.has(command.consumerId)) {
    throw new Error(`consumer ${command.consumerId} is already attached`);
  }
  const queue = queueFor(state, command.queue, effects);
  if (command.browse === true) {
    attachBrowser(state, command.consumerId, queue, command.filter ?? null);
    return;
  }
  const consumer: Consumer = {
    id: command.consumerId,
    queue,
    selectorClass: joinSelectorClass(queue, command.filter ?? null),
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
  if (!wasExclusive && queue.exclusiveCount > 0) {
    unparkAll(queue);
    unfileWaiting(queue);
  }
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
  if (state.browsers.delete(consumerId)) return;
  const consumer = state.consumers.get(consumerId);
  if (!consumer) return;
  const queue = consumer.queue;
  state.consumers.delete(consumerId);
  consumer.attached = false;
  removeConsumer(queue, consumer);
  leaveSelectorClass(queue, consumer.selectorClass);
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
  const browser = state.browsers.get(consumerId);
  if (browser !== undefined) {
    browserCredit(state, browser, amount, drain, effects);
    return;
  }
  const consumer = state.consumers.get(consumerId);
  if (!consumer) return;
  const queue = consumer.queue;
  const hadCredit = consumer.credit > 0;
  setCredit(queue, consumer, Math.max(0, amount));
  if (consumer.credit > 0) {
    wakeGroupsAwaitingCredit(queue, consumer);
    // What its class's consumers with credit refused (undeliverable-here) may suit this one.
    if (!hadCredit) wakeHeld(consumer.selectorClass);
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
      messageGone(queue, message);
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

/** Time passed: idle groups are forgotten, scheduled messages due enter, expired messages stop holding anything back. */
function tick(state: CoreState, effects: Effect[]): void {
  for (const queue of state.queues.values()) expireIdleGroups(queue, state.nowMs, effects);
  releaseDue(state, effects);
  for (const queue of state.queues.values()) {
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
  messageGone(queue, message);
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
      priority: message.priority,
    },
    message.body,
    effects,
    queue.name,
  );
}

/** Operator commands act on queues that exist; they never create one. */
function operatorCommand(
  state: CoreState,
  command: Extract<Command, { type: 'purge' | 'release-group' | 'retry-dead-letters' }>,
  effects: Effect[],
): void {
  const queue = state.queues.get(command.queue);
  if (queue === undefined) return;
  switch (command.type) {
    case 'purge':
      purge(state, queue, effects);
      break;
    case 'release-group':
      releaseGroupOf(state, queue, command.groupId, effects);
      break;
    case 'retry-dead-letters':
      retryDeadLetters(state, queue, command.from, command.limit, effects, (target, meta, body) =>
        enqueue(state, queueFor(state, target, effects), meta, body, effects),
      );
      break;
  }
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

function wakeDeferred(queue: Queue): void {
  for (const message of queue.deferred.drain()) queue.main.insert(message);
}
