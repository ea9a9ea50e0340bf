import type { Queue, QueuedMessage } from './types';

/**
 * Every message the queue holds (status `queued` or `waiting`), wherever dispatch keeps it: not looked
 * at yet (`main`), refused in exclusive mode (`deferred`), parked with its group, or waiting for a
 * consumer whose selector matches it. In no particular order. Scheduled messages are not in their
 * queue yet, and in-flight ones are held by their consumers.
 */
export function queuedMessages(queue: Queue): QueuedMessage[] {
  const out = [...queue.main, ...queue.deferred, ...queue.waiting];
  for (const group of queue.groups.values()) if (group.parked !== null) out.push(...group.parked);
  return out;
}
