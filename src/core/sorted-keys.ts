/**
 * A sorted set of strings, in code-unit order: a queue's group ids, so that operators can page through a
 * million groups by id and search them by prefix without the broker sorting them per request.
 *
 * The keys are kept in blocks of at most 2 × BLOCK_LOAD, each sorted, with the last key of every block
 * in `lastKeys` (the layout of Python's sortedcontainers.SortedList). Adding or deleting a key costs two
 * binary searches and a move of at most one block's references; reading from any key costs the same
 * searches and then nothing per key read.
 */
const BLOCK_LOAD = 512;

export class SortedKeys {
  private readonly blocks: string[][] = [];
  /** The last (largest) key of each block. */
  private readonly lastKeys: string[] = [];
  private count = 0;

  get size(): number {
    return this.count;
  }

  add(key: string): void {
    if (this.blocks.length === 0) {
      this.blocks.push([key]);
      this.lastKeys.push(key);
      this.count++;
      return;
    }
    const blockIndex = Math.min(this.firstBlockEndingAtOrAfter(key), this.blocks.length - 1);
    const block = this.blocks[blockIndex]!;
    const position = lowerBound(block, key);
    if (block[position] === key) return;
    block.splice(position, 0, key);
    this.count++;
    this.lastKeys[blockIndex] = block[block.length - 1]!;
    if (block.length > 2 * BLOCK_LOAD) {
      const upper = block.splice(BLOCK_LOAD);
      this.blocks.splice(blockIndex + 1, 0, upper);
      this.lastKeys.splice(blockIndex, 1, block[block.length - 1]!, upper[upper.length - 1]!);
    }
  }

  delete(key: string): boolean {
    const blockIndex = this.firstBlockEndingAtOrAfter(key);
    if (blockIndex === this.blocks.length) return false;
    const block = this.blocks[blockIndex]!;
    const position = lowerBound(block, key);
    if (block[position] !== key) return false;
    block.splice(position, 1);
    this.count--;
    if (block.length === 0) {
      this.blocks.splice(blockIndex, 1);
      this.lastKeys.splice(blockIndex, 1);
    } else {
      this.lastKeys[blockIndex] = block[block.length - 1]!;
    }
    return true;
  }

  /**
   * The keys from `bound` on (after it when `exclusive`), in order. The set must not change while the
   * iteration runs.
   */
  *from(bound: string, exclusive: boolean): IterableIterator<string> {
    let blockIndex = this.firstBlockEndingAtOrAfter(bound);
    if (blockIndex === this.blocks.length) return;
    const first = this.blocks[blockIndex]!;
    let position = lowerBound(first, bound);
    if (exclusive && first[position] === bound) position++;
    for (; blockIndex < this.blocks.length; blockIndex++, position = 0) {
      const block = this.blocks[blockIndex]!;
      for (; position < block.length; position++) yield block[position]!;
    }
  }

  *[Symbol.iterator](): IterableIterator<string> {
    for (const block of this.blocks) yield* block;
  }

  /** Index of the first block whose last key is >= `key`; blocks.length when there is none. */
  private firstBlockEndingAtOrAfter(key: string): number {
    return lowerBound(this.lastKeys, key);
  }
}

/** The first index whose key is >= `key` in the sorted `keys`. */
function lowerBound(keys: readonly string[], key: string): number {
  let low = 0;
  let high = keys.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (keys[middle]! < key) low = middle + 1;
    else high = middle;
  }
  return low;
}
