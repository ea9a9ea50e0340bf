import { DEFAULT_PRIORITY, PRIORITY_LEVELS } from './priority-buffer';
import type { MessageMeta, Queue, QueuedMessage } from './types';

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
 * level appears.
 */
export interface GroupLevels {
  live: number;
  lowest: number;
  counts: number[] | null;
}

/** header.priority as a level 0-9 (AMQP 1.0 3.2.1: values above 9 count as 9, as in JMS). */
export function priorityOf(meta: MessageMeta): number {
  const priority = meta.priority ?? DEFAULT_PRIORITY;
  return Math.max(0, Math.min(PRIORITY_LEVELS - 1, Math.trunc(priority)));
}

/** The message enters its queue (sent, recovered, due, dead-lettered into it): its level is decided now. */
export function enterLevel(queue: Queue, message: QueuedMessage): void {
  if (message.groupId === null) {
    message.level = message.priority;
    return;
  }
  const levels = queue.groupLevels.get(message.groupId);
  if (levels === undefined) {
    message.level = message.priority;
    queue.groupLevels.set(message.groupId, { live: 1, lowest: message.priority, counts: null });
    return;
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
  if (message.groupId === null) return;
  const levels = queue.groupLevels.get(message.groupId);
  if (levels === undefined) throw new Error(`message ${message.id} of group ${message.groupId} left without a level record`);
  levels.live--;
  if (levels.live === 0) {
    queue.groupLevels.delete(message.groupId);
    return;
  }
  const counts = levels.counts;
  if (counts === null) return;
  counts[message.level]!--;
  while (counts[levels.lowest] === 0) levels.lowest++;
}
