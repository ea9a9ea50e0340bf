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
 */
export const RECORD_HEADER_BYTES = 9;

export const enum RecordType {
  Queue = 1,
  Message = 2,
  Remove = 3,
  DeliveryCount = 4,
  Delivered = 5,
  /** Records that count only together (a committed transaction): see encodeAtomicUnit. */
  AtomicUnit = 6,
  Topic = 7,
  Subscription = 8,
  QueueDeleted = 9,
  /** A scheduled message entered its queue at a position (delayed delivery). */
  Position = 10,
}

const FLAG_DURABLE = 1;
const FLAG_CLOSES_GROUP = 2;
const FLAG_HAS_GROUP = 4;
const FLAG_HAS_EXPIRY = 8;
const FLAG_DELIVERED = 16;
const FLAG_DEAD_LETTERED_FROM = 32;
const FLAG_HAS_PRIORITY = 64;
const FLAG_SCHEDULED = 128;

export interface MessageRecord {
  readonly id: number;
  readonly seq: number;
  readonly queue: string;
  readonly meta: MessageMeta;
  /** Delivered since delivery-count was last recorded (compaction carries this over). */
  readonly delivered: boolean;
  /** The queue a dead-letter queue's message came from; null for other messages and older records. */
  readonly deadLetteredFrom: string | null;
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

  | { readonly type: RecordType.Position; readonly id: number; readonly seq: number };

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

/** A subscription record is rare (one per durable subscription and segment): JSON keeps it readable and open to new fields. */
/** A subscription as JSON; `selector` is written only when it has one, so records without read as before. */
export function encodeSubscription(subscription: StoredSubscription): Buffer {
  const { queue, topic, name, clientId, shared, selector } = subscription;
  const fields = selector === undefined || selector === null ? { queue, topic, name, clientId, shared } : { queue, topic, name, clientId, shared, selector };
  return frame(RecordType.Subscription, Buffer.from(JSON.stringify(fields), 'utf8'));
}

export function encodeQueueDeleted(name: string): Buffer {
  return frame(RecordType.QueueDeleted, Buffer.from(name, 'utf8'));
}

/** The body's offset inside the encoded record is returned so paged bodies can be read back directly. */
export function encodeMessage(
  id: number,
  seq: number,
  queue: string,
  meta: MessageMeta,
  delivered: boolean,
  body: Uint8Array,
  deadLetteredFrom: string | null,
): { record: Buffer; bodyOffsetInRecord: number } {
  const queueBytes = Buffer.from(queue, 'utf8');
  const groupBytes = meta.groupId === null ? null : Buffer.from(meta.groupId, 'utf8');
  const originBytes = deadLetteredFrom === null ? null : Buffer.from(deadLetteredFrom, 'utf8');
  let flags = 0;
  if (meta.durable) flags |= FLAG_DURABLE;
  if (meta.closesGroup) flags |= FLAG_CLOSES_GROUP;
  if (groupBytes) flags |= FLAG_HAS_GROUP;
  if (meta.expiresAtMs !== null) flags |= FLAG_HAS_EXPIRY;
  if (delivered) flags |= FLAG_DELIVERED;
  if (originBytes) flags |= FLAG_DEAD_LETTERED_FROM;
  const priority = meta.priority ?? null;
  const deliverAtMs = meta.deliverAtMs ?? null;
  if (priority !== null) flags |= FLAG_HAS_PRIORITY;
  if (deliverAtMs !== null) flags |= FLAG_SCHEDULED;
  const fixed = 8 + 8 + 4 + 1 + (meta.expiresAtMs !== null ? 8 : 0) + 2 + queueBytes.length + (groupBytes ? 2 + groupBytes.length : 0) + 4;
  const trailing = (originBytes ? 2 + originBytes.length : 0) + (priority !== null ? 1 : 0) + (deliverAtMs !== null ? 8 : 0);
  const payload = Buffer.allocUnsafe(fixed + body.length + trailing);
  let at = 0;
  at = payload.writeDoubleLE(id, at);
  at = payload.writeDoubleLE(seq, at);
  at = payload.writeUInt32LE(meta.deliveryCount, at);
  at = payload.writeUInt8(flags, at);
  if (meta.expiresAtMs !== null) at = payload.writeDoubleLE(meta.expiresAtMs, at);
  at = payload.writeUInt16LE(queueBytes.length, at);
  at += queueBytes.copy(payload, at);
  if (groupBytes) {
    at = payload.writeUInt16LE(groupBytes.length, at);
    at += groupBytes.copy(payload, at);
  }
  at = payload.writeUInt32LE(body.length, at);
  payload.set(body, at);
  const bodyAt = at;
  at += body.length;
  if (originBytes) {
    at = payload.writeUInt16LE(originBytes.length, at);
    at += originBytes.copy(payload, at);
  }
  if (priority !== null) at = payload.writeUInt8(priority, at);
  if (deliverAtMs !== null) payload.writeDoubleLE(deliverAtMs, at);
  return { record: frame(RecordType.Message, payload), bodyOffsetInRecord: RECORD_HEADER_BYTES + bodyAt };
}

export function encodeRemove(id: number): Buffer {
  const payload = Buffer.allocUnsafe(8);
  payload.writeDoubleLE(id, 0);
  return frame(RecordType.Remove, payload);
}

export function encodeDeliveryCount(id: number, deliveryCount: number): Buffer {
  const payload = Buffer.allocUnsafe(12);
  payload.writeDoubleLE(id, 0);
  payload.writeUInt32LE(deliveryCount, 8);
  return frame(RecordType.DeliveryCount, payload);
}

export function encodeDelivered(id: number): Buffer {
  const payload = Buffer.allocUnsafe(8);
  payload.writeDoubleLE(id, 0);
  return frame(RecordType.Delivered, payload);
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
