/** What a segment's list links: the index entries of the messages whose records it holds. */
export interface SegmentLinked<T> {
  previousInSegment: T | null;
  nextInSegment: T | null;
}

/**
 * The live messages of one journal segment (compaction moves them), as a list linked through the index
 * entries themselves. A Set cost a hash-table entry per stored message, more than the two links, and two
 * table updates per durable message on its way through the broker.
 */
export class SegmentEntries<T extends SegmentLinked<T>> {
  private first: T | null = null;
  private last: T | null = null;

  add(entry: T): void {
    entry.previousInSegment = this.last;
    entry.nextInSegment = null;
    if (this.last === null) this.first = entry;
    else this.last.nextInSegment = entry;
    this.last = entry;
  }

  /** Takes out an entry of this list. */
  delete(entry: T): void {
    if (entry.previousInSegment === null) this.first = entry.nextInSegment;
    else entry.previousInSegment.nextInSegment = entry.nextInSegment;
    if (entry.nextInSegment === null) this.last = entry.previousInSegment;
    else entry.nextInSegment.previousInSegment = entry.previousInSegment;
    entry.previousInSegment = null;
    entry.nextInSegment = null;
  }

  /** The entries, oldest first, as they are now. */
  toArray(): T[] {
    const entries: T[] = [];
    for (let entry = this.first; entry !== null; entry = entry.nextInSegment) entries.push(entry);
    return entries;
  }
}
