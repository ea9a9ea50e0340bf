import { OrderedBuffer, type Positioned } from './ordered-buffer';

/** Message priority levels (AMQP 1.0 3.2.1 header.priority; JMS 0-9): higher goes first. */
export const PRIORITY_LEVELS = 10;
/** header.priority when a message has none (AMQP 1.0 3.2.1; JMS's default). */
export const DEFAULT_PRIORITY = 4;

export interface Prioritised extends Positioned {
  /** The level it waits at, 0-9 (priority.ts decides it). */
  readonly level: number;
}

/** True when `a` comes before `b` in queue order: higher level first, then lower position. */
export function comesBefore(a: Prioritised, b: Prioritised): boolean {
  return a.level !== b.level ? a.level > b.level : a.seq < b.seq;
}

/**
 * Messages in queue order: one OrderedBuffer per priority level, the highest non-empty level first.
 * Insert and take cost what an OrderedBuffer does (O(1) for arrivals in position order) plus a look
 * at no more than ten levels; a level's buffer exists only while it holds something.
 */
export class PriorityBuffer<T extends Prioritised> {
  private readonly levels: (OrderedBuffer<T> | undefined)[] = new Array(PRIORITY_LEVELS);
  /** Highest level that may hold something; levels above it are empty. */
  private top = -1;
  private count = 0;

  get size(): number {
    return this.count;
  }

  insert(item: T): void {
    let buffer = this.levels[item.level];
    if (buffer === undefined) {
      buffer = new OrderedBuffer<T>();
      this.levels[item.level] = buffer;
    }
    buffer.insert(item);
    if (item.level > this.top) this.top = item.level;
    this.count++;
  }

  peek(): T | undefined {
    return this.highest()?.peek();
  }

  shift(): T | undefined {
    const buffer = this.highest();
    if (buffer === undefined) return undefined;
    const item = buffer.shift()!;
    this.count--;
    if (buffer.size === 0) this.levels[item.level] = undefined;
    return item;
  }

  /** Removes and returns everything, in queue order. */
  drain(): T[] {
    const out: T[] = [];
    for (let item = this.shift(); item !== undefined; item = this.shift()) out.push(item);
    return out;
  }

  /** Every item, in no particular order; for inspection and tests. */
  *[Symbol.iterator](): IterableIterator<T> {
    for (const buffer of this.levels) if (buffer !== undefined) yield* buffer;
  }

  private highest(): OrderedBuffer<T> | undefined {
    while (this.top >= 0) {
      const buffer = this.levels[this.top];
      if (buffer !== undefined) return buffer;
      this.top--;
    }
    return undefined;
  }
}
