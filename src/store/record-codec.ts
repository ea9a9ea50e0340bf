import { crc32 } from 'node:zlib';
import type { MessageMeta } from '../core/types';
import type { StoredSubscription } from './types';

/**
 * Journal records: [u32 payload length][u32 crc32 of type+payload][u8 type][payload], little-endian.
 * A record whose length runs past the end of the file, or whose checksum does not match, marks the point
 * where a crash cut the journal.
 *
 * A message record's payload: id, seq, delivery-count, flags, [expiry], queue, [group], body, then the
 * optional fields that came after the first release, each present only with its flag, in this order:
 * [the queue it was dead-lettered from (u16 length, UTF-8; FLAG_DEAD_LETTERED_FROM)] [priority (u8,
 * FLAG_HAS_PRIORITY)] [delivery time (f64, FLAG_SCHEDULED)]. A record without them reads as before (no
 * origin, priority 4, not scheduled), and a reader that predates them stops at the end of the body, so
 * journals stay readable in both directions (no new format version). A scheduled message is stored with
 * seq 0 until a Position record gives it its place in the queue.
 *
 * A message record is written as three parts: its head (the record header and every field before the
 * body), the body as the producer sent it, and its trailer (the optional fields after the body), if any.
 * The checksum runs over them in turn, so the body is handed to the write as it is, never copied into
 * the record.
 *
 * Removals and delivery marks are written as lists of ids (RemoveMany, DeliveredMany): the removals of a
 * consumer's disposition range, the deliveries of a turn, are one record each. Segments that hold them
 * are format 2 (segment-file.ts); the single-id records of format 1 are still read.
 */
export const RECORD_HEADER_BYTES = 9;

export const enum RecordType {
  Queue = 1,
  Message = 2,
  /** One removal; written by format 1 only, still read. */
  Remove = 3,
  DeliveryCount = 4,
  /** One message left for a consumer; written by format 1 only, still read. */
  Delivered = 5,
  /** Records that count only together (a committed transaction): see encodeAtomicUnit. */
  AtomicUnit = 6,
  Topic = 7,
  Subscription = 8,
  QueueDeleted = 9,
  /** A scheduled message entered its queue at a position (delayed delivery). */
  Position = 10,
  /** Several removals: a count, then the ids. */
  RemoveMany = 11,
  /** Several deliveries (see Delivered): a count, then the ids. */
  DeliveredMany = 12,
}

const FLAG_DURABLE = 1;
const FLAG_CLOSES_GROUP = 2;
const FLAG_HAS_GROUP = 4;
const FLAG_HAS_EXPIRY = 8;
const FLAG_DELIVERED = 16;
const FLAG_DEAD_LETTERED_FROM = 32;
const FLAG_HAS_PRIORITY = 64;
const FLAG_SCHEDULED = 128;

/** What a message record holds besides its body. */
export interface MessageRecordFields {
  readonly id: number;
  readonly seq: number;
  readonly queue: string;
  readonly meta: MessageMeta;
  /** Delivered since delivery-count was last recorded (compaction carries this over). */
  readonly delivered: boolean;
  /** The queue a dead-letter queue's message came from; null for other messages and older records. */
  readonly deadLetteredFrom: string | null;
}

/** A message record as read back. */
export interface MessageRecord extends MessageRecordFields {
  /** Offset of the body within the record's payload. */
  readonly bodyOffset: number;
  readonly bodyLength: number;
}

export type DecodedRecord =
  | { readonly type: RecordType.Queue; readonly name: string }
  | { readonly type: RecordType.Message; readonly message: MessageRecord }
  | { readonly type: RecordType.Remove; readonly id: number }
  | { readonly type: RecordType.DeliveryCount; readonly id: number; readonly deliveryCount: number }
  | { readonly type: RecordType.Delivered; readonly id: number }
  /** Its payload is the unit's records, each whole, in order (the reader walks them). */
  | { readonly type: RecordType.AtomicUnit }
  | { readonly type: RecordType.Topic; readonly name: string }
  | { readonly type: RecordType.Subscription; readonly subscription: StoredSubscription }
  | { readonly type: RecordType.QueueDeleted; readonly name: string }
  | { readonly type: RecordType.Position; readonly id: number; readonly seq: number }
  | { readonly type: RecordType.RemoveMany | RecordType.DeliveredMany; readonly ids: readonly number[] };

function frame(type: RecordType, payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(RECORD_HEADER_BYTES + payload.length);
  out.writeUInt32LE(payload.length, 0);
  out.writeUInt8(type, 8);
  payload.copy(out, RECORD_HEADER_BYTES);
  out.writeUInt32LE(crc32(out.subarray(8)), 4);
  return out;
}

export function encodeQueue(name: string): Buffer {
  return frame(RecordType.Queue, Buffer.from(name, 'utf8'));
}

export function encodeTopic(name: string): Buffer {
  return frame(RecordType.Topic, Buffer.from(name, 'utf8'));
}

/**
 * A subscription record is rare (one per durable subscription and segment): JSON keeps it readable and
 * open to new fields. `selector` is written only when it has one, so records without read as before.
 */
export function encodeSubscription(subscription: StoredSubscription): Buffer {
  const { queue, topic, name, clientId, shared, selector } = subscription;
  const fields = selector === undefined || selector === null ? { queue, topic, name, clientId, shared } : { queue, topic, name, clientId, shared, selector };
  return frame(RecordType.Subscription, Buffer.from(JSON.stringify(fields), 'utf8'));
}

export function encodeQueueDeleted(name: string): Buffer {
  return frame(RecordType.QueueDeleted, Buffer.from(name, 'utf8'));
}

/** Bytes of a message record's head: the record header and every payload field before the body. */
export function messageHeadLength(fields: MessageRecordFields): number {
  const { meta } = fields;
  const groupBytes = meta.groupId === null ? 0 : 2 + Buffer.byteLength(meta.groupId, 'utf8');
  return RECORD_HEADER_BYTES + 8 + 8 + 4 + 1 + (meta.expiresAtMs !== null ? 8 : 0) + 2 + Buffer.byteLength(fields.queue, 'utf8') + groupBytes + 4;
}

/** Bytes of a message record's trailer: the optional fields after the body (0 for most messages). */
export function messageTrailerLength(fields: MessageRecordFields): number {
  const { meta } = fields;
  return (
    (fields.deadLetteredFrom === null ? 0 : 2 + Buffer.byteLength(fields.deadLetteredFrom, 'utf8')) +
    (meta.priority === undefined ? 0 : 1) +
    (meta.deliverAtMs === undefined || meta.deliverAtMs === null ? 0 : 8)
  );
}

/** Bytes of a whole message record with a body of `bodyLength`. */
export function messageRecordLength(fields: MessageRecordFields, bodyLength: number): number {
  return messageHeadLength(fields) + bodyLength + messageTrailerLength(fields);
}

/** Writes a message record's trailer (messageTrailerLength bytes) into `target` at `at`. */
export function writeMessageTrailer(target: Buffer, at: number, fields: MessageRecordFields): void {
  const { meta } = fields;
  if (fields.deadLetteredFrom !== null) at = writeShortString(target, at, fields.deadLetteredFrom);
  if (meta.priority !== undefined) at = target.writeUInt8(meta.priority, at);
  if (meta.deliverAtMs !== undefined && meta.deliverAtMs !== null) target.writeDoubleLE(meta.deliverAtMs, at);
}

/**
 * Writes a message record's head into `target` at `at` (messageHeadLength bytes) and its checksum,
 * which covers the body and the trailer written after it. Returns where the body goes.
 */
export function writeMessageHead(target: Buffer, at: number, fields: MessageRecordFields, body: Uint8Array, trailer: Uint8Array): number {
  const { meta } = fields;
  let flags = 0;
  if (meta.durable) flags |= FLAG_DURABLE;
  if (meta.closesGroup) flags |= FLAG_CLOSES_GROUP;
  if (meta.groupId !== null) flags |= FLAG_HAS_GROUP;
  if (meta.expiresAtMs !== null) flags |= FLAG_HAS_EXPIRY;
  if (fields.delivered) flags |= FLAG_DELIVERED;
  if (fields.deadLetteredFrom !== null) flags |= FLAG_DEAD_LETTERED_FROM;
  if (meta.priority !== undefined) flags |= FLAG_HAS_PRIORITY;
  if (meta.deliverAtMs !== undefined && meta.deliverAtMs !== null) flags |= FLAG_SCHEDULED;
  const start = at;
  at += RECORD_HEADER_BYTES;
  target[start + 8] = RecordType.Message;
  at = target.writeDoubleLE(fields.id, at);
  at = target.writeDoubleLE(fields.seq, at);
  at = target.writeUInt32LE(meta.deliveryCount, at);
  at = target.writeUInt8(flags, at);
  if (meta.expiresAtMs !== null) at = target.writeDoubleLE(meta.expiresAtMs, at);
  at = writeShortString(target, at, fields.queue);
  if (meta.groupId !== null) at = writeShortString(target, at, meta.groupId);
  at = target.writeUInt32LE(body.length, at);
  target.writeUInt32LE(at - start - RECORD_HEADER_BYTES + body.length + trailer.length, start);
  const crc = crc32(trailer, crc32(body, crc32(target.subarray(start + 8, at))));
  target.writeUInt32LE(crc, start + 4);
  return at;
}

/** A UTF-8 string after its 16-bit length. */
function writeShortString(target: Buffer, at: number, value: string): number {
  const length = target.write(value, at + 2, 'utf8');
  target.writeUInt16LE(length, at);
  return at + 2 + length;
}

/** A whole message record in one buffer (atomic units, compaction); the body's offset in it is returned too. */
export function encodeMessage(fields: MessageRecordFields, body: Uint8Array): { record: Buffer; bodyOffsetInRecord: number } {
  const record = Buffer.allocUnsafe(messageRecordLength(fields, body.length));
  const trailerAt = record.length - messageTrailerLength(fields);
  writeMessageTrailer(record, trailerAt, fields);
  const bodyOffsetInRecord = writeMessageHead(record, 0, fields, body, record.subarray(trailerAt));
  record.set(body, bodyOffsetInRecord);
  return { record, bodyOffsetInRecord };
}

/** A RemoveMany or DeliveredMany record: a count, then the ids. */
export function encodeIds(type: RecordType.RemoveMany | RecordType.DeliveredMany, ids: readonly number[]): Buffer {
  const payload = Buffer.allocUnsafe(4 + 8 * ids.length);
  let at = payload.writeUInt32LE(ids.length, 0);
  for (const id of ids) at = payload.writeDoubleLE(id, at);
  return frame(type, payload);
}

export function encodeDeliveryCount(id: number, deliveryCount: number): Buffer {
  const payload = Buffer.allocUnsafe(12);
  payload.writeDoubleLE(id, 0);
  payload.writeUInt32LE(deliveryCount, 8);
  return frame(RecordType.DeliveryCount, payload);
}

/**
 * An atomic unit: the given records, whole and in order, as the payload of one record. The unit's single
 * length and checksum make it intact or torn as a whole, so recovery applies all of its records or none
 * (a transaction's messages and removals, AMQP 1.0 4.4). Journals written before units existed hold none
 * and read as before.
 */
export function encodeAtomicUnit(records: readonly Buffer[], totalBytes: number): Buffer {
  return frame(RecordType.AtomicUnit, Buffer.concat(records, totalBytes));
}

export function encodePosition(id: number, seq: number): Buffer {
  const payload = Buffer.allocUnsafe(16);
  payload.writeDoubleLE(id, 0);
  payload.writeDoubleLE(seq, 8);
  return frame(RecordType.Position, payload);
}

export type ReadResult =
  | { readonly kind: 'record'; readonly record: DecodedRecord; readonly length: number; readonly payloadOffset: number }
  | { readonly kind: 'end' }
  | { readonly kind: 'torn'; readonly reason: string };

/** Reads the record at `offset`; `torn` means the bytes from here on are not a whole, intact record. */
export function readRecord(bytes: Buffer, offset: number): ReadResult {
  if (offset === bytes.length) return { kind: 'end' };
  if (bytes.length - offset < RECORD_HEADER_BYTES) return { kind: 'torn', reason: 'truncated record header' };
  const payloadLength = bytes.readUInt32LE(offset);
  const end = offset + RECORD_HEADER_BYTES + payloadLength;
  if (end > bytes.length) return { kind: 'torn', reason: `record of ${payloadLength} bytes runs past the end of the file` };
  if (crc32(bytes.subarray(offset + 8, end)) !== bytes.readUInt32LE(offset + 4)) return { kind: 'torn', reason: 'checksum mismatch' };
  const payloadOffset = offset + RECORD_HEADER_BYTES;
  const payload = bytes.subarray(payloadOffset, end);
  const type = bytes.readUInt8(offset + 8) as RecordType;
  let record: DecodedRecord;
  switch (type) {
    case RecordType.Queue:
      record = { type, name: payload.toString('utf8') };
      break;
    case RecordType.Message:
      record = { type, message: decodeMessage(payload) };
      break;
    case RecordType.Remove:
    case RecordType.Delivered:
      record = { type, id: payload.readDoubleLE(0) };
      break;
    case RecordType.DeliveryCount:
      record = { type, id: payload.readDoubleLE(0), deliveryCount: payload.readUInt32LE(8) };
      break;
    case RecordType.RemoveMany:
    case RecordType.DeliveredMany: {
      const ids = decodeIds(payload);
      if (ids === null) return { kind: 'torn', reason: 'a list of ids whose count does not match its length' };
      record = { type, ids };
      break;
    }
    case RecordType.AtomicUnit:
      record = { type };
      break;
    case RecordType.Topic:
    case RecordType.QueueDeleted:
      record = { type, name: payload.toString('utf8') };
      break;
    case RecordType.Subscription: {
      const subscription = decodeSubscription(payload);
      if (subscription === null) return { kind: 'torn', reason: 'a subscription record that does not describe a subscription' };
      record = { type, subscription };
      break;
    }
    case RecordType.Position:
      record = { type, id: payload.readDoubleLE(0), seq: payload.readDoubleLE(8) };
      break;
    default:
      return { kind: 'torn', reason: `unknown record type ${type as number}` };
  }
  return { kind: 'record', record, length: end - offset, payloadOffset };
}

function decodeIds(payload: Buffer): number[] | null {
  if (payload.length < 4 || payload.length !== 4 + 8 * payload.readUInt32LE(0)) return null;
  const ids: number[] = [];
  for (let at = 4; at < payload.length; at += 8) ids.push(payload.readDoubleLE(at));
  return ids;
}

function decodeSubscription(payload: Buffer): StoredSubscription | null {
  let value: unknown;
  try {
    value = JSON.parse(payload.toString('utf8'));
  } catch {
    return null;
  }
  const fields = value as Record<string, unknown>;
  if (typeof value !== 'object' || value === null) return null;
  const { queue, topic, name, clientId, shared, selector } = fields;
  if (typeof queue !== 'string' || typeof topic !== 'string' || typeof name !== 'string' || typeof shared !== 'boolean') return null;
  if (clientId !== null && typeof clientId !== 'string') return null;
  if (selector !== undefined && typeof selector !== 'string') return null;
  return selector === undefined ? { queue, topic, name, clientId, shared } : { queue, topic, name, clientId, shared, selector };
}

function decodeMessage(payload: Buffer): MessageRecord {
  let at = 0;
  const id = payload.readDoubleLE(at);
  at += 8;
  const seq = payload.readDoubleLE(at);
  at += 8;
  const deliveryCount = payload.readUInt32LE(at);
  at += 4;
  const flags = payload.readUInt8(at);
  at += 1;
  let expiresAtMs: number | null = null;
  if (flags & FLAG_HAS_EXPIRY) {
    expiresAtMs = payload.readDoubleLE(at);
    at += 8;
  }
  const queueLength = payload.readUInt16LE(at);
  at += 2;
  const queue = payload.toString('utf8', at, at + queueLength);
  at += queueLength;
  let groupId: string | null = null;
  if (flags & FLAG_HAS_GROUP) {
    const groupLength = payload.readUInt16LE(at);
    at += 2;
    groupId = payload.toString('utf8', at, at + groupLength);
    at += groupLength;
  }
  const bodyLength = payload.readUInt32LE(at);
  at += 4;
  const bodyOffset = at;
  at += bodyLength;
  let deadLetteredFrom: string | null = null;
  if (flags & FLAG_DEAD_LETTERED_FROM) {
    const originLength = payload.readUInt16LE(at);
    deadLetteredFrom = payload.toString('utf8', at + 2, at + 2 + originLength);
    at += 2 + originLength;
  }
  let priority: number | undefined;
  if (flags & FLAG_HAS_PRIORITY) {
    priority = payload.readUInt8(at);
    at += 1;
  }
  const deliverAtMs = flags & FLAG_SCHEDULED ? payload.readDoubleLE(at) : null;
  return {
    id,
    seq,
    queue,
    meta: {
      groupId,
      closesGroup: (flags & FLAG_CLOSES_GROUP) !== 0,
      expiresAtMs,
      deliveryCount,
      durable: (flags & FLAG_DURABLE) !== 0,
      ...(priority === undefined ? {} : { priority }),
      deliverAtMs,
    },
    delivered: (flags & FLAG_DELIVERED) !== 0,
    deadLetteredFrom,
    bodyOffset,
    bodyLength,
  };
}
