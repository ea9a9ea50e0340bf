import type { CoreState, QueuedMessage, Queue, ScheduledMessage } from './types';

/**
 * Delayed delivery (README "Delayed delivery"): a scheduled message waits outside its queue, in one
 * heap for the whole broker ordered by delivery time (then arrival), and enters its queue, and its group,
 * when the core is next applied at or after that time: it takes its position then, as if it had just
 * been sent. The core has no timer: the runtime arms one for `nextDueMs` and applies a `clock` command
 * when it fires. O(log n) per scheduled message, one heap entry each.
 */
export function scheduledBefore(a: ScheduledMessage, b: ScheduledMessage): boolean {
  const atA = a.message.deliverAtMs!;
  const atB = b.message.deliverAtMs!;
  return atA !== atB ? atA < atB : a.message.id < b.message.id;
}

export function schedule(state: CoreState, queue: Queue, message: QueuedMessage): void {
  message.status = 'scheduled';
  queue.scheduledCount++;
  state.scheduled.push({ queue, message });
}

/** The next scheduled message whose time has come, taken out of the schedule; undefined when none is due. */
export function takeDue(state: CoreState): ScheduledMessage | undefined {
  const next = state.scheduled.peek();
  if (next === undefined || next.message.deliverAtMs! > state.nowMs) return undefined;
  state.scheduled.pop();
  next.queue.scheduledCount--;
  return next;
}

/** When the earliest scheduled message is due; null when nothing is scheduled. */
export function nextDueMs(state: CoreState): number | null {
  const next = state.scheduled.peek();
  return next === undefined ? null : next.message.deliverAtMs!;
}

/** The queue is deleted: its scheduled messages leave the schedule (O(n), rebuilt once), in due order. */
export function unscheduleQueue(state: CoreState, queue: Queue): QueuedMessage[] {
  if (queue.scheduledCount === 0) return [];
  const kept: ScheduledMessage[] = [];
  const removed: ScheduledMessage[] = [];
  for (let next = state.scheduled.pop(); next !== undefined; next = state.scheduled.pop()) (next.queue === queue ? removed : kept).push(next);
  for (const entry of kept) state.scheduled.push(entry);
  queue.scheduledCount = 0;
  return removed.map((entry) => entry.message);
}
