import { appendFileSync, mkdtempSync, openSync, closeSync, readdirSync, readFileSync, truncateSync, writeFileSync, writeSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import pino from 'pino';
import { describe, expect, test } from 'vitest';
import type { MessageMeta, StoredBody } from '../../src/core/types';
import { JournalStore } from '../../src/store/journal-store';
import { encodeMessage, encodeQueue, readRecord, RecordType } from '../../src/store/record-codec';
import { SEGMENT_HEADER_BYTES } from '../../src/store/segment-file';
import type { FsyncPolicy } from '../../src/store/types';

const meta: MessageMeta = { groupId: 'G', closesGroup: false, expiresAtMs: null, deliveryCount: 0, durable: true };

function journal(dir: string, segmentBytes = 1 << 20, fsync: FsyncPolicy = { mode: 'batch' }, level = 'warn') {
  const warnings: string[] = [];
  const logger = pino({ level }, { write: (line: string) => warnings.push(line) });
  return { store: new JournalStore({ dir, fsync, segmentBytes, logger }), warnings };
}

/** The records of a segment file from `from` on, up to the first place that holds no whole record. */
function recordsIn(path: string, from = SEGMENT_HEADER_BYTES): { type: RecordType; offset: number; ids?: readonly number[] }[] {
  const bytes = readFileSync(path);
  const records = [];
  for (let offset = from; ; ) {
    const result = readRecord(bytes, offset);
    if (result.kind !== 'record') return records;
    records.push({ type: result.record.type, offset, ids: 'ids' in result.record ? result.record.ids : undefined });
    offset += result.length;
  }
}

/** Where the records of a segment file end. */
function dataEnd(path: string): number {
  const bytes = readFileSync(path);
  let offset = SEGMENT_HEADER_BYTES;
  for (let result = readRecord(bytes, offset); result.kind === 'record'; result = readRecord(bytes, offset)) offset += result.length;
  return offset;
}

function writeAt(path: string, offset: number, bytes: Buffer): void {
  const fd = openSync(path, 'r+');
  writeSync(fd, bytes, 0, bytes.length, offset);
  closeSync(fd);
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const idsOf = (recovered: ReturnType<JournalStore['open']>): number[] => recovered.queues.flatMap((queue) => queue.messages.map((m) => m.id));

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
const firstSegment = (dir: string): string => join(dir, segmentsIn(dir)[0]!);

/** A journal in a fresh directory, opened empty. */
function openedJournal(): { dir: string; store: JournalStore } {
  const dir = freshDir();
  const { store } = journal(dir);
  store.open(Infinity);
  return { dir, store };
}

describe('journal store', () => {
  test('a torn tail is cut off at the last whole record, with a warning', () => {
    const { dir, store } = openedJournal();
    fill(store, 3);
    store.close();
    const path = firstSegment(dir);
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
    const { dir, store } = openedJournal();
    fill(store, 2);
    store.close();
    appendFileSync(firstSegment(dir), Buffer.from([200, 0, 0, 0, 1, 2, 3, 4, 2, 9, 9]));
    expect(journal(dir).store.open(Infinity).queues[0]!.messages).toHaveLength(2);
  });

  test('an atomic unit torn by a crash mid-write is dropped whole, though its first records are intact', () => {
    const { dir, store } = openedJournal();
    fill(store, 2);
    store.writePending();
    const path = firstSegment(dir);
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
    const { dir, store } = openedJournal();
    store.beginAtomic();
    fill(store, 2);
    store.endAtomic();
    store.close();
    const path = firstSegment(dir);
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
    const first = firstSegment(dir);
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

  test('compaction rewrites a message from its record, with what changed since: delivery-count, delivery mark; a paged body still reads', async () => {
    const dir = freshDir();
    const { store } = journal(dir, 8192);
    store.open(Infinity);
    const grouped = { ...meta, groupId: 'order-7', expiresAtMs: 99_000 };
    const paged = store.add({ id: 1, queue: 'DLQ', seq: 1, meta: grouped, deadLetteredFrom: 'orders' }, Buffer.from('first body'), true);
    store.beginAtomic();
    store.add({ id: 2, queue: 'DLQ', seq: 2, meta, deadLetteredFrom: null }, Buffer.from('second body'), false);
    store.endAtomic();
    fill(store, 100, 200, 3);
    store.setDeliveryCount(1, 4);
    store.markDelivered(2);
    for (let id = 3; id <= 102; id++) store.remove(id);
    store.writePending();
    store.reclaim();
    await durable(store);
    store.reclaim();
    expect(segmentsIn(dir)).not.toContain('segment-00000001.journal');
    expect(Buffer.from(store.readBody(paged as StoredBody)).toString()).toBe('first body');
    store.close();
    const recovered = journal(dir).store.open(Infinity).queues[0]!.messages;
    expect(recovered.map((m) => [m.id, m.meta.groupId, m.meta.expiresAtMs, m.meta.deliveryCount, m.deadLetteredFrom, Buffer.from(m.body as Uint8Array).toString()])).toEqual([
      [1, 'order-7', 99_000, 4, 'orders', 'first body'],
      [2, 'G', null, 1, null, 'second body'],
    ]);
  });

  test('group commit: many messages are acknowledged by one fdatasync', async () => {
    const { dir, store } = openedJournal();
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
  test('the fields after the body (origin, priority, delivery time) are written with the body between them and read back, in one write and in one buffer', () => {
    const { dir, store } = openedJournal();
    const later = { ...meta, priority: 7, deliverAtMs: 123456 };
    store.add({ id: 1, queue: 'DLQ', seq: 1, meta: later, deadLetteredFrom: 'orders' }, Buffer.from('first'), false);
    store.add({ id: 2, queue: 'DLQ', seq: 2, meta }, Buffer.from('second'), false);
    store.beginAtomic();
    store.add({ id: 3, queue: 'DLQ', seq: 3, meta: { ...meta, priority: 0 }, deadLetteredFrom: 'orders' }, Buffer.from('third'), false);
    store.endAtomic();
    store.close();
    const messages = journal(dir).store.open(Infinity).queues[0]!.messages;
    expect(messages.map((m) => [m.id, m.meta.priority, m.meta.deliverAtMs ?? null, m.deadLetteredFrom ?? null])).toEqual([
      [1, 7, 123456, 'orders'],
      [2, undefined, null, null],
      [3, 0, null, 'orders'],
    ]);
  });

  test('is written after the body, so the body sits where a reader that predates the field finds it', () => {
    const fields = { id: 7, seq: 3, queue: 'DLQ', meta, delivered: false };
    const plain = encodeMessage({ ...fields, deadLetteredFrom: null }, Buffer.from('body'));
    const withOrigin = encodeMessage({ ...fields, deadLetteredFrom: 'orders' }, Buffer.from('body'));
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

describe('journal: preallocated segments', () => {
  test('the next segment is prepared while the active one fills; the roll writes into it, and its zeros read as its end', async () => {
    const dir = freshDir();
    const { store, warnings } = journal(dir, 65536, { mode: 'batch' }, 'debug');
    store.open(Infinity);
    fill(store, 40, 1000);
    await durable(store);
    await waitFor(() => warnings.some((line) => line.includes('next journal segment prepared')), 'the next segment to be prepared');
    fill(store, 40, 1000, 41);
    await durable(store);
    expect(segmentsIn(dir)).toEqual(['segment-00000001.journal', 'segment-00000002.journal']);
    const second = join(dir, 'segment-00000002.journal');
    expect(statSync(second).size).toBe(65536);
    expect(dataEnd(second)).toBeLessThan(65536);
    expect(readdirSync(dir).filter((name) => name.endsWith('.prepared'))).toEqual([]);
    store.close();
    const reopened = journal(dir, 65536);
    expect(idsOf(reopened.store.open(Infinity))).toEqual(Array.from({ length: 80 }, (_, i) => i + 1));
    fill(reopened.store, 1, 100, 200);
    reopened.store.close();
    expect(reopened.warnings).toEqual([]);
    expect(idsOf(journal(dir, 65536).store.open(Infinity))).toEqual([...Array.from({ length: 80 }, (_, i) => i + 1), 200]);
  });

  test('a torn record in a preallocated segment is cut off, and nothing after it, zeros or a stale whole record, is read again', () => {
    const { dir, store } = openedJournal();
    fill(store, 3);
    store.close();
    const path = firstSegment(dir);
    const end = statSync(path).size;
    truncateSync(path, 1 << 20); // the rest of the segment: zeros, as preparation leaves it
    const clean = journal(dir);
    expect(idsOf(clean.store.open(Infinity))).toEqual([1, 2, 3]);
    clean.store.close();
    expect(clean.warnings).toEqual([]);
    // A power cut mid-write: a record's first bytes at the end, and further on a whole record that a
    // later write had reached (the disk wrote its blocks out of order).
    const stale = encodeMessage({ id: 99, seq: 99, queue: 'q', meta, delivered: false, deadLetteredFrom: null }, Buffer.alloc(100, 9)).record;
    writeAt(path, end, stale.subarray(0, 30));
    writeAt(path, end + 5000, stale);
    const repaired = journal(dir);
    expect(idsOf(repaired.store.open(Infinity))).toEqual([1, 2, 3]);
    expect(repaired.warnings.join()).toContain('journal tail cut off');
    fill(repaired.store, 1, 10, 10);
    repaired.store.close();
    const again = journal(dir);
    expect(idsOf(again.store.open(Infinity))).toEqual([1, 2, 3, 10]);
    expect(again.warnings).toEqual([]);
  });

  test('zeros after the last record of an older segment are its end; anything else there is damage and stops the start', () => {
    const dir = freshDir();
    const { store } = journal(dir, 65536);
    store.open(Infinity);
    fill(store, 100, 1000);
    store.close();
    const first = firstSegment(dir);
    const end = statSync(first).size;
    truncateSync(first, end + 4096); // zeros after its last record, as in a prepared segment
    const reopened = journal(dir, 65536);
    expect(idsOf(reopened.store.open(Infinity))).toHaveLength(100);
    reopened.store.close();
    expect(reopened.warnings).toEqual([]);
    writeAt(first, end + 100, Buffer.from([1]));
    expect(() => journal(dir, 65536).store.open(Infinity)).toThrow(/damaged at byte \d+ .*refusing to start/);
  });

  test('a prepared file left by a broker that stopped is removed at start, never read as a segment', () => {
    const { dir, store } = openedJournal();
    fill(store, 2);
    store.close();
    const leftover = join(dir, 'next-segment-0123456789ab.prepared');
    writeFileSync(leftover, readFileSync(firstSegment(dir)));
    const reopened = journal(dir);
    expect(idsOf(reopened.store.open(Infinity))).toEqual([1, 2]);
    expect(readdirSync(dir).filter((name) => name.endsWith('.prepared'))).toEqual([]);
    reopened.store.close();
  });
});

describe('journal: records of many ids', () => {
  test('removals one after the other are one record; the deliveries of a turn are one record', () => {
    const { dir, store } = openedJournal();
    fill(store, 50);
    store.writePending();
    const path = firstSegment(dir);
    const afterMessages = statSync(path).size;
    for (let id = 1; id <= 10; id++) store.markDelivered(id);
    for (let id = 11; id <= 40; id++) store.remove(id);
    fill(store, 1, 100, 60);
    store.remove(41);
    store.writePending();
    expect(recordsIn(path, afterMessages).map((r) => [r.type, r.ids?.length])).toEqual([
      [RecordType.RemoveMany, 30],
      [RecordType.Message, undefined],
      [RecordType.RemoveMany, 1],
      [RecordType.DeliveredMany, 10],
    ]);
    store.close();
    const recovered = journal(dir).store.open(Infinity);
    expect(idsOf(recovered)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 42, 43, 44, 45, 46, 47, 48, 49, 50, 60]);
    expect(recovered.queues[0]!.messages.slice(0, 10).map((m) => m.meta.deliveryCount)).toEqual(Array(10).fill(1));
  });

  test('a delivery whose count is recorded in the same turn is counted once; a delivery removed in the same turn is gone', () => {
    const { dir, store } = openedJournal();
    fill(store, 2);
    store.writePending();
    store.markDelivered(1);
    store.setDeliveryCount(1, 3);
    store.markDelivered(2);
    store.remove(2);
    store.close();
    const recovered = journal(dir).store.open(Infinity);
    expect(recovered.queues[0]!.messages.map((m) => [m.id, m.meta.deliveryCount])).toEqual([[1, 3]]);
  });

  test('removals recorded before an atomic unit are not part of it', () => {
    const { dir, store } = openedJournal();
    fill(store, 3);
    store.writePending();
    store.remove(1);
    store.beginAtomic();
    store.remove(2);
    fill(store, 1, 100, 10);
    store.endAtomic();
    store.writePending();
    const path = firstSegment(dir);
    const records = recordsIn(path);
    expect(records.slice(-2).map((r) => r.type)).toEqual([RecordType.RemoveMany, RecordType.AtomicUnit]);
    // The unit torn: the removal before it stays.
    truncateSync(path, statSync(path).size - 5);
    expect(idsOf(journal(dir).store.open(Infinity))).toEqual([2, 3]);
  });

  test('a format 1 segment is read, and new records go into a new segment of the current format', () => {
    const dir = freshDir();
    const header = Buffer.alloc(SEGMENT_HEADER_BYTES);
    header.write('CONVOYJ1', 0, 'latin1');
    header.writeUInt32LE(1, 8);
    const message = (id: number) => encodeMessage({ id, seq: id, queue: 'q', meta, delivered: false, deadLetteredFrom: null }, Buffer.from(`m${id}`)).record;
    // A format 1 removal: one id.
    const removal = Buffer.alloc(17);
    removal.writeUInt32LE(8, 0);
    removal[8] = RecordType.Remove;
    removal.writeDoubleLE(1, 9);
    removal.writeUInt32LE(crc32(removal.subarray(8)), 4);
    writeFileSync(join(dir, 'segment-00000001.journal'), Buffer.concat([header, encodeQueue('q'), message(1), message(2), removal]));
    const { store } = journal(dir);
    expect(idsOf(store.open(Infinity))).toEqual([2]);
    fill(store, 1, 10, 3);
    store.close();
    expect(segmentsIn(dir)).toEqual(['segment-00000001.journal', 'segment-00000002.journal']);
    expect(readFileSync(join(dir, 'segment-00000002.journal')).readUInt32LE(8)).toBe(2);
    expect(idsOf(journal(dir).store.open(Infinity))).toEqual([2, 3]);
  });
});
