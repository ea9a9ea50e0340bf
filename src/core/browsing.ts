import { BinaryHeap } from './binary-heap';
import { isExpired } from './dispatch';
import { comesBefore } from './priority-buffer';
import { queuedMessages } from './queued';
import type { ConsumerId, CoreState, Effect, MessageFilter, Queue, QueuedMessage } from './types';

/**
 * Browsing (README "Browsing"; AMQP 1.0 3.5.7 distribution-mode `copy`, the Qpid JMS QueueBrowser). A
 * browser sees the messages that were queued when it attached, in queue order (priority level, then
 * position), each one only if it is still queued when the browser's credit reaches it: consumed,
 * in-flight and expired ones are skipped, later arrivals are not shown. It acquires nothing: no group, owner,
 * delivery-count, credit or rotation changes, and its deliveries are settled as they are sent. A
 * browser's selector is asked once per message it reaches.
 *
 * Cost: attaching takes a snapshot of the queue, O(n) with one reference per queued message; each
 * message shown or skipped costs O(log n).
 */
export interface Browser {
  readonly id: ConsumerId;
  readonly queue: Queue;
  readonly filter: MessageFilter | null;
  credit: number;
  /** The messages queued at attach not yet shown or skipped, the next in queue order on top. */
  readonly view: BinaryHeap<QueuedMessage>;
}

export function attachBrowser(state: CoreState, id: ConsumerId, queue: Queue, filter: MessageFilter | null): void {
  if (state.browsers.has(id) || state.consumers.has(id)) throw new Error(`consumer ${id} is already attached`);
  state.browsers.set(id, { id, queue, filter, credit: 0, view: BinaryHeap.from(queuedMessages(queue), comesBefore) });
}

/** AMQP 1.0 2.6.7: shows what the credit allows; a drain uses up the rest once nothing more is there. */
export function browserCredit(state: CoreState, browser: Browser, credit: number, drain: boolean, effects: Effect[]): void {
  browser.credit = Math.max(0, credit);
  while (browser.credit > 0) {
    const message = browser.view.pop();
    if (message === undefined) break;
    if ((message.status !== 'queued' && message.status !== 'waiting') || isExpired(state, message)) continue;
    if (browser.filter !== null && !browser.filter.matches(message)) continue;
    browser.credit--;
    const deliveryId = state.nextDeliveryId++;
    effects.push({ type: 'deliver', queue: browser.queue.name, consumerId: browser.id, deliveryId, message, settled: true, browsed: true });
  }
  if (drain) {
    browser.credit = 0;
    effects.push({ type: 'drained', consumerId: browser.id });
  }
}
