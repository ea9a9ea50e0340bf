import { describe, expect, test } from 'vitest';
import { SegmentEntries, type SegmentLinked } from '../../src/store/segment-entries';

interface Entry extends SegmentLinked<Entry> {
  readonly id: number;
}

const entry = (id: number): Entry => ({ id, previousInSegment: null, nextInSegment: null });

describe('segment entries', () => {
  test('in the order added; any one taken out, first, middle or last, and the rest keep their order', () => {
    const list = new SegmentEntries<Entry>();
    const entries = [1, 2, 3, 4, 5].map(entry);
    for (const e of entries) list.add(e);
    list.delete(entries[2]!);
    list.delete(entries[0]!);
    list.delete(entries[4]!);
    expect(list.toArray().map((e) => e.id)).toEqual([2, 4]);
    list.add(entries[0]!);
    expect(list.toArray().map((e) => e.id)).toEqual([2, 4, 1]);
    for (const e of list.toArray()) list.delete(e);
    expect(list.toArray()).toEqual([]);
    list.add(entries[3]!);
    expect(list.toArray().map((e) => e.id)).toEqual([4]);
  });
});
