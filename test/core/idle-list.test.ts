import { describe, expect, test } from 'vitest';
import { IdleList } from '../../src/core/idle-list';
import type { Group } from '../../src/core/types';

const group = (id: string): Group =>
  ({ id, idlePrev: null, idleNext: null }) as unknown as Group;

const ids = (list: IdleList): string[] => [...list].map((g) => g.id);

describe('idle list', () => {
  test('oldest first; a group added again keeps its place; a deleted one can come back as the newest', () => {
    const list = new IdleList();
    const [a, b, c] = [group('a'), group('b'), group('c')];
    list.add(a);
    list.add(b);
    list.add(c);
    list.add(a);
    expect(ids(list)).toEqual(['a', 'b', 'c']);
    expect(list.size).toBe(3);
    list.delete(b);
    expect(ids(list)).toEqual(['a', 'c']);
    expect(list.has(b)).toBe(false);
    list.delete(b);
    expect(list.size).toBe(2);
    list.delete(a);
    list.add(a);
    expect(ids(list)).toEqual(['c', 'a']);
    list.delete(a);
    list.delete(c);
    expect([ids(list), list.size, list.has(a), list.has(c)]).toEqual([[], 0, false, false]);
    list.add(b);
    expect([ids(list), list.has(b)]).toEqual([['b'], true]);
  });

  test('the group just visited may be deleted while iterating (forgetting the oldest idle groups)', () => {
    const list = new IdleList();
    const groups = ['a', 'b', 'c', 'd'].map(group);
    for (const g of groups) list.add(g);
    for (const g of list) if (g.id !== 'c') list.delete(g);
    expect(ids(list)).toEqual(['c']);
    expect(list.size).toBe(1);
  });
});
