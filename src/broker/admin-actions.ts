import { findGroup, type GroupView } from '../core/inspect';
import type { Queue } from '../core/types';
import type { BrokerRuntime } from './runtime';
import { topicOfQueue } from './topics';

/** An operator action that cannot be done as asked; `kind` says why (the HTTP API maps it to a status). */
export class AdminActionError extends Error {
  constructor(
    readonly kind: 'not-found' | 'conflict',
    message: string,
  ) {
    super(message);
    this.name = 'AdminActionError';
  }
}

/** Operator actions on the running broker (HTTP API, `convoy purge` and the like): each one core command. */
export function purgeQueue(runtime: BrokerRuntime, queueName: string): { purged: number; inFlight: number } {
  const queue = existingQueue(runtime, queueName);
  const effects = runtime.execute({ type: 'purge', queue: queueName });
  return { purged: effects.filter((e) => e.type === 'removed' && e.reason === 'purged').length, inFlight: queue.inFlightCount };
}

export interface ReleaseResult {
  /** `now`: the group left its owner; `after-settlement`: it leaves once its in-flight messages are settled. */
  readonly released: 'now' | 'after-settlement';
  /** The group afterwards; null when it was forgotten (nothing queued, no owner). */
  readonly group: GroupView | null;
}

export function releaseGroup(runtime: BrokerRuntime, queueName: string, groupId: string): ReleaseResult {
  const queue = existingQueue(runtime, queueName);
  const before = findGroup(queue, groupId);
  if (before === null) throw new AdminActionError('not-found', `queue "${queueName}" has no group "${groupId}"`);
  if (before.owner === null) throw new AdminActionError('conflict', `group "${groupId}" has no owner to release`);
  if (before.state === 'closing') {
    throw new AdminActionError('conflict', `group "${groupId}" is closing: it leaves its owner once its ${before.inFlight} in-flight messages are settled`);
  }
  runtime.execute({ type: 'release-group', queue: queueName, groupId });
  const after = findGroup(queue, groupId);
  return { released: after !== null && after.state === 'moving' && after.owner === before.owner ? 'after-settlement' : 'now', group: after };
}

/**
 * Deletes a queue with every message it holds (BrokerRuntime.deleteQueue, README "Queue lifetime"): its
 * consumers and browsers are detached with amqp:resource-deleted, and so are producers whose target it is;
 * it comes back empty if something uses its name again. A subscription's queue ends when it is
 * unsubscribed, not here.
 */
export function deleteQueue(runtime: BrokerRuntime, queueName: string): { deleted: true; messages: number } {
  existingQueue(runtime, queueName);
  const topic = topicOfQueue(queueName);
  if (topic !== null) throw new AdminActionError('conflict', `"${queueName}" is a subscription of topic "${topic}": it ends when its subscriber unsubscribes`);
  const { messages } = runtime.deleteQueue(queueName)!;
  return { deleted: true, messages };
}

export interface RetryResult {
  readonly retried: number;
  /** Messages still queued in the dead-letter queue afterwards. */
  readonly remaining: number;
}

export function retryDeadLetters(runtime: BrokerRuntime, queueName: string, from: string | null, limit: number | null): RetryResult {
  const queue = existingQueue(runtime, queueName);
  const effects = runtime.execute({ type: 'retry-dead-letters', queue: queueName, from, limit });
  return { retried: effects.filter((e) => e.type === 'retried').length, remaining: queue.queuedCount };
}

function existingQueue(runtime: BrokerRuntime, name: string): Queue {
  const queue = runtime.state.queues.get(name);
  if (queue === undefined) throw new AdminActionError('not-found', `no queue named "${name}"`);
  return queue;
}
