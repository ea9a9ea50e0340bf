import { crc32 } from 'node:zlib';
import type { MessageMeta } from '../core/types';

/**
 * Journal records: [u32 payload length][u32 crc32 of type+payload][u8 type][payload], little-endian.
 * A record whose length runs past the end of the file, or whose checksum does not match, marks the point
 * where a crash cut the journal.
 */
export const RECORD_HEADER_BYTES = 9;

export const enum RecordType {
  Queue = 1,
  Message = 2,
  Remove = 3,
  DeliveryCount = 4,
  Delivered = 5,
  /** The queue was deleted with its messages (each removed by its own Remove record before this one). */
  QueueDeleted = 6,
}

const FLAG_DURABLE = 1;
const FLAG_CLOSES_GROUP = 2;
const FLAG_HAS_GROUP = 4;
const FLAG_HAS_EXPIRY = 8;
const FLAG_DELIVERED = 16;

export interface MessageRecord {
  readonly id: number;
  readonly seq: number;
  readonly queue: string;
  readonly meta: MessageMeta;
  /** Delivered since delivery-count was last recorded (compaction carries this over). */
  readonly delivered: boolean;
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
  | { readonly type: RecordType.QueueDeleted; readonly name: string };

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
): { record: Buffer; bodyOffsetInRecord: number } {
  const queueBytes = Buffer.from(queue, 'utf8');
  const groupBytes = meta.groupId === null ? null : Buffer.from(meta.groupId, 'utf8');
  let flags = 0;
  if (meta.durable) flags |= FLAG_DURABLE;
  if (meta.closesGroup) flags |= FLAG_CLOSES_GROUP;
  if (groupBytes) flags |= FLAG_HAS_GROUP;
  if (meta.expiresAtMs !== null) flags |= FLAG_HAS_EXPIRY;
  if (delivered) flags |= FLAG_DELIVERED;
  const fixed = 8 + 8 + 4 + 1 + (meta.expiresAtMs !== null ? 8 : 0) + 2 + queueBytes.length + (groupBytes ? 2 + groupBytes.length : 0) + 4;
  const payload = Buffer.allocUnsafe(fixed + body.length);
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
  return { record: frame(RecordType.Message, payload), bodyOffsetInRecord: RECORD_HEADER_BYTES + at };
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
    case RecordType.QueueDeleted:
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
    default:
      return { kind: 'torn', reason: `unknown record type ${type as number}` };
  }
  return { kind: 'record', record, length: end - offset, payloadOffset };
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
    },
    delivered: (flags & FLAG_DELIVERED) !== 0,
    bodyOffset: at,
    bodyLength,
  };
}
