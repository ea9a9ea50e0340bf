import { appendFileSync, mkdtempSync, readdirSync, readFileSync, truncateSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { describe, expect, test } from 'vitest';
import type { MessageMeta } from '../../src/core/types';
import { JournalStore } from '../../src/store/journal-store';
import type { FsyncPolicy } from '../../src/store/types';

const meta: MessageMeta = { groupId: 'G', closesGroup: false, expiresAtMs: null, deliveryCount: 0, durable: true };

function journal(dir: string, segmentBytes = 1 << 20, fsync: FsyncPolicy = { mode: 'batch' }) {
  const warnings: string[] = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => warnings.push(line) });
  return { store: new JournalStore({ dir, fsync, segmentBytes, logger }), warnings };
}

function freshDir(): string {
  return mkdtempSync(join(tmpdir(), 'convoy-journal-'));
}

function fill(store: JournalStore, count: number, size = 100, firstId = 1): void {
  for (let i = 0; i < count; i++) store.add({ id: firstId + i, queue: 'q', seq: firstId + i, meta }, Buffer.alloc(size, i % 256), false);
}

/** Waits for what the store recorded so far to be durable; the store writes when it is flushed (one turn). */
function durable(store: JournalStore): Promise<void> {
  return new Promise<void>((resolve) => {
    store.whenDurable(resolve);
    store.flush();
  });
}

const segmentsIn = (dir: string): string[] => readdirSync(dir).filter((f) => f.endsWith('.journal')).sort();

describe('journal store', () => {
  test('a torn tail is cut off at the last whole record, with a warning', () => {
    const dir = freshDir();
    const { store } = journal(dir);
    store.open(Infinity);
    fill(store, 3);
    store.close();
    const path = join(dir, segmentsIn(dir)[0]!);
    truncateSync(path, statSync(path).size - 10);
    const reopened = journal(dir);
    const recovered = reopened.store.open(Infinity);
    expect(recovered.queues[0]!.messages.map((m) => m.id)).toEqual([1, 2]);
    expect(reopened.warnings.join()).toContain('journal tail cut off');
    fill(reopened.store, 1, 100, 10);
    reopened.store.close();
    expect(journal(dir).store.open(Infinity).queues[0]!.messages.map((m) => m.id)).toEqual([1, 2, 10]);
  });

  test('garbage after the last record (a crash mid-write) is cut off', () => {
    const dir = freshDir();
    const { store } = journal(dir);
    store.open(Infinity);
    fill(store, 2);
    store.close();
    appendFileSync(join(dir, segmentsIn(dir)[0]!), Buffer.from([200, 0, 0, 0, 1, 2, 3, 4, 2, 9, 9]));
    expect(journal(dir).store.open(Infinity).queues[0]!.messages).toHaveLength(2);
  });

  test('damage in a segment that is not the newest stops the start and changes nothing', () => {
    const dir = freshDir();
    const { store } = journal(dir, 1024);
    store.open(Infinity);
    fill(store, 30);
    store.close();
    const first = join(dir, segmentsIn(dir)[0]!);
    const bytes = readFileSync(first);
    bytes[40] = bytes[40]! ^ 0xff;
    writeFileSync(first, bytes);
    expect(() => journal(dir).store.open(Infinity)).toThrow(/damaged at byte \d+ .*refusing to start/);
    expect(readFileSync(first).equals(bytes)).toBe(true);
  });

  test('a file that is not a Convoy journal is never overwritten', () => {
    const dir = freshDir();
    const foreign = join(dir, 'segment-00000001.journal');
    writeFileSync(foreign, 'somebody else');
    expect(() => journal(dir).store.open(Infinity)).toThrow(/not a Convoy journal segment/);
    expect(readFileSync(foreign, 'utf8')).toBe('somebody else');
  });

  test('a data dir held by another live broker is refused', () => {
    const dir = freshDir();
    writeFileSync(join(dir, 'convoy.lock'), String(process.ppid));
    expect(() => journal(dir).store.open(Infinity)).toThrow(/in use by another broker/);
  });

  test('segments whose messages are all consumed are deleted: disk use does not grow under steady traffic', () => {
    const dir = freshDir();
    const { store } = journal(dir, 8192);
    store.open(Infinity);
    let id = 1;
    let peak = 0;
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 20; i++) store.add({ id: id + i, queue: 'q', seq: id + i, meta }, Buffer.alloc(200), false);
      for (let i = 0; i < 20; i++) store.remove(id + i);
      id += 20;
      store.writePending();
      store.reclaim();
      peak = Math.max(peak, store.diskBytes());
    }
    expect(peak).toBeLessThan(3 * 8192);
    expect(segmentsIn(dir).length).toBeLessThanOrEqual(2);
    store.close();
  });

  test('a consumed segment holding removals of messages in an older kept segment is not deleted (no resurrection)', async () => {
    const dir = freshDir();
    const { store } = journal(dir, 65536);
    store.open(Infinity);
    const add = (queue: string, first: number, count: number) => {
      for (let id = first; id < first + count; id++) store.add({ id, queue, seq: id, meta }, Buffer.alloc(1024), false);
    };
    add('A', 1, 20); // never consumed: keeps segment 1 alive
    add('B', 21, 30);
    add('C', 51, 30);
    for (let id = 21; id <= 50; id++) store.remove(id); // removals of segment-1 messages land in segment 2
    add('D', 81, 60);
    for (let id = 51; id <= 140; id++) store.remove(id);
    await durable(store);
    store.reclaim();
    await durable(store);
    store.reclaim();
    store.close();
    const recovered = journal(dir).store.open(Infinity);
    const counts = Object.fromEntries(recovered.queues.map((q) => [q.name, q.messages.length]));
    expect(counts).toEqual({ A: 20, B: 0, C: 0, D: 0 });
  });

  test('a sparse old segment is compacted: its few live messages move and it is deleted', async () => {
    const dir = freshDir();
    const { store } = journal(dir, 8192);
    store.open(Infinity);
    fill(store, 100, 200);
    for (let id = 1; id <= 100; id++) if (id % 25 !== 0) store.remove(id);
    store.writePending();
    const before = segmentsIn(dir);
    store.reclaim();
    await durable(store);
    store.reclaim();
    const after = segmentsIn(dir);
    expect(after.length).toBeLessThan(before.length);
    store.close();
    const recovered = journal(dir).store.open(Infinity);
    expect(recovered.queues[0]!.messages.map((m) => m.id)).toEqual([25, 50, 75, 100]);
  });

  test('group commit: many messages are acknowledged by one fdatasync', async () => {
    const dir = freshDir();
    const { store } = journal(dir);
    store.open(Infinity);
    const syncs: number[] = [];
    const active = (store as unknown as { active: { sync(cb: (e: null) => void): void } }).active;
    const original = active.sync.bind(active);
    active.sync = (cb) => {
      syncs.push(Date.now());
      original(cb);
    };
    const acknowledged = Array.from({ length: 200 }, (_, i) => {
      store.add({ id: i + 1, queue: 'q', seq: i + 1, meta }, Buffer.alloc(50), false);
      return new Promise<void>((resolve) => store.whenDurable(resolve));
    });
    store.flush();
    await Promise.all(acknowledged);
    expect(syncs.length).toBeLessThanOrEqual(2);
    store.close();
  });

  test('per-message fsync policy syncs each durable message before it is acknowledged', async () => {
    const dir = freshDir();
    const { store } = journal(dir, 1 << 20, { mode: 'per-message' });
    store.open(Infinity);
    fill(store, 3);
    await durable(store);
    store.close();
    expect(journal(dir).store.open(Infinity).queues[0]!.messages).toHaveLength(3);
  });

  test('a queue deleted after its declaration was copied into later segments stays deleted, after reclaim too', async () => {
    const dir = freshDir();
    const { store } = journal(dir, 65536);
    store.open(Infinity);
    store.declareQueue('gone');
    // Live messages keep the first segment, and its declaration of "gone", on disk.
    for (let id = 1; id <= 150; id++) store.add({ id, queue: 'kept', seq: id, meta }, Buffer.alloc(300), false);
    // Traffic consumed as it comes rolls segments; each starts by declaring every queue, "gone" included.
    const traffic = (firstId: number): void => {
      for (let id = firstId; id < firstId + 600; id++) {
        store.add({ id, queue: 'q', seq: id, meta }, Buffer.alloc(300), false);
        store.remove(id);
      }
    };
    traffic(1000);
    await durable(store);
    store.deleteQueue('gone');
    traffic(2000);
    await durable(store);
    store.reclaim();
    await durable(store);
    expect(segmentsIn(dir)[0]).toBe('segment-00000001.journal');
    store.close();
    const recovered = journal(dir).store.open(Infinity);
    expect(recovered.queues.map((q) => q.name).sort()).toEqual(['kept', 'q']);
  });
});
