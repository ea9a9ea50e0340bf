import { groupStatus, type BlockedReason, type GroupState, type WakeEvent } from './group-lifecycle';
import type { CoreState, Queue } from './types';

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

export function groupViews(queue: Queue): GroupView[] {
  return [...queue.groups.values()]
    .sort((a, b) => a.id.localeCompare(b.id))
    .map((group) => {
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
    });
}
