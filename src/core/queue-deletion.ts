import { queuedMessages } from './queued';
import { unscheduleQueue } from './schedule';
import type { CoreState, Effect } from './types';

/**
 * Deletes a queue and every message it holds (README "Queue lifetime"): an operator's delete, a temporary
 * queue whose link is gone, autoDelete (auto-delete.ts), and the end of a topic subscription (unsubscribe,
 * the last consumer of a non-durable one detaching, its temporary topic going away). Each message is reported
 * `removed` (reason `queue-deleted`) in position order, then those scheduled for it by delivery time, so the
 * runtime forgets it and the store records its removal, then `queue-deleted`. Deleting a queue that does not exist changes nothing.
 *
 * The queue must have no consumer nor browser: whoever deletes it detaches them first (the runtime's
 * deleteQueue, with amqp:resource-deleted), which returns their
 * unsettled deliveries to the queue, so nothing is in flight when it goes. A consumer still attached is
 * a programming error, not a user's: the call throws and nothing changes.
 */
export function deleteQueue(state: CoreState, name: string, effects: Effect[]): void {
  const queue = state.queues.get(name);
  if (!queue) return;
  if (queue.consumers.length > 0) throw new Error(`queue ${name} cannot be deleted: ${queue.consumers.length} consumer(s) attached`);
  if ([...state.browsers.values()].some((browser) => browser.queue === queue)) throw new Error(`queue ${name} cannot be deleted: a browser is attached`);
  const held = queuedMessages(queue).sort((a, b) => a.seq - b.seq);
  held.push(...unscheduleQueue(state, queue));
  for (const message of held) {
    message.status = 'gone';
    effects.push({ type: 'removed', queue: name, message, reason: 'queue-deleted' });
  }
  state.queues.delete(name);
  effects.push({ type: 'queue-deleted', queue: name });
}
