import { deleteQueue } from './queue-deletion';
import type { CoreState, Effect, Queue } from './types';

/**
 * Queue option autoDelete (README "Queue lifetime"): a queue with no consumer, no browser and no message
 * (queued, in flight or scheduled) is deleted (queue-deletion.ts) once every tick has seen it so for
 * autoDeleteDelayMs. Unused from the first tick that sees it unused; any use in between starts the wait
 * again at the next tick that sees it unused.
 */
export function deleteUnusedQueues(state: CoreState, effects: Effect[]): void {
  let browsed: Set<Queue> | null = null;
  const expired: Queue[] = [];
  for (const queue of state.queues.values()) {
    if (!queue.options.autoDelete) continue;
    browsed ??= new Set([...state.browsers.values()].map((browser) => browser.queue));
    const unused = queue.consumers.length === 0 && queue.queuedCount === 0 && queue.inFlightCount === 0 && queue.scheduledCount === 0 && !browsed.has(queue);
    if (!unused) queue.unusedSinceMs = null;
    else if (queue.unusedSinceMs === null) queue.unusedSinceMs = state.nowMs;
    if (queue.unusedSinceMs !== null && state.nowMs - queue.unusedSinceMs >= queue.options.autoDeleteDelayMs) expired.push(queue);
  }
  for (const queue of expired) deleteQueue(state, queue.name, effects);
}
