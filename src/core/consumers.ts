import { classCreditChanged, classMatches } from './selection';
import type { Consumer, Queue, QueuedMessage } from './types';

/**
 * The consumer may not take the message: it refused it (undeliverable-here), or its selector does not
 * match it. To a group's owner both mean the same (README "Selectors and groups").
 */
export function refuses(consumer: Consumer, message: QueuedMessage): boolean {
  return (message.excludedConsumers !== null && message.excludedConsumers.has(consumer.id)) || !classMatches(consumer.selectorClass, message);
}

/** Keeps `queue.consumers` sorted by priority (highest first), then attach order (earliest first). */
export function addConsumer(queue: Queue, consumer: Consumer): void {
  const list = queue.consumers;
  let index = list.length;
  while (index > 0 && list[index - 1]!.priority < consumer.priority) index--;
  list.splice(index, 0, consumer);
  if (consumer.exclusive) queue.exclusiveCount++;
}

export function removeConsumer(queue: Queue, consumer: Consumer): void {
  const index = queue.consumers.indexOf(consumer);
  if (index >= 0) queue.consumers.splice(index, 1);
  if (consumer.credit > 0) {
    queue.consumersWithCredit--;
    classCreditChanged(consumer.selectorClass, false);
  }
  if (consumer.exclusive) queue.exclusiveCount--;
}

export function setCredit(queue: Queue, consumer: Consumer, credit: number): void {
  const had = consumer.credit > 0;
  consumer.credit = credit;
  const has = credit > 0;
  if (had === has) return;
  queue.consumersWithCredit += has ? 1 : -1;
  classCreditChanged(consumer.selectorClass, has);
}

/**
 * The consumer for a message that has no owner yet: among consumers with credit that do not refuse it
 * (undeliverable-here, or a selector that does not match), the highest priority level that has any; within it the one owning the fewest
 * groups (when `byFewestGroups`); ties rotate in attach order, starting after the consumer picked last.
 * A null message (not looked at yet) is refused by nobody. Pure: `notePicked` moves the rotation on once
 * the message is delivered. Linear in the number of consumers, independent of queue depth and group count.
 */
export function chooseConsumer(queue: Queue, message: QueuedMessage | null, byFewestGroups: boolean): Consumer | null {
  const cursor = queue.rotationCursor;
  let level: number | null = null;
  let firstAfterCursor: Consumer | null = null;
  let firstOverall: Consumer | null = null;
  for (const consumer of queue.consumers) {
    if (level !== null && consumer.priority < level) break;
    if (consumer.credit <= 0 || (message !== null && refuses(consumer, message))) continue;
    level = consumer.priority;
    const load = loadOf(consumer, byFewestGroups);
    if (firstOverall === null || load < loadOf(firstOverall, byFewestGroups)) firstOverall = consumer;
    if (consumer.attachOrder > cursor && (firstAfterCursor === null || load < loadOf(firstAfterCursor, byFewestGroups))) {
      firstAfterCursor = consumer;
    }
  }
  return firstAfterCursor !== null && firstOverall !== null && loadOf(firstAfterCursor, byFewestGroups) === loadOf(firstOverall, byFewestGroups)
    ? firstAfterCursor
    : firstOverall;
}

export function notePicked(queue: Queue, consumer: Consumer): void {
  queue.rotationCursor = consumer.attachOrder;
}

function loadOf(consumer: Consumer, byFewestGroups: boolean): number {
  return byFewestGroups ? consumer.groups.size : 0;
}

/** The exclusive consumer that should be active: highest priority, then earliest attached. */
export function bestExclusive(queue: Queue): Consumer | null {
  for (const consumer of queue.consumers) if (consumer.exclusive) return consumer;
  return null;
}
