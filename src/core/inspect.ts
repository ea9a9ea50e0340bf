import { groupStatus, type BlockedReason, type GroupState, type WakeEvent } from './group-lifecycle';
import type { CoreState, Group, Queue } from './types';

/** Read-only views of the core state for operators (`convoy queues`, `convoy groups`). */
export interface ConsumerView {
  readonly id: string;
  readonly priority: number;
  readonly exclusive: boolean;
  /** The exclusive consumer that receives the queue's messages now. */
  readonly active: boolean;
  readonly credit: number;
  readonly unsettled: number;
  readonly groups: number;
}

export interface QueueView {
  readonly name: string;
  readonly queued: number;
  readonly inFlight: number;
  /** Scheduled messages (delayed delivery) that have not entered the queue yet. */
  readonly scheduled: number;
  readonly enqueuedTotal: number;
  readonly groups: number;
  /** Groups with an owner (owned, idle, moving, closing); the others are unowned. */
  readonly groupsOwned: number;
  /** Groups whose queued messages cannot go now, each for its blockedReason. */
  readonly groupsBlocked: number;
  readonly consumers: readonly ConsumerView[];
}

export interface GroupView {
  readonly id: string;
  readonly owner: string | null;
  readonly queued: number;
  readonly inFlight: number;
  /** Lifecycle state (src/core/group-lifecycle.ts). */
  readonly state: GroupState;
  /** `moving`: the consumer the group passes to, if it is still attached. */
  readonly moveTo: string | null;
  /** Why the group's next queued message cannot go now; null when nothing waits. */
  readonly blockedReason: BlockedReason | null;
  /** The event that lets it go on. */
  readonly wakesOn: WakeEvent | null;
}

export function queueViews(state: CoreState): QueueView[] {
  return [...state.queues.values()].sort((a, b) => a.name.localeCompare(b.name)).map(queueView);
}

export function queueView(queue: Queue): QueueView {
  return {
    name: queue.name,
    queued: queue.queuedCount,
    inFlight: queue.inFlightCount,
    scheduled: queue.scheduledCount,
    enqueuedTotal: queue.enqueuedTotal,
    groups: queue.groups.size,
    groupsOwned: queue.consumers.reduce((owned, consumer) => owned + consumer.groups.size, 0),
    // After every command, a group with queued messages is one dispatch could not hand on.
    groupsBlocked: queue.groupsWithQueued,
    consumers: queue.consumers.map((consumer) => ({
      id: consumer.id,
      priority: consumer.priority,
      exclusive: consumer.exclusive,
      active: queue.activeExclusive === consumer,
      credit: consumer.credit,
      unsettled: consumer.unsettled.size,
      groups: consumer.groups.size,
    })),
  };
}

/** Every group of the queue, by id. */
export function groupViews(queue: Queue): GroupView[] {
  return [...queue.groups.values()].sort((a, b) => a.id.localeCompare(b.id)).map((group) => groupView(queue, group));
}

export interface GroupPageRequest {
  /** Only groups whose id starts with this. */
  readonly prefix: string;
  /** Start after this group (the `next` of the previous page); null: from the queue's oldest group. */
  readonly after: string | null;
  /** At most this many groups. */
  readonly limit: number;
  /** Look at no more than this many groups (a prefix that few ids have is searched page by page). */
  readonly maxScanned: number;
}

export type GroupPage =
  | {
      readonly groups: GroupView[];
      /** Pass as `after` for the next page; null when nothing is left to look at. */
      readonly next: string | null;
      /** Groups looked at for this page. */
      readonly scanned: number;
    }
  /** The group named by `after` is no longer known (forgotten): start again without `after`. */
  | { readonly afterGone: true };

/**
 * One page of the queue's groups, in the order the queue came to know them, from `after` on: the cost is
 * the groups looked at, at most `maxScanned`, whatever the number of groups. Groups are not sorted by id:
 * sorting a million ids, or keeping them sorted as dispatch creates and forgets groups, costs more than
 * the page is worth (README "Watching Convoy").
 */
export function groupPage(queue: Queue, request: GroupPageRequest): GroupPage {
  let group: Group | null;
  if (request.after === null) {
    group = queue.oldestGroup;
  } else {
    const after = queue.groups.get(request.after);
    if (after === undefined) return { afterGone: true };
    group = after.newer;
  }
  const groups: GroupView[] = [];
  let scanned = 0;
  let last: Group | null = null;
  while (group !== null && groups.length < request.limit && scanned < request.maxScanned) {
    scanned++;
    if (group.id.startsWith(request.prefix)) groups.push(groupView(queue, group));
    last = group;
    group = group.newer;
  }
  return { groups, next: group !== null && last !== null ? last.id : null, scanned };
}

/** One group by id; null when the queue has no such group (never used, or forgotten). */
export function findGroup(queue: Queue, groupId: string): GroupView | null {
  const group = queue.groups.get(groupId);
  return group === undefined ? null : groupView(queue, group);
}

function groupView(queue: Queue, group: Group): GroupView {
  const status = groupStatus(queue, group);
  return {
    id: group.id,
    owner: group.owner ? group.owner.id : null,
    queued: group.queued,
    inFlight: group.inFlight,
    state: status.state,
    moveTo: group.moveTo !== null && group.moveTo.attached ? group.moveTo.id : null,
    blockedReason: status.blockedReason,
    wakesOn: status.wakesOn,
  };
}
