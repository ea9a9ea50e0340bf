import type { MemoryBudget } from './memory-budget';
import { SetsByKey } from './sets-by-key';

/** Why new messages cannot be taken now; `description` is what a refused producer reads. */
export interface Fullness {
  readonly resource: 'disk' | 'memory' | 'queue-memory';
  readonly description: string;
}

/**
 * Producers held back wait until memory is below this share of the limit they met, so that a broker at
 * its limit does not take back and grant credit again for every message a consumer takes.
 */
export const RESUME_BELOW_RATIO = 0.9;

/**
 * Whether the broker has room for new messages (store, message memory, a queue's own memory limit), and
 * the producers waiting for room. Waiters for a queue are keyed by its name, waiters for the broker as
 * a whole by null; they are woken at most once per turn, when room has been made.
 */
export class RoomForMessages {
  private readonly waiters = new SetsByKey<string | null, () => void>();
  private wakeScheduled = false;

  constructor(
    private readonly memory: MemoryBudget,
    private readonly disk: { full(): boolean; readonly maxBytes: number },
    private readonly queueLimit: (queue: string) => number | null,
  ) {}

  /** Why a message to `queue` (null: to no queue in particular) cannot be taken now; null when it can. */
  fullFor(queue: string | null): Fullness | null {
    if (this.disk.full()) return { resource: 'disk', description: `the broker store is full (maxDiskBytes ${this.disk.maxBytes})` };
    if (this.memory.full()) return { resource: 'memory', description: `the broker's message memory is full (maxMemoryBytes ${this.memory.max})` };
    if (queue !== null) {
      const limit = this.queueLimit(queue);
      if (this.memory.queueFull(queue, limit)) return { resource: 'queue-memory', description: `queue "${queue}" is full (its maxMemoryBytes ${limit})` };
    }
    return null;
  }

  /** Calls back once there is room for messages to `queue` (null: the broker as a whole); returns how to stop waiting. */
  whenRoom(queue: string | null, callback: () => void): () => void {
    return this.waiters.add(queue, callback);
  }

  /** Memory or disk space was freed: producers that can go on are woken after this turn. */
  freed(): void {
    if (this.waiters.size === 0 || this.wakeScheduled) return;
    this.wakeScheduled = true;
    setImmediate(() => {
      this.wakeScheduled = false;
      this.wake();
    });
  }

  private wake(): void {
    for (const queue of this.waiters.keys()) {
      if (!this.roomToResume(queue)) continue;
      for (const callback of this.waiters.take(queue)) callback();
    }
  }

  private roomToResume(queue: string | null): boolean {
    if (this.disk.full()) return false;
    if (this.memory.used >= this.memory.max * RESUME_BELOW_RATIO) return false;
    if (queue === null) return true;
    const limit = this.queueLimit(queue);
    return limit === null || this.memory.queueBytes(queue) < limit * RESUME_BELOW_RATIO;
  }
}
