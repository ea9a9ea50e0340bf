import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { SortedKeys } from '../../src/core/sorted-keys';

const byCodeUnits = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

describe('SortedKeys', () => {
  test('agrees with a sorted array under random adds and deletes, across block splits', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fc.string({ maxLength: 4 })), { maxLength: 3000 }), fc.string({ maxLength: 3 }), (operations, bound) => {
        const keys = new SortedKeys();
        const reference = new Set<string>();
        for (const [add, key] of operations) {
          if (add) {
            keys.add(key);
            reference.add(key);
          } else {
            expect(keys.delete(key)).toBe(reference.delete(key));
          }
        }
        const sorted = [...reference].sort(byCodeUnits);
        expect([...keys]).toEqual(sorted);
        expect(keys.size).toBe(sorted.length);
        expect([...keys.from(bound, false)]).toEqual(sorted.filter((k) => k >= bound));
        expect([...keys.from(bound, true)]).toEqual(sorted.filter((k) => k > bound));
      }),
      { numRuns: 200, seed: 13 },
    );
  });

  test('a million keys: adding, finding a page and deleting stay fast', () => {
    const keys = new SortedKeys();
    const started = performance.now();
    for (let i = 0; i < 1_000_000; i++) keys.add(`account-${(i * 7919) % 1_000_000}`);
    const added = performance.now() - started;
    const pageStarted = performance.now();
    const page: string[] = [];
    for (const key of keys.from('account-99', false)) {
      if (page.length === 100) break;
      page.push(key);
    }
    const pageMs = performance.now() - pageStarted;
    expect(page[0]).toBe('account-99');
    expect(page[1]).toBe('account-990');
    for (let i = 0; i < 1_000_000; i += 2) keys.delete(`account-${i}`);
    expect(keys.size).toBe(500_000);
    console.log(`SortedKeys: 1,000,000 adds in ${added.toFixed(0)} ms, one page of 100 in ${pageMs.toFixed(3)} ms`);
    expect(pageMs).toBeLessThan(20);
  });
});
