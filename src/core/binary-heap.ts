/**
 * A binary min-heap under a caller's order (`before(a, b)`: a comes out first). Push and pop cost
 * O(log n); `from` builds one out of n items in O(n). Used for scheduled messages (by due time) and
 * for a browser's view of a queue (in queue order).
 */
export class BinaryHeap<T> {
  private constructor(
    private readonly items: T[],
    private readonly before: (a: T, b: T) => boolean,
  ) {}

  static empty<T>(before: (a: T, b: T) => boolean): BinaryHeap<T> {
    return new BinaryHeap<T>([], before);
  }

  /** Takes ownership of `items` and heapifies them in place. */
  static from<T>(items: T[], before: (a: T, b: T) => boolean): BinaryHeap<T> {
    const heap = new BinaryHeap(items, before);
    for (let i = (items.length >> 1) - 1; i >= 0; i--) heap.siftDown(i);
    return heap;
  }

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  push(item: T): void {
    const items = this.items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(item, items[parent]!)) break;
      items[i] = items[parent]!;
      i = parent;
    }
    items[i] = item;
  }

  pop(): T | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last !== undefined) {
      items[0] = last;
      this.siftDown(0);
    }
    return top;
  }

  /** Every item, in no particular order. */
  [Symbol.iterator](): IterableIterator<T> {
    return this.items[Symbol.iterator]();
  }

  private siftDown(start: number): void {
    const items = this.items;
    const item = items[start]!;
    let i = start;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= items.length) break;
      const right = left + 1;
      const child = right < items.length && this.before(items[right]!, items[left]!) ? right : left;
      if (!this.before(items[child]!, item)) break;
      items[i] = items[child]!;
      i = child;
    }
    items[i] = item;
  }
}
