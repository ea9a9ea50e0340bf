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
 * Cost: per group with messages queued or in flight, one count per level; O(1) per message.
 */

/** Per group: how many of its messages queued or in flight sit at each level. */
export interface GroupLevels {
  readonly counts: number[];
  live: number;
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
  let levels = queue.groupLevels.get(message.groupId);
  if (levels === undefined) {
    levels = { counts: new Array<number>(PRIORITY_LEVELS).fill(0), live: 0 };
    queue.groupLevels.set(message.groupId, levels);
  }
  message.level = Math.min(message.priority, lowestLevel(levels));
  levels.counts[message.level]!++;
  levels.live++;
}

/** The message left its queue for good (accepted, expired, dead-lettered, sent pre-settled, removed). */
export function leaveLevel(queue: Queue, message: QueuedMessage): void {
  if (message.groupId === null) return;
  const levels = queue.groupLevels.get(message.groupId);
  if (levels === undefined) throw new Error(`message ${message.id} of group ${message.groupId} left without a level record`);
  levels.counts[message.level]!--;
  levels.live--;
  if (levels.live === 0) queue.groupLevels.delete(message.groupId);
}

function lowestLevel(levels: GroupLevels): number {
  if (levels.live === 0) return PRIORITY_LEVELS - 1;
  let level = 0;
  while (levels.counts[level] === 0) level++;
  return level;
}
