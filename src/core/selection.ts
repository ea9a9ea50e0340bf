import { comesBefore, PriorityBuffer } from './priority-buffer';
import type { Group, MessageFilter, MessageStatus, Queue, QueuedMessage } from './types';

/**
 * Selectors in dispatch (README "Selectors"). The core does not read selectors or messages: an attach
 * brings an opaque, deterministic `MessageFilter` (built by the AMQP layer from the compiled selector
 * and the message bytes). Consumers whose filters have the same key form one selector class, and
 * consumers without a selector form the match-all class.
 *
 * COST. A message is evaluated at most once per selector class for each delivery-count it has (the one
 * message state a selector can read that changes): verdicts are remembered on the class for the message
 * dispatch is looking at, and on the message for as long as it waits. A message or a group whose next
 * message no consumer with credit may take waits in the WAKE INDEX of every class that matches it (and
 * only there), so it is looked at again only when a consumer of such a class gets credit, or when a
 * consumer with a selector not seen before attaches (that one class is asked about every waiting
 * message, once). Dispatch takes waiting messages lazily, in queue order, from the classes whose
 * consumers have credit, merged with the queue's new messages; so a backlog that no consumer with credit
 * matches costs nothing per dispatched message, and one that matches costs O(1) per message taken from
 * it (plus a look at each class with credit). A message the consumers with credit of a class refused
 * (undeliverable-here) is held aside until one of that class's consumers gets credit anew, which is
 * what the queue did before selectors existed.
 *
 * Memory: per waiting message, one entry in the index of each class that matches it and the list of
 * those classes; entries of messages that stopped waiting are skipped when met, and compacted away
 * once they outnumber the live ones.
 */
export interface SelectorClass {
  readonly key: string | null;
  /** null: the match-all class (consumers without a selector). */
  readonly filter: MessageFilter | null;
  /** Classes created later have higher serials: what a message's verdicts cover is a serial. */
  readonly serial: number;
  /** Attached consumers in the class; the class goes when the last one detaches. */
  consumers: number;
  /** Of those, how many have credit. */
  withCredit: number;
  /** Waiting ungrouped messages the class matches, in queue order (may hold entries no longer waiting). */
  waiting: PriorityBuffer<QueuedMessage>;
  /** Waiting messages every consumer of the class with credit refused; back in `waiting` when one gets credit anew. */
  held: QueuedMessage[];
  /** Groups waiting for a consumer whose next message the class matches. */
  readonly waitingGroups: Set<Group>;
  /** Such groups whose next message every consumer of the class with credit refused. */
  readonly heldGroups: Set<Group>;
  /** Entries in `waiting` of messages that stopped waiting (an estimate that drives compaction). */
  staleEntries: number;
  /** The verdict on the last message asked about, at its delivery-count. */
  memoMessage: QueuedMessage | null;
  memoDeliveryCount: number;
  memoResult: boolean;
}

/** A message's verdicts while it waits: complete for every class up to a serial, at one delivery-count. */
export interface MessageSelection {
  readonly deliveryCount: number;
  through: number;
  readonly matching: SelectorClass[];
}

/** Entries of messages no longer waiting are dropped when they reach this share of an index. */
const COMPACT_MIN_STALE = 64;

/** A consumer attaches: it joins the class of its filter; a class not seen before is asked about every waiting message. */
export function joinSelectorClass(queue: Queue, filter: MessageFilter | null): SelectorClass {
  const key = filter === null ? null : filter.key;
  const existing = queue.selectorClasses.get(key);
  if (existing !== undefined) {
    existing.consumers++;
    return existing;
  }
  const created: SelectorClass = {
    key,
    filter,
    serial: queue.nextSelectorClassSerial++,
    consumers: 1,
    withCredit: 0,
    waiting: new PriorityBuffer(),
    held: [],
    waitingGroups: new Set(),
    heldGroups: new Set(),
    staleEntries: 0,
    memoMessage: null,
    memoDeliveryCount: 0,
    memoResult: false,
  };
  queue.selectorClasses.set(key, created);
  for (const message of queue.waiting) {
    if (recordVerdict(created, message)) created.waiting.insert(message);
  }
  for (const group of queue.groupsAwaitingMatch) {
    if (recordVerdict(created, group.parked!.peek()!)) created.waitingGroups.add(group);
  }
  return created;
}

/** A consumer detached (its credit is already gone); the class goes with its last consumer. */
export function leaveSelectorClass(queue: Queue, selectorClass: SelectorClass): void {
  selectorClass.consumers--;
  if (selectorClass.consumers === 0) queue.selectorClasses.delete(selectorClass.key);
}

/** Whether the class's selector is TRUE for the message, asking the filter at most once per delivery-count. */
export function classMatches(selectorClass: SelectorClass, message: QueuedMessage): boolean {
  if (selectorClass.filter === null) return true;
  const selection = message.selection;
  if (selection !== null && selection.deliveryCount === message.deliveryCount && selectorClass.serial <= selection.through) {
    return selection.matching.includes(selectorClass);
  }
  if (selectorClass.memoMessage !== message || selectorClass.memoDeliveryCount !== message.deliveryCount) {
    selectorClass.memoResult = selectorClass.filter.matches(message);
    selectorClass.memoMessage = message;
    selectorClass.memoDeliveryCount = message.deliveryCount;
  }
  return selectorClass.memoResult;
}

/** A consumer's credit changed between zero and more. */
export function classCreditChanged(selectorClass: SelectorClass, hasCredit: boolean): void {
  selectorClass.withCredit += hasCredit ? 1 : -1;
}

/** A consumer's credit rose from zero: what its class's consumers with credit refused may suit it. */
export function wakeHeld(selectorClass: SelectorClass): void {
  for (const message of selectorClass.held) if (message.status === 'waiting') selectorClass.waiting.insert(message);
  selectorClass.held = [];
  for (const group of selectorClass.heldGroups) selectorClass.waitingGroups.add(group);
  selectorClass.heldGroups.clear();
}

// ---- Ungrouped messages ----

/**
 * The next message dispatch looks at: the first in queue order among new ones and those waiting for a
 * class with credit. (While nothing waits for a match, dispatch takes from `main` directly.)
 */
export interface NextMessage {
  readonly message: QueuedMessage;
  /** The class whose index it came from; null: new (or returned) from `main`. */
  readonly from: SelectorClass | null;
}

export function takeNextMessage(queue: Queue): NextMessage | null {
  let best = queue.main.peek();
  let from: SelectorClass | null = null;
  for (const selectorClass of queue.selectorClasses.values()) {
    if (selectorClass.withCredit === 0) continue;
    const head = waitingHead(selectorClass);
    if (head !== undefined && (best === undefined || comesBefore(head, best))) {
      best = head;
      from = selectorClass;
    }
  }
  if (best === undefined) return null;
  if (from === null) queue.main.shift();
  else from.waiting.shift();
  return { message: best, from };
}

/**
 * No consumer with credit may take the message. New from `main`: it waits, filed in the index of every
 * class that matches it. From a class's index: every consumer of that class with credit refused it, so
 * it is held aside there (an entry of a class it no longer matches is dropped; its other entries stand).
 */
export function waitForMatch(queue: Queue, message: QueuedMessage, from: SelectorClass | null): void {
  if (from !== null) {
    if (classMatches(from, message)) from.held.push(message);
    return;
  }
  message.status = 'waiting';
  queue.waiting.add(message);
  for (const selectorClass of refreshSelection(queue, message).matching) {
    if (queue.selectorClasses.get(selectorClass.key) !== selectorClass) continue;
    if (selectorClass.withCredit > 0) selectorClass.held.push(message);
    else selectorClass.waiting.insert(message);
  }
}

/** A waiting message was delivered or dropped: it leaves the wait indexes (lazily) with its new status. */
export function leaveWaiting(queue: Queue, message: QueuedMessage, status: MessageStatus): void {
  message.status = status;
  queue.waiting.delete(message);
  for (const selectorClass of message.selection!.matching) {
    if (queue.selectorClasses.get(selectorClass.key) !== selectorClass) continue;
    selectorClass.staleEntries++;
    if (selectorClass.staleEntries >= COMPACT_MIN_STALE && selectorClass.staleEntries * 2 > selectorClass.waiting.size) compact(selectorClass);
  }
}

/** Entering exclusive mode: every waiting message goes back to `main`, in queue order. */
export function unfileWaiting(queue: Queue): void {
  for (const message of takeWaiting(queue)) queue.main.insert(message);
}

/** Every waiting message, out of the wait indexes (status `queued` again; its verdicts kept). */
export function takeWaiting(queue: Queue): QueuedMessage[] {
  const messages = [...queue.waiting];
  for (const message of messages) message.status = 'queued';
  queue.waiting.clear();
  for (const selectorClass of queue.selectorClasses.values()) {
    selectorClass.waiting = new PriorityBuffer();
    selectorClass.held = [];
    selectorClass.staleEntries = 0;
  }
  return messages;
}

// ---- Groups (wake list `eligible-consumer`, group-lifecycle.ts) ----

/** The group's next message waits for a consumer with credit that may take it: file it per matching class. */
export function fileGroupForMatch(queue: Queue, group: Group): void {
  queue.groupsAwaitingMatch.add(group);
  for (const selectorClass of refreshSelection(queue, group.parked!.peek()!).matching) {
    if (queue.selectorClasses.get(selectorClass.key) !== selectorClass) continue;
    if (selectorClass.withCredit > 0) selectorClass.heldGroups.add(group);
    else selectorClass.waitingGroups.add(group);
  }
}

export function unfileGroupForMatch(queue: Queue, group: Group): void {
  queue.groupsAwaitingMatch.delete(group);
  for (const selectorClass of queue.selectorClasses.values()) {
    selectorClass.waitingGroups.delete(group);
    selectorClass.heldGroups.delete(group);
  }
}

/** A waiting group that a class with credit matches; dispatch makes it ready and looks at it again. */
export function groupForClassWithCredit(queue: Queue): Group | undefined {
  if (queue.groupsAwaitingMatch.size === 0) return undefined;
  for (const selectorClass of queue.selectorClasses.values()) {
    if (selectorClass.withCredit > 0 && selectorClass.waitingGroups.size > 0) return selectorClass.waitingGroups.values().next().value;
  }
  return undefined;
}

// ---- Verdicts ----

/** The message's verdicts, completed for every class now attached. */
function refreshSelection(queue: Queue, message: QueuedMessage): MessageSelection {
  let selection = message.selection;
  if (selection === null || selection.deliveryCount !== message.deliveryCount) {
    selection = { deliveryCount: message.deliveryCount, through: -1, matching: [] };
    message.selection = selection;
  }
  for (const selectorClass of queue.selectorClasses.values()) {
    if (selectorClass.serial > selection.through) recordVerdict(selectorClass, message);
  }
  return selection;
}

/** Asks a class newer than the message's verdicts about it and records the answer there. */
function recordVerdict(selectorClass: SelectorClass, message: QueuedMessage): boolean {
  const matches = classMatches(selectorClass, message);
  const selection = message.selection!;
  selection.through = Math.max(selection.through, selectorClass.serial);
  if (matches) selection.matching.push(selectorClass);
  return matches;
}

/** The first entry of the class's index whose message still waits; stale entries before it are dropped. */
function waitingHead(selectorClass: SelectorClass): QueuedMessage | undefined {
  for (let head = selectorClass.waiting.peek(); head !== undefined; head = selectorClass.waiting.peek()) {
    if (head.status === 'waiting') return head;
    selectorClass.waiting.shift();
    if (selectorClass.staleEntries > 0) selectorClass.staleEntries--;
  }
  return undefined;
}

/** Rebuilds the index from the entries of messages still waiting, once each. */
function compact(selectorClass: SelectorClass): void {
  const kept = new Set<QueuedMessage>();
  for (const message of selectorClass.waiting) if (message.status === 'waiting') kept.add(message);
  selectorClass.waiting = new PriorityBuffer();
  for (const message of kept) selectorClass.waiting.insert(message);
  selectorClass.staleEntries = 0;
}
