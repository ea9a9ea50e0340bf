import { ftruncateSync, mkdirSync, readdirSync, readFileSync, unlinkSync } from 'node:fs';
import type { Logger } from 'pino';
import type { MessageBody, RecoveredMessage, StoredBody } from '../core/types';
import { acquireLock, releaseLock, takeOverLock } from './lock-file';
import { PendingRecords } from './pending-records';
import {
  encodeAtomicUnit,
  encodeDeliveryCount,
  encodeIds,
  encodeMessage,
  encodePosition,
  encodeQueue,
  encodeQueueDeleted,
  encodeSubscription,
  encodeTopic,
  messageRecordLength,
  readRecord,
  RECORD_HEADER_BYTES,
  RecordType,
  type DecodedRecord,
  messageHeadLength,
  type MessageRecord,
  type MessageRecordFields,
} from './record-codec';
import { checkSegmentHeader, FORMAT_VERSION, onlyZerosFrom, Segment, SEGMENT_HEADER_BYTES, segmentNumberOf } from './segment-file';
import { SegmentEntries, type SegmentLinked } from './segment-entries';
import { SegmentPreparation } from './segment-preparation';
import { syncDirectory } from './sync-directory';
import type { FsyncPolicy, MessageStore, RecoveredQueue, RecoveredStore, StoreEntry, StoredSubscription } from './types';
import { StoreError } from './types';

/**
 * Where a stored message's record is, and what of it has changed since it was written (position,
 * delivery-count, delivered). Everything else about the message is read back from its record when it is
 * needed (compaction, recovery), so the index holds one object per message, not a copy of its meta.
 * The entry is also the message's body when the body is kept only on disk (paged): the reference the
 * core holds then follows the record when compaction moves it.
 */
class IndexEntry implements StoredBody, SegmentLinked<IndexEntry> {
  /** Where its record starts in `segment` (its header gives its length). */
  recordOffset = 0;
  bodyOffset = 0;
  previousInSegment: IndexEntry | null = null;
  nextInSegment: IndexEntry | null = null;

  constructor(
    readonly id: number,
    /** 0 while a scheduled message waits for its time. */
    public seq: number,
    public deliveryCount: number,
    readonly durable: boolean,
    /** Delivered since its delivery-count was last recorded. */
    public delivered: boolean,
    public segment: Segment,
    readonly bodyLength: number,
  ) {}

  get storedBytes(): number {
    return this.bodyLength;
  }
}

export interface JournalOptions {
  readonly dir: string;
  readonly fsync: FsyncPolicy;
  /** A segment is closed and a new one started past this size. */
  readonly segmentBytes: number;
  readonly logger: Logger;
  /** The journal of a lost cluster node, taken over after fencing it: its lock is taken whoever holds it. */
  readonly takeOverLock?: boolean;
  /**
   * Called before every write to the directory (records, new segments, deletions); throws to stop the
   * write. A cluster node checks here that its lease still holds (README, "Cluster: fencing").
   */
  readonly beforeWrite?: () => void;
  /** Told how long each fdatasync took, in seconds (the fsync latency histogram of /metrics). */
  readonly onFsync?: (seconds: number) => void;
}

/** The records of an atomic unit being recorded (beginAtomic .. endAtomic), not yet framed. */
interface OpenUnit {
  readonly records: Buffer[];
  bytes: number;
  /** A durable message was added in the unit (the per-message fsync policy syncs at its end). */
  durable: boolean;
}

/** A segment with fewer live messages than this share of what it holds is rewritten (compaction). */
const COMPACT_BELOW_LIVE_RATIO = 0.25;

/**
 * The embedded durable store: an append-only journal in numbered segment files under the data dir.
 * Records are buffered and written when the broker's turn flushes the store (src/broker/turn.ts); one
 * fdatasync covers every record of a turn (group commit). Segments whose messages are all consumed are deleted; sparse ones are
 * compacted by re-appending their live messages, so disk use follows the live data.
 */
export class JournalStore implements MessageStore {
  readonly keepsBodiesInMemory = false;
  private readonly segments = new Map<number, Segment>();
  private readonly entriesBySegment = new Map<Segment, SegmentEntries<IndexEntry>>();
  private readonly index = new Map<number, IndexEntry>();
  /** While the journal is read at start-up: each message's record as read, for what recovery hands back. */
  private readonly replayed = new Map<IndexEntry, MessageRecord>();
  private readonly queues = new Set<string>();
  private readonly topics = new Set<string>();
  /** Durable subscriptions by their queue's name. */
  private readonly subscriptions = new Map<string, StoredSubscription>();
  private active!: Segment;
  private readonly pending = new PendingRecords();
  /**
   * Removals recorded one after the other, not yet written: they become one RemoveMany record before
   * the next record of any other kind, so records keep their order.
   */
  private removals: IndexEntry[] = [];
  /**
   * Messages that left for a consumer in this turn: one DeliveredMany record at the turn's write, after
   * their message records and before any transfer leaves (the network step follows the store step).
   */
  private readonly deliveries = new Set<IndexEntry>();
  private readonly preparation: SegmentPreparation;
  private waiters: (() => void)[] = [];
  private syncing = false;
  private intervalTimer: NodeJS.Timeout | null = null;
  private readonly compacting = new Set<Segment>();
  private closed = false;
  private unit: OpenUnit | null = null;

  constructor(private readonly options: JournalOptions) {
    this.preparation = new SegmentPreparation(options.dir, options.segmentBytes, options.logger);
  }

  open(keepInMemoryBytes: number): RecoveredStore {
    mkdirSync(this.options.dir, { recursive: true });
    if (this.options.takeOverLock) takeOverLock(this.options.dir);
    else acquireLock(this.options.dir);
    this.preparation.removeLeftovers();
    const queues = new Map<string, RecoveredMessage[]>();
    const numbers = readdirSync(this.options.dir)
      .map(segmentNumberOf)
      .filter((n): n is number => n !== null)
      .sort((a, b) => a - b);
    numbers.forEach((number, i) => this.replaySegment(number, i === numbers.length - 1, queues));
    this.active = numbers.length > 0 ? this.segments.get(numbers[numbers.length - 1]!)! : this.newSegment(1);
    // Records of this format go into segments of this format only.
    if (this.active.format !== FORMAT_VERSION) this.roll();
    if (this.options.fsync.mode === 'interval') {
      this.intervalTimer = setInterval(() => this.startSync(), this.options.fsync.intervalMs);
      this.intervalTimer.unref();
    }
    return { queues: this.recoveredQueues(queues, keepInMemoryBytes), topics: [...this.topics], subscriptions: [...this.subscriptions.values()] };
  }

  declareQueue(name: string): void {
    if (this.queues.has(name)) return;
    this.queues.add(name);
    this.append(encodeQueue(name));
  }

  declareTopic(name: string): void {
    if (this.topics.has(name)) return;
    this.topics.add(name);
    this.append(encodeTopic(name));
  }

  declareSubscription(subscription: StoredSubscription): void {
    this.subscriptions.set(subscription.queue, subscription);
    this.append(encodeSubscription(subscription));
  }

  deleteQueue(name: string): void {
    if (!this.queues.has(name) && !this.subscriptions.has(name)) return;
    this.queues.delete(name);
    this.subscriptions.delete(name);
    this.append(encodeQueueDeleted(name));
    this.dependOnOlderSegments(this.active);
  }

  add(entry: StoreEntry, bytes: Uint8Array, page: boolean): MessageBody {
    const { id, queue, seq, meta } = entry;
    const indexed = new IndexEntry(id, seq, meta.deliveryCount, meta.durable, false, this.active, bytes.length);
    this.placeMessage(indexed, { id, seq, queue, meta, delivered: false, deadLetteredFrom: entry.deadLetteredFrom ?? null }, bytes);
    if (this.unit) this.unit.durable ||= entry.meta.durable;
    else if (this.options.fsync.mode === 'per-message' && entry.meta.durable) this.syncEverythingNow();
    return page ? indexed : bytes;
  }

  remove(id: number): void {
    const entry = this.index.get(id);
    if (!entry) return;
    this.index.delete(id);
    this.entriesOf(entry.segment).delete(entry);
    entry.segment.live--;
    this.deliveries.delete(entry);
    this.removals.push(entry);
  }

  setDeliveryCount(id: number, deliveryCount: number): void {
    const entry = this.index.get(id);
    if (!entry || !entry.durable) return;
    entry.deliveryCount = deliveryCount;
    entry.delivered = false;
    // The count is recorded from here on: a delivery mark of this turn would count the delivery twice.
    this.deliveries.delete(entry);
    this.append(encodeDeliveryCount(id, deliveryCount));
    this.dependOn([entry]);
  }

  setPosition(id: number, seq: number): void {
    const entry = this.index.get(id);
    if (!entry || !entry.durable) return;
    entry.seq = seq;
    this.append(encodePosition(id, seq));
    this.dependOn([entry]);
  }

  markDelivered(id: number): void {
    const entry = this.index.get(id);
    if (!entry || !entry.durable || entry.delivered) return;
    entry.delivered = true;
    this.deliveries.add(entry);
  }

  readBody(body: StoredBody): Uint8Array {
    const entry = body as IndexEntry;
    if (this.unit && entry.bodyOffset >= this.unitStart()) return this.readFromUnit(entry.bodyOffset, entry.bodyLength);
    const inPending = entry.bodyOffset >= entry.segment.size;
    if (inPending) this.writeBuffered();
    return entry.segment.read(entry.bodyOffset, entry.bodyLength);
  }

  /**
   * The unit's records are buffered apart and framed as one record at its end, at the logical end of the
   * active segment: offsets handed out meanwhile assume that place, so the segment does not roll inside
   * a unit (a unit may make its segment overshoot segmentBytes, as one large message does).
   */
  beginAtomic(): void {
    if (this.unit) throw new Error('atomic units do not nest');
    // Removals recorded before the unit are not part of it.
    this.writeRemovals();
    this.unit = { records: [], bytes: 0, durable: false };
  }

  endAtomic(): void {
    const unit = this.unit;
    if (!unit) throw new Error('endAtomic without beginAtomic');
    this.writeRemovals();
    this.unit = null;
    if (unit.records.length === 0) return;
    this.pending.addRecord(encodeAtomicUnit(unit.records, unit.bytes));
    if (this.options.fsync.mode === 'per-message' && unit.durable) this.syncEverythingNow();
  }

  whenDurable(callback: () => void): void {
    this.waiters.push(callback);
  }

  flush(): void {
    if (this.closed) return;
    this.writePending();
    if (this.options.fsync.mode === 'batch') this.startSync();
    else if (this.options.fsync.mode !== 'interval') for (const waiter of this.waiters.splice(0)) waiter();
  }

  /** Writes buffered records now, without fsync (a paged body read back, a segment roll, close). */
  writePending(): void {
    this.writeRemovals();
    // Inside a unit, some of the marks may be about messages of the unit, which is not written yet.
    if (!this.unit) this.writeDeliveries();
    this.writeBuffered();
    // Half full: the next segment's file is prepared meanwhile (it is ready by the time this one is full).
    if (this.active.size > this.options.segmentBytes / 2) this.preparation.start();
  }

  /** Writes what is buffered, as it is. */
  private writeBuffered(): void {
    this.pending.writeWith((parts, length) => {
      this.options.beforeWrite?.();
      this.active.append(parts, length);
    });
  }

  diskBytes(): number {
    let total = this.pending.bytes;
    for (const segment of this.segments.values()) total += segment.size;
    return total;
  }

  reclaim(): void {
    for (const segment of [...this.segments.values()]) {
      if (segment === this.active || this.compacting.has(segment)) continue;
      if (segment.live === 0) {
        if (this.outlivesWhatItRefersTo(segment)) this.deleteSegment(segment);
      } else if (segment.live < segment.messages * COMPACT_BELOW_LIVE_RATIO) {
        this.compact(segment);
      }
    }
  }

  close(): void {
    if (this.closed) return;
    if (this.intervalTimer) clearInterval(this.intervalTimer);
    this.preparation.close();
    this.syncEverythingNow();
    this.closed = true;
    for (const waiter of this.waiters.splice(0)) waiter();
    for (const segment of this.segments.values()) segment.close();
    releaseLock(this.options.dir);
  }

  /** Appends the message's record, the body as it is; the entry learns where the record and the body are. */
  private placeMessage(entry: IndexEntry, fields: MessageRecordFields, body: Uint8Array): void {
    if (this.closed) throw new StoreError('the store is closed');
    if (this.unit) {
      const { record, bodyOffsetInRecord } = encodeMessage(fields, body);
      entry.recordOffset = this.append(record);
      entry.bodyOffset = entry.recordOffset + bodyOffsetInRecord;
    } else {
      this.writeRemovals();
      this.makeRoomFor(messageRecordLength(fields, body.length));
      entry.bodyOffset = this.active.size + this.pending.addMessage(fields, body);
      entry.recordOffset = entry.bodyOffset - messageHeadLength(fields);
    }
    entry.segment = this.active;
    this.index.set(entry.id, entry);
    this.entriesOf(this.active).add(entry);
    this.active.messages++;
    this.active.live++;
  }

  /** The removals recorded since the last record of another kind, as one record. */
  private writeRemovals(): void {
    if (this.removals.length === 0) return;
    const entries = this.removals;
    this.removals = [];
    this.appendIds(RecordType.RemoveMany, entries);
  }

  /** The deliveries of this turn, as one record. */
  private writeDeliveries(): void {
    if (this.deliveries.size === 0) return;
    const entries = [...this.deliveries];
    this.deliveries.clear();
    this.appendIds(RecordType.DeliveredMany, entries);
  }

  private appendIds(type: RecordType.RemoveMany | RecordType.DeliveredMany, entries: readonly IndexEntry[]): void {
    this.append(encodeIds(type, entries.map((entry) => entry.id)));
    this.dependOn(entries);
  }

  /** Records in the active segment about these messages: it must outlive the older segments that hold them. */
  private dependOn(entries: Iterable<IndexEntry>): void {
    for (const entry of entries) if (entry.segment !== this.active) this.active.refersTo.add(entry.segment);
  }

  /**
   * A queue deletion cancels its declarations, which every segment since it was declared repeats: the
   * segment holding the deletion must outlive them all, or the queue would come back after a restart.
   */
  private dependOnOlderSegments(segment: Segment): void {
    for (const older of this.segments.values()) if (older.number < segment.number) segment.refersTo.add(older);
  }

  /** True once every older segment this one's records refer to is gone. */
  private outlivesWhatItRefersTo(segment: Segment): boolean {
    for (const older of segment.refersTo) {
      if (this.segments.get(older.number) === older) return false;
    }
    return true;
  }

  /** Buffers a record for the next write; returns its offset in the active segment. */
  private append(record: Buffer): number {
    if (this.closed) throw new StoreError('the store is closed');
    this.writeRemovals();
    const unit = this.unit;
    if (unit) {
      const offset = this.unitStart() + unit.bytes;
      unit.records.push(record);
      unit.bytes += record.length;
      return offset;
    }
    this.makeRoomFor(record.length);
    const offset = this.active.size + this.pending.bytes;
    this.pending.addRecord(record);
    return offset;
  }

  /** Rolls over to a new segment first when a record of `length` would take the active one past segmentBytes. */
  private makeRoomFor(length: number): void {
    const logicalSize = this.active.size + this.pending.bytes;
    if (logicalSize > SEGMENT_HEADER_BYTES && logicalSize + length > this.options.segmentBytes) this.roll();
  }

  /** Where the open unit's first record will be: inside its frame, at the logical end of the active segment. */
  private unitStart(): number {
    return this.active.size + this.pending.bytes + RECORD_HEADER_BYTES;
  }

  /** A body recorded in the open unit, which is not written yet. */
  private readFromUnit(offset: number, length: number): Buffer {
    let at = this.unitStart();
    for (const record of this.unit!.records) {
      if (offset < at + record.length) return Buffer.from(record.subarray(offset - at, offset - at + length));
      at += record.length;
    }
    throw new Error(`no record of the open atomic unit holds offset ${offset}`);
  }

  private syncEverythingNow(): void {
    this.writePending();
    this.syncActiveNow();
  }

  /** Group commit: one fdatasync for every waiter so far; waiters that arrive meanwhile share the next. */
  private startSync(): void {
    if (this.syncing || this.waiters.length === 0 || this.closed) return;
    this.syncing = true;
    const batch = this.waiters;
    this.waiters = [];
    // The fdatasync must cover every record its waiters wait for, also when a timer starts it mid-turn.
    this.writePending();
    const startedMs = performance.now();
    this.active.sync((error) => {
      this.observeFsync(startedMs);
      this.syncing = false;
      if (error) {
        // The disk failed us: acknowledging anything more would be a lie. Stop the broker.
        this.options.logger.fatal({ err: error }, 'fdatasync failed; stopping');
        process.exit(70);
      }
      for (const waiter of batch) waiter();
      if (this.options.fsync.mode === 'batch') this.startSync();
    });
  }

  private syncActiveNow(): void {
    const startedMs = performance.now();
    this.active.syncNow();
    this.observeFsync(startedMs);
  }

  private observeFsync(startedMs: number): void {
    this.options.onFsync?.((performance.now() - startedMs) / 1000);
  }

  /**
   * The old segment is synced before the new one takes over, so group commit only ever syncs one file.
   * Every queue, topic and durable subscription is declared again at the start of the new segment:
   * older segments may be deleted, and empty queues, topics without messages and subscriptions must
   * still come back after a restart.
   */
  private roll(): void {
    // Only what is buffered: records of the open batches may come after this and go into the new segment.
    this.writeBuffered();
    this.syncActiveNow();
    this.active = this.newSegment(this.active.number + 1);
    const declarations = [
      ...[...this.queues].map(encodeQueue),
      ...[...this.topics].map(encodeTopic),
      ...[...this.subscriptions.values()].map(encodeSubscription),
    ];
    for (const record of declarations) this.pending.addRecord(record);
  }

  /** The next segment: in the prepared file if it is ready, else in a file that grows as it is written. */
  private newSegment(number: number): Segment {
    this.options.beforeWrite?.();
    const prepared = this.preparation.take();
    const segment = prepared ? Segment.adopt(this.options.dir, number, prepared) : Segment.create(this.options.dir, number);
    syncDirectory(this.options.dir);
    this.segments.set(number, segment);
    return segment;
  }

  private entriesOf(segment: Segment): SegmentEntries<IndexEntry> {
    let entries = this.entriesBySegment.get(segment);
    if (!entries) {
      entries = new SegmentEntries();
      this.entriesBySegment.set(segment, entries);
    }
    return entries;
  }

  /** Re-appends a sparse segment's live messages, then deletes it once the copies are durable. */
  private compact(segment: Segment): void {
    this.compacting.add(segment);
    for (const entry of this.entriesOf(segment).toArray()) {
      const { fields, body } = this.readMessageRecord(entry);
      this.entriesOf(segment).delete(entry);
      segment.live--;
      this.placeMessage(entry, fields, body);
    }
    this.waiters.push(() => {
      this.compacting.delete(segment);
      if (segment.live === 0 && this.outlivesWhatItRefersTo(segment)) this.deleteSegment(segment);
    });
    this.options.logger.debug({ segment: segment.path }, 'segment compacted');
  }

  /** The message's record read back from its segment, with what changed since it was written. */
  private readMessageRecord(entry: IndexEntry): { fields: MessageRecordFields; body: Buffer } {
    const header = entry.segment.read(entry.recordOffset, RECORD_HEADER_BYTES);
    const length = Math.min(RECORD_HEADER_BYTES + header.readUInt32LE(0), entry.segment.size - entry.recordOffset);
    const bytes = entry.segment.read(entry.recordOffset, length);
    const result = readRecord(bytes, 0);
    if (result.kind !== 'record' || result.record.type !== RecordType.Message || result.record.message.id !== entry.id) {
      throw new StoreError(`${entry.segment.path} holds no record of message ${entry.id} at byte ${entry.recordOffset}`);
    }
    const stored = result.record.message;
    return {
      fields: { ...stored, seq: entry.seq, meta: { ...stored.meta, deliveryCount: entry.deliveryCount }, delivered: entry.delivered },
      body: bytes.subarray(entry.bodyOffset - entry.recordOffset, entry.bodyOffset - entry.recordOffset + stored.bodyLength),
    };
  }

  private deleteSegment(segment: Segment): void {
    this.options.beforeWrite?.();
    segment.close();
    unlinkSync(segment.path);
    this.segments.delete(segment.number);
    this.entriesBySegment.delete(segment);
  }

  private replaySegment(number: number, isLast: boolean, queues: Map<string, RecoveredMessage[]>): void {
    const segment = Segment.openExisting(this.options.dir, number);
    this.segments.set(number, segment);
    const bytes = readFileSync(segment.path);
    segment.format = checkSegmentHeader(bytes, segment.path);
    let offset = SEGMENT_HEADER_BYTES;
    for (;;) {
      const result = readRecord(bytes, offset);
      if (result.kind === 'end') break;
      if (result.kind === 'torn') {
        // Zeros after the last record: the rest of a preallocated file, not yet written to.
        if (onlyZerosFrom(bytes, offset)) break;
        if (!isLast) {
          throw new StoreError(
            `${segment.path} is damaged at byte ${offset} (${result.reason}) and is not the newest segment; refusing to start so as not to lose data`,
          );
        }
        this.options.logger.warn(
          { segment: segment.path, offset, reason: result.reason, droppedBytes: bytes.length - offset },
          'journal tail cut off at the last whole record (the broker stopped mid-write)',
        );
        ftruncateSync(segment.fd, offset);
        break;
      }
      if (result.record.type === RecordType.AtomicUnit) this.replayUnit(bytes, result.payloadOffset, offset + result.length, segment, queues);
      else this.replayRecord(result.record, segment, result.payloadOffset, queues);
      offset += result.length;
    }
    segment.size = offset;
  }

  /** An intact atomic unit (its one checksum covers every record in it): its records, applied in order. */
  private replayUnit(bytes: Buffer, from: number, end: number, segment: Segment, queues: Map<string, RecoveredMessage[]>): void {
    const unitBytes = bytes.subarray(0, end);
    for (let offset = from; offset < end; ) {
      const result = readRecord(unitBytes, offset);
      if (result.kind !== 'record' || result.record.type === RecordType.AtomicUnit) {
        throw new StoreError(`${segment.path} is damaged: the atomic unit at byte ${from - RECORD_HEADER_BYTES} holds no whole record at byte ${offset}`);
      }
      this.replayRecord(result.record, segment, result.payloadOffset, queues);
      offset += result.length;
    }
  }

  private replayRecord(record: DecodedRecord, segment: Segment, payloadOffset: number, queues: Map<string, RecoveredMessage[]>): void {
    switch (record.type) {
      case RecordType.Queue:
        this.queues.add(record.name);
        if (!queues.has(record.name)) queues.set(record.name, []);
        break;
      case RecordType.Message: {
        const message = record.message;
        segment.messages++;
        if (!message.meta.durable) break;
        this.queues.add(message.queue);
        const previous = this.index.get(message.id);
        if (previous) {
          // A copy written by compaction: the newer record wins.
          previous.segment.live--;
          this.entriesOf(previous.segment).delete(previous);
          this.replayed.delete(previous);
        }
        const entry = new IndexEntry(message.id, message.seq, message.meta.deliveryCount, true, message.delivered, segment, message.bodyLength);
        entry.recordOffset = payloadOffset - RECORD_HEADER_BYTES;
        entry.bodyOffset = payloadOffset + message.bodyOffset;
        this.replayed.set(entry, message);
        this.index.set(entry.id, entry);
        this.entriesOf(segment).add(entry);
        segment.live++;
        if (!queues.has(message.queue)) queues.set(message.queue, []);
        break;
      }
      case RecordType.Remove:
        this.replayRemoval(record.id, segment);
        break;
      case RecordType.RemoveMany:
        for (const id of record.ids) this.replayRemoval(id, segment);
        break;
      case RecordType.DeliveryCount: {
        const entry = this.index.get(record.id);
        if (entry) {
          if (entry.segment !== segment) segment.refersTo.add(entry.segment);
          entry.deliveryCount = record.deliveryCount;
          entry.delivered = false;
        }
        break;
      }
      case RecordType.Delivered:
        this.replayDelivery(record.id, segment);
        break;
      case RecordType.DeliveredMany:
        for (const id of record.ids) this.replayDelivery(id, segment);
        break;
      case RecordType.Position: {
        const entry = this.index.get(record.id);
        if (entry) {
          if (entry.segment !== segment) segment.refersTo.add(entry.segment);
          entry.seq = record.seq;
        }
        break;
      }
      case RecordType.Topic:
        this.topics.add(record.name);
        break;
      case RecordType.Subscription:
        this.subscriptions.set(record.subscription.queue, record.subscription);
        break;
      case RecordType.QueueDeleted:
        // Its messages were removed (earlier records); a later record may declare the name afresh.
        this.dependOnOlderSegments(segment);
        this.queues.delete(record.name);
        this.subscriptions.delete(record.name);
        queues.delete(record.name);
        break;
    }
  }

  private replayRemoval(id: number, segment: Segment): void {
    const entry = this.index.get(id);
    if (!entry) return;
    if (entry.segment !== segment) segment.refersTo.add(entry.segment);
    this.index.delete(id);
    this.replayed.delete(entry);
    this.entriesOf(entry.segment).delete(entry);
    entry.segment.live--;
  }

  private replayDelivery(id: number, segment: Segment): void {
    const entry = this.index.get(id);
    if (!entry) return;
    if (entry.segment !== segment) segment.refersTo.add(entry.segment);
    entry.delivered = true;
  }

  /**
   * Every message still stored, per queue in position order (scheduled messages that had not entered
   * their queue, position 0, first). A message that had left for a consumer when the broker stopped
   * comes back with delivery-count + 1 (recorded, so a second crash does not count it twice).
   */
  private recoveredQueues(queues: Map<string, RecoveredMessage[]>, keepInMemoryBytes: number): RecoveredQueue[] {
    const entries = [...this.index.values()].sort((a, b) => a.seq - b.seq);
    const bodies = this.loadBodies(entries, keepInMemoryBytes);
    for (const entry of entries) {
      const stored = this.replayed.get(entry)!;
      if (entry.delivered) this.setDeliveryCount(entry.id, entry.deliveryCount + 1);
      let messages = queues.get(stored.queue);
      if (!messages) queues.set(stored.queue, (messages = []));
      messages.push({
        id: entry.id,
        seq: entry.seq,
        meta: { ...stored.meta, deliveryCount: entry.deliveryCount },
        body: bodies.get(entry) ?? entry,
        deadLetteredFrom: stored.deadLetteredFrom,
      });
    }
    this.replayed.clear();
    return [...queues].map(([name, messages]) => ({ name, messages }));
  }

  /**
   * Bodies of the earliest messages, up to the memory budget, copied out of one read per segment
   * (the rest stay paged). One read per message would cost a system call each on a large backlog.
   */
  private loadBodies(entriesInOrder: IndexEntry[], keepInMemoryBytes: number): Map<IndexEntry, Buffer> {
    const kept = new Map<Segment, IndexEntry[]>();
    let inMemory = 0;
    for (const entry of entriesInOrder) {
      if (inMemory + entry.bodyLength > keepInMemoryBytes) break;
      inMemory += entry.bodyLength;
      const list = kept.get(entry.segment) ?? [];
      list.push(entry);
      kept.set(entry.segment, list);
    }
    const bodies = new Map<IndexEntry, Buffer>();
    for (const [segment, list] of kept) {
      const file = readFileSync(segment.path);
      for (const entry of list) bodies.set(entry, Buffer.from(file.subarray(entry.bodyOffset, entry.bodyOffset + entry.bodyLength)));
    }
    return bodies;
  }
}
