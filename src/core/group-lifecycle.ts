/**
 * The lifecycle of a message group: its states, every transition between them, why a group with queued
 * messages cannot move and which event wakes it. Nothing outside this file changes a group's state,
 * owner, counts, parked messages or wake list (the way RabbitMQ's rabbit_fifo keeps its machine in one
 * place). README "Message groups" is the contract; test/model/ is an executable copy of it that the
 * property tests hold this file to.
 *
 * STATES
 *   unowned  no owner; something queued. (No owner and nothing queued: the group is forgotten.)
 *   owned    owner O receives the group's messages; something queued or in flight.
 *   idle     owner O, nothing queued or in flight; remembered (LRU `queue.idleGroups`) so that the next
 *            message still goes to O.
 *   moving   O (the donor) still holds in-flight messages; the group passes to `moveTo` once none is left.
 *   closing  O received the group's closing message (position `closedAtSeq`); ownership ends once nothing
 *            is in flight, and later messages wait for that.
 *   (forgotten: no record at all; the group's next message creates it `unowned`.)
 *
 * TRANSITIONS. `settleState` derives the resting state after every event that changes an owner or a
 * count, so a move or a close completes the moment nothing is in flight, whichever path brought the count
 * to zero (settle with any outcome, dead-lettering, the donor detaching or losing its connection): a
 * group is never left moving or closing with nothing to finish it.
 *   from          event                                                         to
 *   (forgotten)   message enqueued, recovered or returned                       unowned
 *   idle(O)       message enqueued                                              owned(O)
 *   unowned       next message delivered to the fresh pick C (fewest groups)    owned(C)
 *   owned(O)      next message, refused by O, delivered to the fresh pick C     owned(C)
 *                 (only once O holds nothing of the group)
 *   unowned,      closing message delivered to C (group-sequence 4294967295,    closing(C); unowned or
 *   owned         JMSXGroupSeq -1)                                              forgotten at once if
 *                                                                               sent pre-settled
 *   owned(O)      last queued or in-flight message gone (accepted, rejected,    idle(O)
 *                 dead-lettered, expired, sent pre-settled, sent to an
 *                 exclusive consumer)
 *   unowned       last queued message gone (expired, sent to an exclusive       forgotten
 *                 consumer)
 *   moving(O>T)   last in-flight message settled or returned                    owned(T) or idle(T);
 *                                                                               unowned or forgotten if
 *                                                                               T has detached
 *   closing(O)    last in-flight message settled or returned                    unowned or forgotten
 *   owned(O),     O detaches or its connection drops: at once with nothing in   unowned or forgotten
 *   idle(O)       flight, else when its last delivery is back
 *   owned(O),     groupRebalance: T attaches and O owns more than its share     moving(O>T); owned(T) or
 *   idle(O)                                                                     idle(T) at once with
 *                                                                               nothing in flight
 *   idle          another group becomes idle beyond maxGroups (least recently   forgotten
 *                 idle first)
 *   idle          groupIdleTimeoutMs passed (tick)                              forgotten
 *   owned(O),     operator releases the group (release-group)                   moving(O>none); unowned or
 *   idle(O),                                                                    forgotten at once with
 *   moving(O>T)                                                                 nothing in flight
 *   any           operator purges the queue: its queued messages go             as for the last queued
 *                 (in-flight ones stay)                                         message gone
 * No state change, only a blocking reason (below): credit and drain, maxInFlightPerGroup, the owner
 * refusing a message (undeliverable-here, or its selector does not match the message: it keeps the group
 * until it holds nothing of it), consumer
 * priority (a fresh pick takes the highest priority level with an eligible consumer), exclusive mode.
 * Entering exclusive mode (the first exclusive consumer attaches) puts every parked message back into
 * the queue in order; groups keep their states but play no role in dispatch, and a delivery to an
 * exclusive consumer is not one of the group's (it neither counts as in flight nor closes the group).
 *
 * BLOCKED: a group with queued messages that dispatch cannot hand on, and what wakes it. A group whose
 * next message cannot go is parked (its later messages queue behind it, untouched) and filed in the
 * wake list of its reason; the wake event moves it to `ready` and dispatch looks at it once more. So
 * dispatch costs the same whatever the number of blocked groups and the backlog behind them.
 *   reason                           wake list      woken by
 *   owner-has-no-credit              owner-credit   credit to the owner (AMQP 1.0 2.6.7 flow); or its
 *                                                   next message expiring (tick)
 *   awaiting-settlement-before-move  settlement     settlement or return of its in-flight messages
 *   max-in-flight-per-group          settlement     same
 *   closing-awaits-settlement        settlement     same
 *   owner-refused-message            refusal        same; or its next message expiring (tick)
 *   no-eligible-consumer             eligible-      credit rising from zero for a consumer whose selector
 *                                    consumer       matches its next message, or a consumer with a
 *                                                   selector not seen before attaching (selection.ts files
 *                                                   the group per selector class); or its next message
 *                                                   expiring (tick)
 *   queue-is-exclusive               (none)         the active exclusive consumer taking messages
 * Besides, every change of owner or state, and every settlement of the group, makes a parked group
 * ready. A group waits on `settlement` only while something is in flight (asserted in `holdBack`).
 * The tick looks at the next message of groups in the owner-credit, refusal and eligible-consumer lists,
 * and only in queues that ever held a message with an expiry time.
 */
import { chooseConsumer, notePicked, refuses } from './consumers';
import { OrderedBuffer } from './ordered-buffer';
import { adoptOrphanLevels, orphanGroupLevels } from './priority';
import { fileGroupForMatch, unfileGroupForMatch } from './selection';
import type { Consumer, Effect, Group, Queue, QueuedMessage } from './types';

export type GroupState = 'unowned' | 'owned' | 'idle' | 'moving' | 'closing';

export type BlockedReason =
  | 'owner-has-no-credit'
  | 'awaiting-settlement-before-move'
  | 'max-in-flight-per-group'
  | 'closing-awaits-settlement'
  | 'owner-refused-message'
  | 'no-eligible-consumer'
  | 'queue-is-exclusive';

export type WakeEvent = 'owner-credit' | 'settlement' | 'eligible-consumer-credit' | 'exclusive-consumer-ready';

/** Where a group with parked messages waits: `ready` for dispatch, or for the event of its reason. */
export type WakeList = 'ready' | 'owner-credit' | 'settlement' | 'refusal' | 'eligible-consumer';

export type ParkingReason = Exclude<BlockedReason, 'queue-is-exclusive'>;

const WAKE_LIST: Record<ParkingReason, WakeList> = {
  'owner-has-no-credit': 'owner-credit',
  'awaiting-settlement-before-move': 'settlement',
  'max-in-flight-per-group': 'settlement',
  'closing-awaits-settlement': 'settlement',
  'owner-refused-message': 'refusal',
  'no-eligible-consumer': 'eligible-consumer',
};

const WAKE_EVENT: Record<BlockedReason, WakeEvent> = {
  'owner-has-no-credit': 'owner-credit',
  'awaiting-settlement-before-move': 'settlement',
  'max-in-flight-per-group': 'settlement',
  'closing-awaits-settlement': 'settlement',
  'owner-refused-message': 'settlement',
  'no-eligible-consumer': 'eligible-consumer-credit',
  'queue-is-exclusive': 'exclusive-consumer-ready',
};

/** "Why is this group not moving and what wakes it": what operators see (`convoy groups`). */
export interface GroupStatus {
  readonly state: GroupState;
  /** Null when nothing is queued, or the next message can go as soon as dispatch runs. */
  readonly blockedReason: BlockedReason | null;
  readonly wakesOn: WakeEvent | null;
}

export function groupStatus(queue: Queue, group: Group): GroupStatus {
  const reason = blockedReason(queue, group);
  return { state: group.state, blockedReason: reason, wakesOn: reason === null ? null : WAKE_EVENT[reason] };
}

function blockedReason(queue: Queue, group: Group): BlockedReason | null {
  if (group.queued === 0) return null;
  if (queue.exclusiveCount > 0) return 'queue-is-exclusive';
  // Without parked messages, the group's next message has not been looked at yet: in shared mode that
  // means no consumer has had credit since it arrived, and the answer follows from the state alone.
  const next = nextConsumer(queue, group, group.parked === null ? null : group.parked.peek()!);
  return typeof next === 'string' ? next : null;
}

/**
 * The one dispatch rule for a group (shared mode): the consumer that must receive `head`, the group's
 * next message, now; or why it has to wait. Pure (the rotation cursor moves only on delivery). With
 * `head` null (not looked at yet), the rules that depend on the message are left out.
 */
export function nextConsumer(queue: Queue, group: Group, head: QueuedMessage | null): Consumer | ParkingReason {
  if (group.state === 'moving') return 'awaiting-settlement-before-move';
  const limit = queue.options.maxInFlightPerGroup;
  if (limit !== null && group.inFlight >= limit) return 'max-in-flight-per-group';
  // After a close, a returned message of the closed sequence still goes to the owner; later ones wait.
  if (group.state === 'closing' && (head === null || head.seq > group.closedAtSeq!)) return 'closing-awaits-settlement';
  const owner = group.owner;
  if (owner !== null && (head === null || !refuses(owner, head))) return owner.credit > 0 ? owner : 'owner-has-no-credit';
  // The owner refused this message (or its selector does not match it): it goes to another consumer, but only once the owner holds nothing
  // of the group, so that two consumers never hold messages of one group at the same time.
  if (owner !== null && group.inFlight > 0) return 'owner-refused-message';
  return chooseConsumer(queue, head, true) ?? 'no-eligible-consumer';
}

// ---- Events that change counts, owners and states ----

/** A message of the group joins the queue: enqueued, recovered, returned or dead-lettered into it. */
export function groupMessageQueued(queue: Queue, groupId: string): Group {
  let group = queue.groups.get(groupId);
  if (group === undefined) {
    group = {
      id: groupId,
      state: 'unowned',
      owner: null,
      moveTo: null,
      closedAtSeq: null,
      parked: null,
      waitingIn: null,
      queued: 0,
      inFlight: 0,
      levels: adoptOrphanLevels(queue, groupId),
      idleSinceMs: 0,
      older: queue.newestGroup,
      newer: null,
      idlePrev: null,
      idleNext: null,
    };
    queue.groups.set(groupId, group);
    if (queue.newestGroup === null) queue.oldestGroup = group;
    else queue.newestGroup.newer = group;
    queue.newestGroup = group;
  }
  if (group.queued === 0) queue.groupsWithQueued++;
  group.queued++;
  if (group.state === 'idle') {
    queue.idleGroups.delete(group);
    group.state = 'owned';
  }
  return group;
}

/** The group of a message that is queued (so the group exists). */
export function groupOf(queue: Queue, message: QueuedMessage): Group {
  const group = queue.groups.get(message.groupId!);
  if (group === undefined) throw new Error(`queued message ${message.id} has no group ${message.groupId}`);
  return group;
}

/**
 * A delivered message comes back (released, modified, its consumer gone) to its original position:
 * behind nothing of its group that came after it.
 */
export function requeueGroupMessage(queue: Queue, message: QueuedMessage): void {
  const group = groupMessageQueued(queue, message.groupId!);
  if (group.parked === null) {
    queue.main.insert(message);
  } else {
    group.parked.insert(message);
    makeReady(queue, group);
  }
}

/**
 * Dispatch delivered the group's next message to `consumer`, as `nextConsumer` decided. A consumer
 * other than the owner is a fresh pick and becomes the owner.
 */
export function groupMessageDelivered(
  queue: Queue,
  group: Group,
  consumer: Consumer,
  message: QueuedMessage,
  inFlight: boolean,
  nowMs: number,
  effects: Effect[],
): void {
  oneLessQueued(queue, group);
  if (consumer !== group.owner) {
    notePicked(queue, consumer);
    setOwner(queue, group, consumer, effects);
    group.state = 'owned';
  }
  if (inFlight) group.inFlight++;
  if (message.closesGroup && group.state !== 'closing') {
    group.state = 'closing';
    group.closedAtSeq = message.seq;
  }
  settleState(queue, group, nowMs, effects);
}

/** A queued message of the group left without becoming one of its deliveries: expired, or sent in exclusive mode. */
export function groupMessageRemoved(queue: Queue, group: Group, nowMs: number, effects: Effect[]): void {
  oneLessQueued(queue, group);
  settleState(queue, group, nowMs, effects);
}

function oneLessQueued(queue: Queue, group: Group): void {
  group.queued--;
  if (group.queued === 0) queue.groupsWithQueued--;
}

/**
 * A delivery of the group ended: settled with any outcome, or returned by a detaching consumer (the
 * message is back in the queue, or dead-lettered, before this is called).
 */
export function groupDeliveryEnded(queue: Queue, group: Group, nowMs: number, effects: Effect[]): void {
  group.inFlight--;
  if (group.parked !== null) makeReady(queue, group);
  settleState(queue, group, nowMs, effects);
}

/**
 * The consumer detached (`attached` is already false): its groups with nothing in flight lose their
 * owner now; the others when their last delivery ends (`groupDeliveryEnded`, as its deliveries return).
 */
export function ownerDetached(queue: Queue, consumer: Consumer, nowMs: number, effects: Effect[]): void {
  for (const group of consumer.groups) settleState(queue, group, nowMs, effects);
}

/**
 * groupRebalance: `newcomer` attached; groups move to it from the consumers that own the most (in the
 * order they got them) until it has its fair share. Moving and closing groups stay where they are.
 */
export function rebalanceOnto(queue: Queue, newcomer: Consumer, effects: Effect[]): void {
  let owned = 0;
  for (const consumer of queue.consumers) owned += consumer.groups.size;
  const fairShare = Math.floor(owned / queue.consumers.length);
  let wanted = fairShare - newcomer.groups.size;
  const donors = queue.consumers.filter((c) => c !== newcomer).sort((a, b) => b.groups.size - a.groups.size);
  for (const donor of donors) {
    let excess = donor.groups.size - fairShare;
    for (const group of donor.groups) {
      if (wanted <= 0 || excess <= 0) break;
      if (group.state === 'moving' || group.state === 'closing') continue;
      moveGroup(queue, group, newcomer, effects);
      wanted--;
      excess--;
    }
  }
}

/**
 * Operator: the group leaves its owner, by the move machinery with no target: at once when nothing of it
 * is in flight, else when its last in-flight message is settled or returned (never two owners); its
 * next message then goes to a fresh pick. A closing group is left alone: it loses its owner that way
 * anyway.
 */
export function releaseGroup(queue: Queue, group: Group, nowMs: number, effects: Effect[]): void {
  if (group.owner === null || group.state === 'closing') return;
  group.state = 'moving';
  group.moveTo = null;
  if (group.parked !== null) makeReady(queue, group);
  settleState(queue, group, nowMs, effects);
}

function moveGroup(queue: Queue, group: Group, to: Consumer, effects: Effect[]): void {
  if (group.inFlight === 0) {
    setOwner(queue, group, to, effects);
    return;
  }
  group.state = 'moving';
  group.moveTo = to;
  if (group.parked !== null) makeReady(queue, group);
}

/** Forgets idle groups older than groupIdleTimeoutMs (tick). */
export function expireIdleGroups(queue: Queue, nowMs: number, effects: Effect[]): void {
  const timeoutMs = queue.options.groupIdleTimeoutMs;
  if (timeoutMs === null) return;
  for (const group of queue.idleGroups) {
    if (group.idleSinceMs + timeoutMs > nowMs) break;
    forgetIdle(queue, group, effects);
  }
}

/**
 * Derives the state the group's facts call for, after any change to its owner or its counts. This is
 * where moves and closes complete: at the moment nothing of the group is in flight.
 */
function settleState(queue: Queue, group: Group, nowMs: number, effects: Effect[]): void {
  if (group.inFlight > 0) return;
  let owner = group.owner;
  if (group.state === 'moving') owner = group.moveTo;
  else if (group.state === 'closing') owner = null;
  if (owner !== null && !owner.attached) owner = null;
  group.moveTo = null;
  group.closedAtSeq = null;
  setOwner(queue, group, owner, effects);
  if (owner === null) {
    if (group.queued === 0) forget(queue, group);
    else group.state = 'unowned';
  } else if (group.queued > 0) {
    group.state = 'owned';
  } else if (group.state !== 'idle') {
    becomeIdle(queue, group, nowMs, effects);
  }
}

/** Remembers the group for its owner, forgetting the least recently idle ones beyond maxGroups. */
function becomeIdle(queue: Queue, group: Group, nowMs: number, effects: Effect[]): void {
  group.state = 'idle';
  if (group.levels !== null && group.levels.live === 0) group.levels = null;
  group.idleSinceMs = nowMs;
  queue.idleGroups.add(group);
  const maxGroups = queue.options.maxGroups;
  if (maxGroups === null) return;
  for (const oldest of queue.idleGroups) {
    if (queue.idleGroups.size <= maxGroups) break;
    forgetIdle(queue, oldest, effects);
  }
}

/** Forgetting an idle group cannot break order: nothing of it is anywhere to overtake. */
function forgetIdle(queue: Queue, group: Group, effects: Effect[]): void {
  setOwner(queue, group, null, effects);
  forget(queue, group);
}

function forget(queue: Queue, group: Group): void {
  if (group.levels !== null) orphanGroupLevels(queue, group.id, group.levels);
  queue.groups.delete(group.id);
  if (group.older === null) queue.oldestGroup = group.newer;
  else group.older.newer = group.newer;
  if (group.newer === null) queue.newestGroup = group.older;
  else group.newer.older = group.older;
  group.older = null;
  group.newer = null;
  queue.idleGroups.delete(group);
}

function setOwner(queue: Queue, group: Group, owner: Consumer | null, effects: Effect[]): void {
  const previous = group.owner;
  if (previous === owner) return;
  // A new owner changes what the group waits for: dispatch looks at it again.
  if (group.parked !== null) makeReady(queue, group);
  if (previous !== null) previous.groups.delete(group);
  group.owner = owner;
  if (owner !== null) owner.groups.add(group);
  effects.push({ type: 'group-owner', queue: queue.name, groupId: group.id, consumerId: owner === null ? null : owner.id });
}

// ---- Parked messages and wake lists (used by dispatch) ----

/** A message whose group has parked messages queues behind them, untouched until the group is ready. */
export function parkBehind(group: Group, message: QueuedMessage): void {
  group.parked!.insert(message);
}

/** The group's next message (fresh from the queue) cannot go now: park it and wait for `reason`. */
export function parkFirst(queue: Queue, group: Group, message: QueuedMessage, reason: ParkingReason): void {
  group.parked = new OrderedBuffer<QueuedMessage>();
  group.parked.insert(message);
  holdBack(queue, group, reason);
}

/** The parked group's next message cannot go now: it waits in the wake list of `reason`. */
export function holdBack(queue: Queue, group: Group, reason: ParkingReason): void {
  const list = WAKE_LIST[reason];
  if (list === 'settlement' && group.inFlight === 0) {
    throw new Error(`group ${group.id} would wait for a settlement with nothing in flight (${reason})`);
  }
  fileIn(queue, group, list);
}

export function takeParkedHead(queue: Queue, group: Group): QueuedMessage {
  const parked = group.parked!;
  const head = parked.shift()!;
  if (parked.size === 0) {
    fileIn(queue, group, null);
    group.parked = null;
  }
  return head;
}

export function firstReadyGroup(queue: Queue): Group | undefined {
  if (queue.readyGroups.size === 0) return undefined;
  return queue.readyGroups.values().next().value;
}

/** Wake event `owner-credit`. */
export function wakeGroupsAwaitingCredit(queue: Queue, consumer: Consumer): void {
  for (const group of consumer.groupsAwaitingCredit) makeReady(queue, group);
}

/** Wake event `eligible-consumer-credit`: a consumer with credit whose selector class matches the group's next message. */
export function wakeMatchedGroup(queue: Queue, group: Group): void {
  makeReady(queue, group);
}

/**
 * Tick: time passing is the one change of a group's next message that no command reports. A parked
 * group whose next message expired may now go elsewhere (the message after it may be one the owner
 * refused), so it is looked at again. Groups waiting for a settlement stay: whatever comes next waits
 * for that settlement too.
 */
export function wakeGroupsWithExpiredHead(queue: Queue, isExpired: (message: QueuedMessage) => boolean): void {
  for (const consumer of queue.consumers) {
    for (const group of consumer.groupsAwaitingCredit) if (isExpired(group.parked!.peek()!)) makeReady(queue, group);
  }
  for (const group of queue.groupsAwaitingConsumer) if (isExpired(group.parked!.peek()!)) makeReady(queue, group);
  for (const group of queue.groupsAwaitingMatch) if (isExpired(group.parked!.peek()!)) makeReady(queue, group);
}

/** The first exclusive consumer attached: groups play no role, parked messages rejoin the queue in order. */
export function unparkAll(queue: Queue): void {
  for (const group of queue.groups.values()) for (const message of takeParked(queue, group)) queue.main.insert(message);
}

/** The group's parked messages, in order, taken out of its wake list (they are still queued: counts stay). */
export function takeParked(queue: Queue, group: Group): QueuedMessage[] {
  if (group.parked === null) return [];
  const messages = group.parked.drain();
  fileIn(queue, group, null);
  group.parked = null;
  return messages;
}

function makeReady(queue: Queue, group: Group): void {
  if (group.waitingIn !== 'ready') fileIn(queue, group, 'ready');
}

/** Moves the group from the wake list it is in to `list`; the only code that touches the wake lists. */
function fileIn(queue: Queue, group: Group, list: WakeList | null): void {
  switch (group.waitingIn) {
    case 'ready':
      queue.readyGroups.delete(group);
      break;
    case 'owner-credit':
      group.owner!.groupsAwaitingCredit.delete(group);
      break;
    case 'refusal':
      queue.groupsAwaitingConsumer.delete(group);
      break;
    case 'eligible-consumer':
      unfileGroupForMatch(queue, group);
      break;
    case 'settlement':
    case null:
      break;
  }
  group.waitingIn = list;
  switch (list) {
    case 'ready':
      queue.readyGroups.add(group);
      break;
    case 'owner-credit':
      group.owner!.groupsAwaitingCredit.add(group);
      break;
    case 'refusal':
      queue.groupsAwaitingConsumer.add(group);
      break;
    case 'eligible-consumer':
      fileGroupForMatch(queue, group);
      break;
    case 'settlement':
    case null:
      break;
  }
}
