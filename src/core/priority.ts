import { DEFAULT_PRIORITY, PRIORITY_LEVELS } from './priority-buffer';
import type { Group, MessageMeta, Queue, QueuedMessage } from './types';

/**
 * Message priority (README "Priority"): higher levels are dispatched first across a queue, but the
 * group contract wins: a message never overtakes an earlier message of its group. So a grouped message
 * takes the level of its own priority, lowered to the lowest level among the messages of its group that
 * are queued or in flight when it enters the queue. The levels of a group's messages that are queued or
 * in flight therefore never rise in send order, and the queue's order (level, then position) serves a
 * group in send order whatever the priorities: in shared and in exclusive mode, for messages returned
 * to their position too (a returned message keeps its level). Once a group has nothing queued or in
 * flight, its next message starts at its own priority again. Ungrouped messages keep their priority.
 *
 * Cost: O(1) per message; per group with messages queued or in flight, a count and its lowest level
 * (one count per level once its messages sit at more than one).
 */

/**
 * Per group: its messages queued or in flight, and the lowest level among them. A group whose messages
 * all sit at one level (the common case) needs nothing more; counts per level exist only once a second
 * level appears. The record lives on the group (no lookup per message; an idle group drops it); each
 * message keeps a reference to it. A group forgotten while messages it sent to an exclusive consumer are
 * still in flight (they do not count for the group) leaves its record in `queue.orphanLevels`, where the
 * group, recreated, finds it.
 */
export interface GroupLevels {
  live: number;
  lowest: number;
  counts: number[] | null;
}

/** A group is created: it takes back the record it left when it was forgotten, if any. */
export function adoptOrphanLevels(queue: Queue, groupId: string): GroupLevels | null {
  const orphan = queue.orphanLevels.get(groupId);
  if (orphan === undefined) return null;
  queue.orphanLevels.delete(groupId);
  return orphan;
}

/** The group's record, created when a message enters a group that has none. */
export function levelsOf(group: Group): GroupLevels {
  group.levels ??= { live: 0, lowest: PRIORITY_LEVELS - 1, counts: null };
  return group.levels;
}

/** The group is forgotten: a record still counting messages in flight waits for the group to come back. */
export function orphanGroupLevels(queue: Queue, groupId: string, levels: GroupLevels): void {
  if (levels.live > 0) queue.orphanLevels.set(groupId, levels);
}

/** header.priority as a level 0-9 (AMQP 1.0 3.2.1: values above 9 count as 9, as in JMS). */
export function priorityOf(meta: MessageMeta): number {
  const priority = meta.priority ?? DEFAULT_PRIORITY;
  return Math.max(0, Math.min(PRIORITY_LEVELS - 1, Math.trunc(priority)));
}

/**
 * The message enters its queue (sent, recovered, due, dead-lettered into it): its level is decided now,
 * from its group's record (null: ungrouped).
 */
export function enterLevel(levels: GroupLevels | null, message: QueuedMessage): void {
  message.levels = levels;
  if (levels === null) {
    message.level = message.priority;
    return;
  }
  if (levels.live === 0) {
    levels.lowest = message.priority;
    levels.counts = null;
  }
  const level = Math.min(message.priority, levels.lowest);
  message.level = level;
  if (levels.counts === null && level < levels.lowest) {
    levels.counts = new Array<number>(PRIORITY_LEVELS).fill(0);
    levels.counts[levels.lowest] = levels.live;
  }
  if (levels.counts !== null) levels.counts[level]!++;
  levels.lowest = level;
  levels.live++;
}

/** The message left its queue for good (accepted, expired, dead-lettered, sent pre-settled, removed). */
export function leaveLevel(queue: Queue, message: QueuedMessage): void {
  const levels = message.levels;
  if (levels === null) return;
  message.levels = null;
  levels.live--;
  if (levels.live === 0) {
    if (queue.orphanLevels.size > 0 && queue.orphanLevels.get(message.groupId!) === levels) queue.orphanLevels.delete(message.groupId!);
    return;
  }
  const counts = levels.counts;
  if (counts === null) return;
  counts[message.level]!--;
  while (counts[levels.lowest] === 0) levels.lowest++;
}
