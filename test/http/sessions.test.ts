import { describe, expect, test } from 'vitest';
import { Sessions } from '../../src/http/sessions';

describe('console sessions', () => {
  test('a session lives while it is used; unused for longer than the idle timeout it is gone', () => {
    let nowMs = 0;
    const sessions = new Sessions(1000, 10, () => nowMs);
    const token = sessions.start('ops');
    expect(token).toMatch(/^[\w-]{43}$/);
    nowMs = 900;
    expect(sessions.userOf(token)).toBe('ops');
    nowMs = 1800;
    expect(sessions.userOf(token)).toBe('ops');
    nowMs = 2801;
    expect(sessions.userOf(token)).toBeNull();
    expect(sessions.userOf(token)).toBeNull();
  });

  test('beyond maxSessions the least recently used session ends; logout ends one', () => {
    const sessions = new Sessions(60_000, 2, () => 0);
    const first = sessions.start('a');
    const second = sessions.start('b');
    expect(sessions.userOf(first)).toBe('a'); // now `second` is the least recently used
    const third = sessions.start('c');
    expect(sessions.userOf(second)).toBeNull();
    expect([sessions.userOf(first), sessions.userOf(third)]).toEqual(['a', 'c']);
    sessions.end(first);
    expect(sessions.userOf(first)).toBeNull();
    expect(sessions.userOf('made-up')).toBeNull();
  });
});
