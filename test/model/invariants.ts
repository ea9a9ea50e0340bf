import { bestExclusive } from '../../src/core/consumers';
import { groupStatus, type WakeEvent, type WakeList } from '../../src/core/group-lifecycle';
import { queuedMessages } from '../../src/core/queued';
import type { Command, Consumer, CoreState, Effect, Group, Queue, QueuedMessage } from '../../src/core/types';

/**
 * The invariants of DESIGN §2 and README "Semantics you can rely on", checked on the core's state and
 * effects after every command, with no exemptions. Liveness included: after every command, nothing that
 * some consumer with credit may take is still waiting, unless its group has something in flight.
 */
export class InvariantViolation extends Error {}

function check(condition: boolean, message: () => string): void {
  if (!condition) throw new InvariantViolation(message());
}

/** Call `before` just ahead of `apply`, then `after` with the command's effects. */
export class InvariantWatch {
  private creditBefore = new Map<string, number>();

  constructor(private readonly state: CoreState) {}

  before(command: Command): void {
    this.creditBefore = new Map([...this.state.consumers.values(), ...this.state.browsers.values()].map((c) => [c.id, c.credit]));
    if (command.type === 'credit' && (this.state.consumers.has(command.consumerId) || this.state.browsers.has(command.consumerId))) {
      this.creditBefore.set(command.consumerId, Math.max(0, command.credit));
    }
  }

  after(command: Command, effects: readonly Effect[]): void {
    checkDeliveries(this.state, effects, this.creditBefore);
    const drained = command.type === 'credit' && command.drain ? (this.state.consumers.get(command.consumerId) ?? this.state.browsers.get(command.consumerId)) : undefined;
    if (command.type === 'credit' && drained !== undefined) {
      check(drained.credit === 0, () => `${command.consumerId} drained but kept credit`);
      check(effects.some((e) => e.type === 'drained' && e.consumerId === command.consumerId), () => `drain of ${command.consumerId} not answered`);
    }
    for (const queue of this.state.queues.values()) checkQueue(this.state, queue);
  }
}

function isLive(state: CoreState, message: QueuedMessage): boolean {
  return message.expiresAtMs === null || message.expiresAtMs > state.nowMs;
}

/** Refused with undeliverable-here, or not selected: asked of the filter itself, not of the core's verdicts. */
function refused(message: QueuedMessage, consumer: Consumer): boolean {
  if (message.excludedConsumers !== null && message.excludedConsumers.has(consumer.id)) return true;
  const filter = consumer.selectorClass.filter;
  return filter !== null && !filter.matches(message);
}

/** Queue order: the higher level first, then the earlier position. */
function precedes(a: QueuedMessage, b: QueuedMessage): boolean {
  return a.level !== b.level ? a.level > b.level : a.seq < b.seq;
}

function checkDeliveries(state: CoreState, effects: readonly Effect[], creditBefore: Map<string, number>): void {
  const credit = new Map(creditBefore);
  // Messages that entered a queue during the command, at which effect: a delivery before that cannot have overtaken them.
  const enteredAt = new Map<QueuedMessage, number>();
  effects.forEach((e, at) => {
    if ((e.type === 'enqueued' && e.message.status !== 'scheduled') || e.type === 'scheduled-due') enteredAt.set(e.message, at);
  });
  const delivered = effects.filter((e): e is Extract<Effect, { type: 'deliver' }> => e.type === 'deliver');
  delivered.forEach((effect, index) => {
    const { message, consumerId } = effect;
    const queue = state.queues.get(effect.queue)!;
    const left = credit.get(consumerId) ?? 0;
    check(left > 0, () => `${consumerId} received message ${message.id} without credit`);
    credit.set(consumerId, left - 1);
    check(isLive(state, message), () => `expired message ${message.id} delivered`);
    if (effect.browsed === true) {
      // A browser takes nothing: the message stays queued, untouched.
      check(state.browsers.has(consumerId) && (message.status === 'queued' || message.status === 'waiting'), () => `browsed message ${message.id} is ${message.status}`);
      return;
    }
    const exclusive = queue.exclusiveCount > 0;
    if (exclusive) check(queue.activeExclusive?.id === consumerId, () => `${consumerId} is not the active exclusive consumer`);
    // Order: nothing this consumer could have taken instead came earlier in the queue (within the group
    // in shared mode, the whole queue in exclusive mode, the ungrouped messages otherwise).
    // (Within a group, the levels never rise in send order: queue order is send order there.)
    const before = (other: QueuedMessage): boolean => {
      if (message.groupId !== null && !exclusive) return other.groupId === message.groupId && other.seq < message.seq;
      if (!precedes(other, message)) return false;
      if (exclusive) return !refused(other, queue.activeExclusive!);
      const receiver = queue.consumers.find((c) => c.id === consumerId);
      return other.groupId === null && (receiver === undefined || !refused(other, receiver));
    };
    const deliveredAt = effects.indexOf(effect);
    const wasThere = (m: QueuedMessage): boolean => (enteredAt.get(m) ?? -1) < deliveredAt;
    const overtaken = queuedMessages(queue).filter((m) => isLive(state, m) && before(m) && wasThere(m));
    const overtakenLater = delivered.slice(index + 1).filter((e) => e.queue === effect.queue && e.browsed !== true && before(e.message) && wasThere(e.message));
    check(overtaken.length === 0 && overtakenLater.length === 0, () => `message ${message.id} (seq ${message.seq}) overtook seq ${[...overtaken, ...overtakenLater.map((e) => e.message)].map((m) => m.seq).join(', ')}`);
  });
}

function checkQueue(state: CoreState, queue: Queue): void {
  const queued = queuedMessages(queue);
  check(new Set(queued.map((m) => m.id)).size === queued.length, () => `${queue.name}: a message is queued twice`);
  check(queued.length === queue.queuedCount, () => `${queue.name}: queuedCount ${queue.queuedCount}, holds ${queued.length}`);
  const deliveries = queue.consumers.flatMap((c) => [...c.unsettled.values()].map((d) => ({ holder: c, delivery: d })));
  check(deliveries.length === queue.inFlightCount, () => `${queue.name}: inFlightCount ${queue.inFlightCount}, holds ${deliveries.length}`);
  check(queue.queuedCount + queue.inFlightCount === queue.enqueuedTotal - queue.removedTotal, () => `${queue.name}: a message was lost or duplicated`);
  checkConsumers(state, queue);
  const exclusive = queue.exclusiveCount > 0;
  for (const { holder, delivery } of deliveries) {
    const groupId = delivery.message.groupId;
    if (delivery.group === null) {
      // Outside the group lifecycle only in exclusive mode: groups played no role when it was sent.
      check(groupId === null || (exclusive && holder.exclusive), () => `${holder.id} holds message ${delivery.message.id} of group ${groupId} outside the group`);
    } else {
      // Two consumers never hold messages of one group at the same time: only its owner does.
      check(delivery.group.owner === holder, () => `${holder.id} holds group ${groupId}, owned by ${delivery.group!.owner?.id}`);
    }
  }
  for (const message of queued) {
    if (message.groupId !== null) check(queue.groups.has(message.groupId), () => `message ${message.id} queued without its group`);
  }
  for (const [id, group] of queue.groups) {
    check(group.id === id, () => `group ${group.id} filed as ${id}`);
    checkGroup(queue, group, queued, deliveries.filter((d) => d.delivery.group === group).length);
  }
  const listed: string[] = [];
  for (let group = queue.oldestGroup; group !== null; group = group.newer) {
    check(group.newer === null ? queue.newestGroup === group : group.newer.older === group, () => `${queue.name}: the group list is broken at ${group!.id}`);
    listed.push(group.id);
  }
  check(JSON.stringify(listed) === JSON.stringify([...queue.groups.keys()]), () => `${queue.name}: the group list disagrees with the groups`);
  const withQueued = [...queue.groups.values()].filter((g) => g.queued > 0).length;
  check(queue.groupsWithQueued === withQueued, () => `${queue.name}: groupsWithQueued ${queue.groupsWithQueued}, ${withQueued} groups have messages queued`);
  for (const group of queue.idleGroups) check(queue.groups.get(group.id) === group && group.state === 'idle', () => `${group.id} idle-listed in state ${group.state}`);
  for (const group of queue.readyGroups) check(group.waitingIn === 'ready', () => `${group.id} ready-listed but waits in ${group.waitingIn}`);
  for (const group of queue.groupsAwaitingConsumer) check(group.waitingIn === 'refusal', () => `${group.id} refusal-listed but waits in ${group.waitingIn}`);
  for (const group of queue.groupsAwaitingMatch) check(group.waitingIn === 'eligible-consumer', () => `${group.id} match-listed but waits in ${group.waitingIn}`);
  checkStatuses(queue, queued, deliveries.map((d) => d.delivery.message));
  checkLevels(queue, queued, deliveries.map((d) => d.delivery.message));
  checkSelectorClasses(queue);
  checkExclusive(queue);
  checkNothingHeldBack(state, queue, queued);
}

function checkConsumers(state: CoreState, queue: Queue): void {
  check(queue.consumersWithCredit === queue.consumers.filter((c) => c.credit > 0).length, () => `${queue.name}: consumersWithCredit is off`);
  check(queue.exclusiveCount === queue.consumers.filter((c) => c.exclusive).length, () => `${queue.name}: exclusiveCount is off`);
  for (const consumer of queue.consumers) {
    check(consumer.attached && state.consumers.get(consumer.id) === consumer, () => `${consumer.id} listed but not attached`);
    check(consumer.credit >= 0, () => `${consumer.id} has negative credit`);
    for (const group of consumer.groups) check(group.owner === consumer && queue.groups.get(group.id) === group, () => `${consumer.id} lists group ${group.id} it does not own`);
    for (const group of consumer.groupsAwaitingCredit) {
      check(group.owner === consumer && group.waitingIn === 'owner-credit', () => `${group.id} waits for the credit of ${consumer.id} wrongly`);
    }
  }
}

function checkGroup(queue: Queue, group: Group, queued: QueuedMessage[], inFlight: number): void {
  const name = `group ${group.id} (${group.state})`;
  check(group.queued === queued.filter((m) => m.groupId === group.id).length, () => `${name}: queued count is off`);
  check(group.inFlight === inFlight, () => `${name}: inFlight ${group.inFlight}, owner holds ${inFlight}`);
  const owner = group.owner;
  if (owner !== null) check(owner.attached && queue.consumers.includes(owner) && owner.groups.has(group), () => `${name}: owner ${owner.id} is gone`);
  const nothing = group.queued === 0 && group.inFlight === 0;
  switch (group.state) {
    case 'unowned':
      check(owner === null && group.queued > 0 && group.inFlight === 0, () => `${name}: must have no owner, something queued, nothing in flight`);
      break;
    case 'owned':
      check(owner !== null && !nothing, () => `${name}: must have an owner and something queued or in flight`);
      break;
    case 'idle':
      check(owner !== null && nothing, () => `${name}: must have an owner and nothing queued or in flight`);
      break;
    case 'moving':
    case 'closing':
      // Nothing in flight would leave the move or the close with nothing to finish it: the issue-8 stall.
      check(owner !== null && group.inFlight > 0, () => `${name}: stalled with nothing in flight`);
      break;
  }
  check((group.state === 'idle') === queue.idleGroups.has(group), () => `${name}: idle list disagrees`);
  check((group.state === 'closing') === (group.closedAtSeq !== null), () => `${name}: closedAtSeq ${group.closedAtSeq}`);
  check(group.state === 'moving' || group.moveTo === null, () => `${name}: moveTo outside a move`);
  check((group.parked !== null) === (group.waitingIn !== null), () => `${name}: parked messages without a wake list or the reverse`);
  check(group.parked === null || (group.parked.size > 0 && queue.exclusiveCount === 0), () => `${name}: empty parked buffer or parked in exclusive mode`);
  if (group.waitingIn === 'settlement') check(group.inFlight > 0, () => `${name}: waits for a settlement with nothing in flight`);
  if (group.waitingIn === 'owner-credit') check(owner !== null && owner.credit === 0 && owner.groupsAwaitingCredit.has(group), () => `${name}: waits for credit its owner has`);
  if (group.waitingIn === 'ready') check(queue.readyGroups.has(group) && queue.consumersWithCredit === 0, () => `${name}: left ready while consumers have credit`);
  if (group.waitingIn === 'refusal') check(queue.groupsAwaitingConsumer.has(group), () => `${name}: not in the refusal list`);
  if (group.waitingIn === 'eligible-consumer') check(queue.groupsAwaitingMatch.has(group), () => `${name}: not in the eligible-consumer list`);
  // The answer operators see agrees with what dispatch did: a group with something queued names why it
  // waits (else dispatch would have sent it), and a parked group waits where its reason's event wakes it.
  const status = groupStatus(queue, group);
  check(status.state === group.state, () => `${name}: reported as ${status.state}`);
  check((status.blockedReason !== null) === (group.queued > 0), () => `${name}: ${group.queued} queued, reported reason ${status.blockedReason}`);
  if (group.waitingIn !== null && group.waitingIn !== 'ready') {
    check(WAKES_LISTED[group.waitingIn].includes(status.wakesOn!), () => `${name}: waits in ${group.waitingIn}, reported to wake on ${status.wakesOn}`);
  }
}

/** The wake events a group may report while it waits in a wake list. */
const WAKES_LISTED: Record<Exclude<WakeList, 'ready'>, WakeEvent[]> = {
  'owner-credit': ['owner-credit'],
  settlement: ['settlement'],
  refusal: ['settlement'],
  'eligible-consumer': ['eligible-consumer-credit'],
};

/** A message's status says where it is: queued ones `queued` or (in the wait registry) `waiting`; delivered ones `in-flight`. */
function checkStatuses(queue: Queue, queued: QueuedMessage[], inFlight: QueuedMessage[]): void {
  for (const message of queued) {
    const registered = queue.waiting.has(message);
    check(message.status === (registered ? 'waiting' : 'queued'), () => `${queue.name}: queued message ${message.id} has status ${message.status}`);
    if (registered) check(message.groupId === null && queue.exclusiveCount === 0, () => `${queue.name}: message ${message.id} waits for a match but is grouped or the queue is exclusive`);
  }
  for (const message of inFlight) check(message.status === 'in-flight', () => `${queue.name}: delivered message ${message.id} has status ${message.status}`);
}

/** README "Message priority": within a group, the levels of the messages queued or in flight never rise in send order. */
function checkLevels(queue: Queue, queued: QueuedMessage[], inFlight: QueuedMessage[]): void {
  const byGroup = new Map<string, QueuedMessage[]>();
  for (const message of [...queued, ...inFlight]) {
    if (message.groupId === null) {
      check(message.level === message.priority && message.levels === null, () => `${queue.name}: ungrouped message ${message.id} at level ${message.level}, priority ${message.priority}`);
      continue;
    }
    byGroup.set(message.groupId, [...(byGroup.get(message.groupId) ?? []), message]);
  }
  for (const [groupId, messages] of byGroup) {
    messages.sort((a, b) => a.seq - b.seq);
    messages.forEach((message, i) => {
      check(message.level <= message.priority, () => `${queue.name}: message ${message.id} raised above its priority`);
      if (i > 0) check(message.level <= messages[i - 1]!.level, () => `${queue.name}: group ${groupId}: message ${message.id} (level ${message.level}) may overtake ${messages[i - 1]!.id} (level ${messages[i - 1]!.level})`);
    });
    const group = queue.groups.get(groupId);
    const record = group?.levels ?? queue.orphanLevels.get(groupId);
    check(record !== undefined && record.live === messages.length && messages.every((m) => m.levels === record), () => `${queue.name}: group ${groupId}'s level record counts ${record?.live}, holds ${messages.length}`);
    check(group === undefined || !queue.orphanLevels.has(groupId), () => `${queue.name}: group ${groupId} has an orphaned level record too`);
  }
  for (const [groupId, group] of queue.groups) {
    check(byGroup.has(groupId) || group.levels === null || group.levels.live === 0, () => `${queue.name}: group ${groupId}'s level record counts messages it does not have`);
  }
  for (const groupId of queue.orphanLevels.keys()) check(byGroup.has(groupId), () => `${queue.name}: an orphaned level record for ${groupId}, which has nothing queued or in flight`);
}

/** Each selector class counts its consumers and those with credit; its wake sets hold waiting groups only. */
function checkSelectorClasses(queue: Queue): void {
  for (const [key, selectorClass] of queue.selectorClasses) {
    const members = queue.consumers.filter((c) => c.selectorClass === selectorClass);
    check(selectorClass.key === key && members.length === selectorClass.consumers && members.length > 0, () => `${queue.name}: class ${key} counts ${selectorClass.consumers} consumers, has ${members.length}`);
    check(members.filter((c) => c.credit > 0).length === selectorClass.withCredit, () => `${queue.name}: class ${key} counts ${selectorClass.withCredit} with credit`);
    for (const group of [...selectorClass.waitingGroups, ...selectorClass.heldGroups]) {
      check(queue.groupsAwaitingMatch.has(group), () => `${queue.name}: class ${key} wakes group ${group.id}, which does not wait for a match`);
    }
  }
  for (const consumer of queue.consumers) check(queue.selectorClasses.get(consumer.selectorClass.key) === consumer.selectorClass, () => `${consumer.id}'s class is not registered`);
}

function checkExclusive(queue: Queue): void {
  const active = queue.activeExclusive;
  if (queue.exclusiveCount === 0) {
    check(active === null, () => `${queue.name}: an active exclusive consumer without exclusive consumers`);
    return;
  }
  check(active !== null && active.exclusive && queue.consumers.includes(active), () => `${queue.name}: no attached active exclusive consumer`);
  // A better exclusive consumer takes over once the active one has nothing unsettled.
  const best = bestExclusive(queue);
  check(best === active || active!.unsettled.size > 0, () => `${queue.name}: ${best?.id} should have taken over from ${active!.id}`);
}

/**
 * Liveness (issue 8): after every command, a group with queued messages and an eligible consumer with
 * credit has something in flight; no ungrouped message waits while a consumer that did not refuse it has
 * credit; the active exclusive consumer with credit leaves nothing it may take.
 */
function checkNothingHeldBack(state: CoreState, queue: Queue, queued: QueuedMessage[]): void {
  const live = queued.filter((m) => isLive(state, m)).sort((a, b) => a.seq - b.seq);
  if (queue.exclusiveCount > 0) {
    const active = queue.activeExclusive!;
    if (active !== bestExclusive(queue) || active.credit === 0) return;
    const waiting = live.filter((m) => !refused(m, active));
    check(waiting.length === 0, () => `${queue.name}: exclusive ${active.id} has credit while seq ${waiting.map((m) => m.seq)} wait`);
    return;
  }
  const withCredit = queue.consumers.filter((c) => c.credit > 0);
  const heads = new Map<string, QueuedMessage>();
  for (const message of live) {
    if (message.groupId === null) {
      const taker = withCredit.find((c) => !refused(message, c));
      check(taker === undefined, () => `${queue.name}: ungrouped seq ${message.seq} waits while ${taker!.id} has credit`);
    } else if (!heads.has(message.groupId)) {
      heads.set(message.groupId, message);
    }
  }
  for (const [groupId, head] of heads) {
    const group = queue.groups.get(groupId)!;
    if (group.inFlight > 0) continue;
    const owner = group.owner;
    const eligible = owner !== null && !refused(head, owner) ? [owner].filter((c) => c.credit > 0) : withCredit.filter((c) => !refused(head, c));
    check(eligible.length === 0, () => `${queue.name}: group ${groupId} (${group.state}) has nothing in flight, seq ${head.seq} waits while ${eligible.map((c) => c.id)} may take it`);
  }
}
