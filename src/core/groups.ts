import { OrderedBuffer } from './ordered-buffer';
import type { Consumer, Effect, Group, Queue, QueuedMessage } from './types';

/** The group of a message, created when its first message is queued. */
export function groupFor(queue: Queue, groupId: string): Group {
  let group = queue.groups.get(groupId);
  if (!group) {
    group = {
      id: groupId,
      owner: null,
      parked: new OrderedBuffer<QueuedMessage>(),
      queued: 0,
      inFlight: 0,
      moving: false,
      moveTo: null,
      closedAtSeq: null,
      idleSinceMs: 0,
    };
    queue.groups.set(groupId, group);
  }
  return group;
}

export function noteGroupQueued(queue: Queue, group: Group): void {
  group.queued++;
  queue.idleGroups.delete(group.id);
}

export function setGroupOwner(queue: Queue, group: Group, owner: Consumer | null, effects: Effect[]): void {
  const previous = group.owner;
  group.closedAtSeq = null;
  if (previous === owner) return;
  if (previous) {
    previous.groups.delete(group);
    previous.blockedGroups.delete(group);
  }
  group.owner = owner;
  if (owner) owner.groups.add(group);
  effects.push({ type: 'group-owner', queue: queue.name, groupId: group.id, consumerId: owner ? owner.id : null });
}

/**
 * A group with nothing queued and nothing in flight carries only its owner. Unowned, it is dropped at
 * once; owned, it is remembered (LRU, bounded by maxGroups) so later messages keep going to the owner.
 * Forgetting such a group cannot break order: there is nothing of it anywhere to overtake.
 */
export function checkGroupIdle(queue: Queue, group: Group, nowMs: number, effects: Effect[]): void {
  if (group.queued > 0 || group.inFlight > 0) return;
  if (group.closedAtSeq !== null) setGroupOwner(queue, group, null, effects);
  if (group.owner === null) {
    dropGroup(queue, group);
    return;
  }
  group.idleSinceMs = nowMs;
  queue.idleGroups.delete(group.id);
  queue.idleGroups.set(group.id, group);
  const maxGroups = queue.options.maxGroups;
  if (maxGroups === null) return;
  for (const oldest of queue.idleGroups.values()) {
    if (queue.idleGroups.size <= maxGroups) break;
    forgetGroup(queue, oldest, effects);
  }
}

/** Forgets idle groups older than groupIdleTimeoutMs. */
export function expireIdleGroups(queue: Queue, nowMs: number, effects: Effect[]): void {
  const timeoutMs = queue.options.groupIdleTimeoutMs;
  if (timeoutMs === null) return;
  for (const group of queue.idleGroups.values()) {
    if (group.idleSinceMs + timeoutMs > nowMs) break;
    forgetGroup(queue, group, effects);
  }
}

function forgetGroup(queue: Queue, group: Group, effects: Effect[]): void {
  setGroupOwner(queue, group, null, effects);
  dropGroup(queue, group);
}

function dropGroup(queue: Queue, group: Group): void {
  queue.groups.delete(group.id);
  queue.idleGroups.delete(group.id);
  queue.readyGroups.delete(group);
  queue.unownedBlocked.delete(group);
}

/**
 * Starts moving a group away from its owner (to `to`, or to nobody so that it is assigned afresh).
 * The move completes only once nothing of the group is in flight, so two consumers never hold
 * messages of one group at the same time.
 */
export function beginGroupMove(queue: Queue, group: Group, to: Consumer | null, effects: Effect[]): void {
  group.moving = true;
  group.moveTo = to;
  if (group.owner) group.owner.blockedGroups.delete(group);
  if (group.inFlight === 0) completeGroupMove(queue, group, effects);
}

export function completeGroupMove(queue: Queue, group: Group, effects: Effect[]): void {
  const to = group.moveTo;
  group.moving = false;
  group.moveTo = null;
  setGroupOwner(queue, group, to, effects);
  if (group.parked.size > 0) queue.readyGroups.add(group);
}

/**
 * groupRebalance: when a consumer attaches, move groups from the consumers that own the most until
 * the spread is even. Each move waits for the group's in-flight messages (beginGroupMove).
 */
export function rebalanceGroupsOnto(queue: Queue, newcomer: Consumer, effects: Effect[]): void {
  let owned = 0;
  for (const consumer of queue.consumers) owned += consumer.groups.size;
  const fairShare = Math.floor(owned / queue.consumers.length);
  let wanted = fairShare - newcomer.groups.size;
  const donors = queue.consumers.filter((c) => c !== newcomer).sort((a, b) => b.groups.size - a.groups.size);
  for (const donor of donors) {
    let excess = donor.groups.size - fairShare;
    for (const group of [...donor.groups]) {
      if (wanted <= 0 || excess <= 0) break;
      if (group.moving) continue;
      beginGroupMove(queue, group, newcomer, effects);
      wanted--;
      excess--;
    }
  }
}
