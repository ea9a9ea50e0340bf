import { BinaryHeap } from './binary-heap';
import { IdleList } from './idle-list';
import { OrderedBuffer } from './ordered-buffer';
import { PriorityBuffer } from './priority-buffer';
import { scheduledBefore } from './schedule';
import type { CoreState, Effect, Queue, QueueOptions } from './types';

export function createCoreState(resolveQueueOptions: (queueName: string) => QueueOptions): CoreState {
  return {
    queues: new Map(),
    consumers: new Map(),
    browsers: new Map(),
    scheduled: BinaryHeap.empty(scheduledBefore),
    resolveQueueOptions,
    nextMessageId: 1,
    nextDeliveryId: 1,
    nextAttachOrder: 1,
    nowMs: 0,
  };
}

/** Queues are created on first use (AMQP attach or a message routed to them), like Artemis auto-create. */
export function queueFor(state: CoreState, name: string, effects: Effect[]): Queue {
  const existing = state.queues.get(name);
  if (existing) return existing;
  const options = state.resolveQueueOptions(name);
  const queue: Queue = {
    name,
    options,
    nextSeq: 1,
    main: new PriorityBuffer(),
    deferred: new OrderedBuffer(),
    selectorClasses: new Map(),
    nextSelectorClassSerial: 1,
    waiting: new Set(),
    groupsAwaitingMatch: new Set(),
    orphanLevels: new Map(),
    scheduledCount: 0,
    groups: new Map(),
    oldestGroup: null,
    newestGroup: null,
    groupsWithQueued: 0,
    readyGroups: new Set(),
    groupsAwaitingConsumer: new Set(),
    idleGroups: new IdleList(),
    consumers: [],
    consumersWithCredit: 0,
    rotationCursor: 0,
    exclusiveCount: 0,
    activeExclusive: null,
    holdsExpiringMessages: false,
    queuedCount: 0,
    inFlightCount: 0,
    enqueuedTotal: 0,
    removedTotal: 0,
    unusedSinceMs: null,
  };
  state.queues.set(name, queue);
  effects.push({ type: 'queue-created', queue: name, options });
  return queue;
}
