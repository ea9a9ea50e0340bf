import type { TransferFrame } from './internals';

/** rhea's AMQP transport (transport.js): reads whole frames from a chunk and dispatches them. */
export interface ReadingTransport {
  header_received?: unknown;
  read_complete: boolean;
  read(buffer: Buffer): number;
}

interface TransferHandler {
  on_transfer(frame: TransferFrame): void;
}

const FRAME_TYPE_AMQP = 0x00;
const TRANSFER_DESCRIPTOR = 0x14;
/** Index of the transfer's `state` field (AMQP 1.0 2.7.5): a delivery state is left to rhea to decode. */
const STATE_FIELD = 7;
const TRANSFER_FIELDS = ['handle', 'delivery_id', 'delivery_tag', 'message_format', 'settled', 'more', 'rcv_settle_mode', 'state', 'resume', 'aborted', 'batchable'] as const;

/**
 * Transfer frames are most of what a producer sends; rhea decodes each into typed wrappers and a
 * composite with getters. Here a transfer frame whose fields all have the plain encodings (uints,
 * booleans, a binary tag, no delivery state) is decoded directly into an object with the same field
 * names and values rhea's getters return, and handed to the same handler. Every other frame, and any
 * transfer with something unusual in it, goes through rhea's own reader unchanged.
 */
export function decodeTransfersDirectly(transport: ReadingTransport, handler: TransferHandler): void {
  const read = transport.read.bind(transport);
  transport.read = (buffer: Buffer): number => {
    if (!transport.header_received) return read(buffer); // the protocol header (AMQP 1.0 2.2) comes first
    let offset = 0;
    while (offset < buffer.length - 4 && !transport.read_complete) {
      const frameSize = buffer.readUInt32BE(offset);
      if (buffer.length < offset + frameSize) break;
      const frame = buffer.subarray(offset, offset + frameSize);
      const transfer = frameSize >= 8 ? decodeTransfer(frame) : null;
      if (transfer) handler.on_transfer(transfer);
      else if (read(frame) !== frameSize) break;
      offset += frameSize;
    }
    return offset;
  };
}

/** A transfer frame (AMQP 1.0 2.3.2, 2.7.5) in its plain encodings, or null to leave it to rhea. */
export function decodeTransfer(frame: Buffer): TransferFrame | null {
  const dataOffset = frame[4]! * 4;
  if (frame[5] !== FRAME_TYPE_AMQP || dataOffset < 8 || frame.length < dataOffset + 4) return null;
  let at = dataOffset;
  if (frame[at] !== 0x00 || frame[at + 1] !== 0x53 || frame[at + 2] !== TRANSFER_DESCRIPTOR) return null;
  at += 3;
  let count: number;
  let listEnd: number;
  const listCode = frame[at];
  if (listCode === 0xc0) {
    if (at + 3 > frame.length) return null;
    listEnd = at + 2 + frame[at + 1]!;
    count = frame[at + 2]!;
    at += 3;
  } else if (listCode === 0xd0) {
    if (at + 9 > frame.length) return null;
    listEnd = at + 5 + frame.readUInt32BE(at + 1);
    count = frame.readUInt32BE(at + 5);
    at += 9;
  } else {
    return null;
  }
  if (listEnd > frame.length || count === 0 || count > TRANSFER_FIELDS.length) return null;
  const performative: Record<string, unknown> = {};
  for (let index = 0; index < count; index++) {
    if (at >= listEnd) return null;
    const code = frame[at]!;
    let value: unknown;
    if (code === 0x40) {
      value = null;
      at += 1;
    } else if (index === STATE_FIELD) {
      return null;
    } else if (code === 0x41 || code === 0x42) {
      value = code === 0x41;
      at += 1;
    } else if (code === 0x56) {
      value = frame[at + 1] !== 0;
      at += 2;
    } else if (code === 0x43) {
      value = 0;
      at += 1;
    } else if (code === 0x52 || code === 0x50) {
      value = frame[at + 1];
      at += 2;
    } else if (code === 0x70) {
      if (at + 5 > listEnd) return null;
      value = frame.readUInt32BE(at + 1);
      at += 5;
    } else if (code === 0xa0) {
      const end = at + 2 + frame[at + 1]!;
      if (end > listEnd) return null;
      value = frame.subarray(at + 2, end);
      at = end;
    } else {
      return null;
    }
    performative[TRANSFER_FIELDS[index]!] = value;
  }
  if (at !== listEnd || at > frame.length) return null;
  const payload = at < frame.length ? frame.subarray(at) : undefined;
  return { channel: frame.readUInt16BE(6), performative: performative as TransferFrame['performative'], payload };
}
