import { messageHeadLength, messageTrailerLength, writeMessageHead, writeMessageTrailer, type MessageRecordFields } from './record-codec';

/** Record heads and small records are encoded into a slab of this size; it is reused after every write. */
const SLAB_BYTES = 256 * 1024;

/**
 * The records recorded since the journal's last write, as the parts one writev hands the kernel: small
 * records and the heads of message records are encoded one after the other into a slab, and each
 * message body is a part of its own, the bytes the producer sent, never copied. A write takes every
 * part; the slab is then reused from its start (the kernel has copied what it held), so recording a
 * message allocates nothing but what its record needs in the journal's index.
 */
export class PendingRecords {
  private slab = Buffer.allocUnsafe(SLAB_BYTES);
  /** End of what the slab holds. */
  private used = 0;
  /** Start of the slab's bytes not yet in `parts`. */
  private regionStart = 0;
  private parts: Uint8Array[] = [];
  /** Bytes recorded and not yet written. */
  bytes = 0;

  /** A record encoded elsewhere, written as it is. */
  addRecord(record: Buffer): void {
    this.seal();
    this.parts.push(record);
    this.bytes += record.length;
  }

  /** A message record; returns the offset of its body from the start of what is pending. */
  addMessage(fields: MessageRecordFields, body: Uint8Array): number {
    const headLength = messageHeadLength(fields);
    const trailerLength = messageTrailerLength(fields);
    const bodyOffset = this.bytes + headLength;
    // Head and trailer sit next to each other in the slab; the body goes between them in the write.
    const at = this.reserve(headLength + trailerLength);
    const trailerAt = at + headLength;
    writeMessageTrailer(this.slab, trailerAt, fields);
    writeMessageHead(this.slab, at, fields, body, this.slab.subarray(trailerAt, trailerAt + trailerLength));
    this.parts.push(this.slab.subarray(this.regionStart, trailerAt));
    this.regionStart = trailerAt;
    this.parts.push(body);
    this.bytes += body.length;
    return bodyOffset;
  }

  /** Hands every part, in order, to `write` (one writev), and empties the buffer. */
  writeWith(write: (parts: readonly Uint8Array[], length: number) => void): void {
    if (this.bytes === 0) return;
    this.seal();
    const parts = this.parts;
    const length = this.bytes;
    this.parts = [];
    this.bytes = 0;
    write(parts, length);
    this.used = 0;
    this.regionStart = 0;
  }

  /** The slab offset where `length` more bytes go; counted as pending from here on. */
  private reserve(length: number): number {
    if (this.used + length > this.slab.length) {
      this.seal();
      this.slab = Buffer.allocUnsafe(Math.max(SLAB_BYTES, length));
      this.used = 0;
      this.regionStart = 0;
    }
    const at = this.used;
    this.used += length;
    this.bytes += length;
    return at;
  }

  /** What the slab holds so far becomes a part, before anything added later. */
  private seal(): void {
    if (this.used === this.regionStart) return;
    this.parts.push(this.slab.subarray(this.regionStart, this.used));
    this.regionStart = this.used;
  }
}
