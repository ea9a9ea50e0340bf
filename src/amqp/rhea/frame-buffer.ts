import { rheaValueWriter, type RheaValueWriter } from './internals';

const FRAME_HEADER_BYTES = 8;
const DATA_OFFSET_WORDS = 2; // doff: the frame body starts 8 bytes in (AMQP 1.0 2.3.1)
const FRAME_TYPE_AMQP = 0x00;
/**
 * Frames are written into slabs of this size; each flush hands the socket the slab's part written
 * since the last flush and carries on behind it. One allocation serves many flushes: a fresh buffer
 * per flush is external memory V8 counts, and at thousands of flushes a second it triggered a full
 * mark-compact every few tens of milliseconds (seen with --trace-gc at 31 000 msg/s). A full slab is
 * left as it is (what it holds goes out as it is) and the next frame starts a new one: nothing encoded
 * is copied again.
 */
const SLAB_BYTES = 256 * 1024;
/**
 * A transfer payload this large is handed to the socket as it is, after its frame's header, instead of
 * being copied into the slab: the socket writes both in one writev. Below it, the copy costs less than
 * the socket's handling of one more chunk.
 */
const PAYLOAD_BY_REFERENCE_BYTES = 8 * 1024;
/** Room made before rhea encodes a performative of unknown size; rhea's writer grows it if needed. */
const PERFORMATIVE_RESERVE_BYTES = 1024;

const TRANSFER_FIELD_COUNT = 6;
/** Descriptor, list32 size and count, two uints, tag length prefix, message-format, settled, more. */
const TRANSFER_MAX_FIXED_BYTES = 3 + 9 + 5 + 5 + 2 + 5 + 1 + 1;

export interface TransferFields {
  readonly handle: number;
  readonly deliveryId: number;
  readonly deliveryTag: Buffer;
  readonly messageFormat: number;
  readonly settled: boolean;
  readonly more: boolean;
}

/** A uint in its smallest encoding, as rhea writes it (AMQP 1.0 1.6.4: uint0, smalluint, uint). */
function writeUint(buffer: Buffer, at: number, value: number): number {
  if (value === 0) {
    buffer[at] = 0x43;
    return at + 1;
  }
  if (value < 256) {
    buffer[at] = 0x52;
    buffer[at + 1] = value;
    return at + 2;
  }
  buffer[at] = 0x70;
  buffer.writeUInt32BE(value, at + 1);
  return at + 5;
}

/**
 * AMQP frames (AMQP 1.0 2.3) encoded one after the other into one buffer, to be written to the socket
 * in one call. A frame is encoded when rhea queues it, as rhea's own transport would have to be safe:
 * rhea changes some performatives right after queueing them (a close's error is cleared).
 * rhea's transport allocates a zeroed 1 KiB buffer per frame; here frames share slabs.
 */
export class FrameBuffer {
  private writer: RheaValueWriter = rheaValueWriter(Buffer.allocUnsafe(SLAB_BYTES));
  /** Start of what the current slab holds that has not been handed to the socket yet. */
  private regionStart = 0;
  /** What goes to the socket before that region, in order: parts of earlier slabs, large payloads. */
  private sealed: Buffer[] = [];
  private failure: Error | null = null;

  get isEmpty(): boolean {
    return this.sealed.length === 0 && this.writer.position === this.regionStart && this.failure === null;
  }

  /** Ends the current slab's region: what it holds so far goes out as it is, before anything appended later. */
  private seal(): void {
    const writer = this.writer;
    if (writer.position === this.regionStart) return;
    this.sealed.push(writer.buffer.subarray(this.regionStart, writer.position));
    this.regionStart = writer.position;
  }

  /**
   * Makes room for `bytes` more. Bytes already encoded are never written again: when the slab is full,
   * its region is sealed and a new slab started.
   */
  private reserve(bytes: number): void {
    const writer = this.writer;
    if (writer.position + bytes <= writer.buffer.length) return;
    this.seal();
    writer.buffer = Buffer.allocUnsafe(Math.max(SLAB_BYTES, bytes));
    writer.position = 0;
    this.regionStart = 0;
  }

  /** Encodes one frame: size, doff, type, channel, then the performative and its payload (2.3.2). */
  append(channel: number, performative: unknown, payload: Buffer | undefined): void {
    if (this.failure !== null) return;
    this.reserve(FRAME_HEADER_BYTES + PERFORMATIVE_RESERVE_BYTES + (payload?.length ?? 0));
    const writer = this.writer;
    const start = writer.position;
    try {
      writer.buffer[start + 4] = DATA_OFFSET_WORDS;
      writer.buffer[start + 5] = FRAME_TYPE_AMQP;
      writer.buffer.writeUInt16BE(channel, start + 6);
      writer.position = start + FRAME_HEADER_BYTES;
      if (performative) {
        writer.write(performative);
        if (payload) writer.write_bytes(payload);
      }
      writer.buffer.writeUInt32BE(writer.position - start, start);
    } catch (error) {
      // As in rhea, a frame that cannot be encoded fails the connection when it is written; the frames
      // before it still go out.
      writer.position = start;
      this.failure = error as Error;
    }
  }

  /**
   * Encodes a transfer frame (AMQP 1.0 2.7.5) without building rhea's performative object: the same
   * bytes rhea writes (list32 of handle, delivery-id, delivery-tag, message-format, settled, more).
   */
  appendTransfer(channel: number, transfer: TransferFields, payload: Buffer): void {
    if (this.failure !== null) return;
    const tag = transfer.deliveryTag;
    const byReference = payload.length >= PAYLOAD_BY_REFERENCE_BYTES;
    this.reserve(FRAME_HEADER_BYTES + TRANSFER_MAX_FIXED_BYTES + tag.length + (byReference ? 0 : payload.length));
    const writer = this.writer;
    const start = writer.position;
    const buffer = writer.buffer;
    buffer[start + 4] = DATA_OFFSET_WORDS;
    buffer[start + 5] = FRAME_TYPE_AMQP;
    buffer.writeUInt16BE(channel, start + 6);
    let at = start + FRAME_HEADER_BYTES;
    buffer[at++] = 0x00; // described: smallulong descriptor 0x14 transfer
    buffer[at++] = 0x53;
    buffer[at++] = 0x14;
    buffer[at++] = 0xd0; // list32: size and count follow
    const sizeAt = at;
    at += 4;
    buffer.writeUInt32BE(TRANSFER_FIELD_COUNT, at);
    at += 4;
    at = writeUint(buffer, at, transfer.handle);
    at = writeUint(buffer, at, transfer.deliveryId);
    buffer[at++] = 0xa0; // vbin8: a delivery-tag is at most 32 bytes (2.8.7)
    buffer[at++] = tag.length;
    at += tag.copy(buffer, at);
    at = writeUint(buffer, at, transfer.messageFormat);
    buffer[at++] = transfer.settled ? 0x41 : 0x42;
    buffer[at++] = transfer.more ? 0x41 : 0x42;
    buffer.writeUInt32BE(at - sizeAt - 4, sizeAt);
    if (byReference) {
      buffer.writeUInt32BE(at - start + payload.length, start);
      writer.position = at;
      this.seal();
      this.sealed.push(payload);
      return;
    }
    at += payload.copy(buffer, at);
    buffer.writeUInt32BE(at - start, start);
    writer.position = at;
  }

  /**
   * Hands everything encoded since the last call to the socket, in order (one write per slab region and
   * per large payload: the caller corks the socket, so they leave in one writev); then throws the error
   * of a frame that could not be encoded, if any.
   */
  writeTo(socket: { write(bytes: Buffer): unknown }): void {
    const failure = this.failure;
    this.failure = null;
    // The socket may hold on to these bytes until the kernel takes them: they are never written again.
    this.seal();
    const chunks = this.sealed;
    this.sealed = [];
    for (const chunk of chunks) socket.write(chunk);
    if (failure !== null) throw failure;
  }
}
