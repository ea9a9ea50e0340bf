/**
 * Messages ordered by their queue position (`seq`).
 *
 * New messages arrive in increasing seq and are appended to a deque in O(1). Messages that come back
 * (released, modified, returned by a detaching consumer) go back to their original position; they
 * land in a small min-heap, so the next message is the smaller head of the two. The common path
 * (append, take head) never touches the heap.
 */
export interface Positioned {
  readonly seq: number;
}

export class OrderedBuffer<T extends Positioned> {
  private items: T[] = [];
  private head = 0;
  private readonly returned: T[] = [];

  get size(): number {
    return this.items.length - this.head + this.returned.length;
  }

  insert(item: T): void {
    const tailIndex = this.items.length - 1;
    if (tailIndex < this.head || this.items[tailIndex]!.seq < item.seq) {
      this.items.push(item);
    } else {
      this.heapPush(item);
    }
  }

  peek(): T | undefined {
    const fromDeque = this.head < this.items.length ? this.items[this.head] : undefined;
    const fromHeap = this.returned[0];
    if (fromHeap === undefined) return fromDeque;
    if (fromDeque === undefined) return fromHeap;
    return fromHeap.seq < fromDeque.seq ? fromHeap : fromDeque;
  }

  shift(): T | undefined {
    const next = this.peek();
    if (next === undefined) return undefined;
    if (next === this.returned[0]) {
      this.heapPop();
    } else {
      this.items[this.head] = undefined as unknown as T;
      this.head++;
      this.compact();
    }
    return next;
  }

  /** Removes and returns everything, in order. */
  drain(): T[] {
    const out: T[] = [];
    for (let item = this.shift(); item !== undefined; item = this.shift()) out.push(item);
    return out;
  }

  /** Every item, in no particular order; for inspection and tests. */
  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = this.head; i < this.items.length; i++) yield this.items[i]!;
    yield* this.returned;
  }

  private compact(): void {
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }

  private heapPush(item: T): void {
    const heap = this.returned;
    heap.push(item);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent]!.seq <= item.seq) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = item;
  }

  private heapPop(): void {
    const heap = this.returned;
    const last = heap.pop()!;
    if (heap.length === 0) return;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child = right < heap.length && heap[right]!.seq < heap[left]!.seq ? right : left;
      if (heap[child]!.seq >= last.seq) break;
      heap[i] = heap[child]!;
      i = child;
    }
    heap[i] = last;
  }
}
