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
  return [...queue.groupIds].map((id) => groupView(queue, queue.groups.get(id)!));
}

export interface GroupPageRequest {
  /** Only groups whose id starts with this. */
  readonly prefix: string;
  /** Only groups whose id sorts after this (the last id of the previous page); null: from the start. */
  readonly after: string | null;
  readonly limit: number;
}

export interface GroupPage {
  readonly groups: GroupView[];
  /** Pass as `after` for the next page; null when this page is the last. */
  readonly next: string | null;
}

/**
 * One page of the queue's groups in id order (code units), from the sorted index: the cost is a search
 * plus the page, whatever the number of groups.
 */
export function groupPage(queue: Queue, request: GroupPageRequest): GroupPage {
  const groups: GroupView[] = [];
  const from = request.after !== null && request.after >= request.prefix ? request.after : request.prefix;
  const exclusive = request.after !== null && request.after >= request.prefix;
  for (const id of queue.groupIds.from(from, exclusive)) {
    if (!id.startsWith(request.prefix)) return { groups, next: null };
    if (groups.length === request.limit) return { groups, next: groups[groups.length - 1]!.id };
    groups.push(groupView(queue, queue.groups.get(id)!));
  }
  return { groups, next: null };
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
