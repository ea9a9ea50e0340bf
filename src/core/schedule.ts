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
