import { appendFileSync, mkdtempSync, readdirSync, readFileSync, truncateSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import pino from 'pino';
import { describe, expect, test } from 'vitest';
import type { MessageMeta } from '../../src/core/types';
import { JournalStore } from '../../src/store/journal-store';
import { encodeMessage, readRecord } from '../../src/store/record-codec';
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

  test('an atomic unit torn by a crash mid-write is dropped whole, though its first records are intact', () => {
    const dir = freshDir();
    const { store } = journal(dir);
    store.open(Infinity);
    fill(store, 2);
    store.writePending();
    const path = join(dir, segmentsIn(dir)[0]!);
    const beforeUnit = statSync(path).size;
    store.beginAtomic();
    store.remove(1);
    fill(store, 3, 100, 10);
    store.endAtomic();
    store.close();
    const unitBytes = statSync(path).size - beforeUnit;
    // Cut inside the last record of the unit: the removal and the first two messages are whole on disk.
    truncateSync(path, beforeUnit + unitBytes - 20);
    const reopened = journal(dir);
    const recovered = reopened.store.open(Infinity);
    expect(recovered.queues[0]!.messages.map((m) => m.id)).toEqual([1, 2]);
    expect(reopened.warnings.join()).toContain('journal tail cut off');
    reopened.store.close();
  });

  test('an atomic unit that passes segmentBytes stays in one segment; the next record starts a new one', () => {
    const dir = freshDir();
    const { store } = journal(dir, 65536);
    store.open(Infinity);
    store.beginAtomic();
    fill(store, 100, 1000);
    store.endAtomic();
    store.writePending();
    expect(segmentsIn(dir)).toHaveLength(1);
    fill(store, 1, 100, 200);
    store.writePending();
    expect(segmentsIn(dir)).toHaveLength(2);
    store.close();
    const recovered = journal(dir).store.open(Infinity);
    expect(recovered.queues[0]!.messages.map((m) => m.id)).toEqual([...Array.from({ length: 100 }, (_, i) => i + 1), 200]);
  });

  test("a unit's messages count in their segment: consumed, the segment is deleted; sparse, it is compacted", async () => {
    const dir = freshDir();
    const { store } = journal(dir, 8192);
    store.open(Infinity);
    store.beginAtomic();
    fill(store, 30, 200);
    store.endAtomic();
    fill(store, 30, 200, 100); // rolls to new segments
    for (let id = 1; id <= 30; id++) if (id !== 7) store.remove(id);
    await durable(store);
    store.reclaim();
    await durable(store);
    store.reclaim();
    expect(segmentsIn(dir)[0]).not.toBe('segment-00000001.journal');
    for (let id = 100; id < 130; id++) store.remove(id);
    store.close();
    const recovered = journal(dir).store.open(Infinity);
    expect(recovered.queues[0]!.messages.map((m) => m.id)).toEqual([7]);
  });

  test('a unit holding a damaged record is refused, even at the tail', () => {
    const dir = freshDir();
    const { store } = journal(dir);
    store.open(Infinity);
    store.beginAtomic();
    fill(store, 2);
    store.endAtomic();
    store.close();
    const path = join(dir, segmentsIn(dir)[0]!);
    const bytes = readFileSync(path);
    // Corrupt an inner record's length, then make the unit's own checksum match again.
    const unitStart = 16;
    const innerStart = unitStart + 9;
    bytes.writeUInt32LE(bytes.readUInt32LE(innerStart) + 1, innerStart);
    bytes.writeUInt32LE(crc32(bytes.subarray(unitStart + 8, bytes.length)), unitStart + 4);
    writeFileSync(path, bytes);
    expect(() => journal(dir).store.open(Infinity)).toThrow(/atomic unit at byte 16 holds no whole record/);
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

  test('topics and subscriptions outlive the segment that declared them; a queue deletion outlives the declarations it cancels', async () => {
    const dir = freshDir();
    const { store } = journal(dir, 8192);
    store.open(Infinity);
    store.declareTopic('prices');
    const kept = { queue: 'prices::a.kept', topic: 'prices', name: 'kept', clientId: 'a', shared: false };
    const gone = { queue: 'prices::a.gone', topic: 'prices', name: 'gone', clientId: 'a', shared: false };
    for (const subscription of [kept, gone]) {
      store.declareSubscription(subscription);
      store.declareQueue(subscription.queue);
    }
    store.add({ id: 1, queue: 'old', seq: 1, meta }, Buffer.alloc(200), false); // keeps segment 1 alive
    let id = 2;
    const churn = () => {
      for (let round = 0; round < 40; round++, id++) {
        store.add({ id, queue: 'q', seq: id, meta }, Buffer.alloc(200), false);
        store.remove(id);
      }
    };
    churn();
    store.deleteQueue(gone.queue);
    churn();
    await durable(store);
    store.reclaim();
    store.close();
    expect(segmentsIn(dir).length).toBeGreaterThan(1);
    const recovered = journal(dir).store.open(Infinity);
    expect(recovered.topics).toEqual(['prices']);
    expect(recovered.subscriptions).toEqual([kept]);
    expect(recovered.queues.map((q) => q.name).sort()).toEqual(['old', 'prices::a.kept', 'q']);
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

  test('compaction carries a scheduled message over: its delivery time, and the position a later record gave it', async () => {
    const dir = freshDir();
    const { store } = journal(dir, 8192);
    store.open(Infinity);
    store.add({ id: 1, queue: 'q', seq: 0, meta: { ...meta, deliverAtMs: 7000, priority: 2 } }, Buffer.alloc(200, 1), false);
    store.add({ id: 2, queue: 'q', seq: 0, meta: { ...meta, deliverAtMs: 9000 } }, Buffer.alloc(200, 2), false);
    fill(store, 100, 200, 3);
    store.setPosition(1, 103);
    for (let id = 3; id <= 102; id++) store.remove(id);
    store.writePending();
    store.reclaim();
    await durable(store);
    store.reclaim();
    expect(segmentsIn(dir)).not.toContain('segment-00000001.journal');
    store.close();
    const recovered = journal(dir).store.open(Infinity).queues[0]!.messages;
    expect(recovered.map((m) => [m.id, m.seq, m.meta.deliverAtMs, m.meta.priority ?? 4])).toEqual([
      [2, 0, 9000, 4],
      [1, 103, 7000, 2],
    ]);
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

describe('journal record format: the dead-letter origin', () => {
  test('is written after the body, so the body sits where a reader that predates the field finds it', () => {
    const plain = encodeMessage(7, 3, 'DLQ', meta, false, Buffer.from('body'), null);
    const withOrigin = encodeMessage(7, 3, 'DLQ', meta, false, Buffer.from('body'), 'orders');
    expect(withOrigin.bodyOffsetInRecord).toBe(plain.bodyOffsetInRecord);
    expect(withOrigin.record.subarray(plain.bodyOffsetInRecord, plain.bodyOffsetInRecord + 4).toString()).toBe('body');
    const readPlain = readRecord(plain.record, 0);
    const readOrigin = readRecord(withOrigin.record, 0);
    if (readPlain.kind !== 'record' || readOrigin.kind !== 'record') throw new Error('unreadable record');
    const [a, b] = [readPlain.record, readOrigin.record] as { message: { deadLetteredFrom: string | null; bodyOffset: number; bodyLength: number } }[];
    expect([a!.message.deadLetteredFrom, b!.message.deadLetteredFrom]).toEqual([null, 'orders']);
    expect([b!.message.bodyOffset, b!.message.bodyLength]).toEqual([a!.message.bodyOffset, a!.message.bodyLength]);
  });
});
