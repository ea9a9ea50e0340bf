import { closeSync, fdatasync, fdatasyncSync, fstatSync, openSync, readSync, renameSync, writeSync, writevSync } from 'node:fs';
import { join } from 'node:path';
import { StoreError } from './types';

/** Every segment starts with this header; a file without it is not ours, and is never written to. */
const MAGIC = Buffer.from('CONVOYJ1', 'latin1');
export const SEGMENT_HEADER_BYTES = 16;
/**
 * Format 2 writes removals and delivery marks as lists of ids (record-codec.ts), and its segment files
 * may be preallocated: zeros after the last record (segment-preparation.ts). A broker that reads only
 * format 1 refuses such a segment instead of taking its unknown records for a torn tail. Format 1
 * segments are read, and never appended to.
 */
export const FORMAT_VERSION = 2;
const READABLE_FORMATS: readonly number[] = [1, 2];

export function segmentFileName(number: number): string {
  return `segment-${String(number).padStart(8, '0')}.journal`;
}

export function segmentNumberOf(fileName: string): number | null {
  const match = /^segment-(\d{8})\.journal$/.exec(fileName);
  return match ? Number(match[1]) : null;
}

export function segmentHeader(): Buffer {
  const header = Buffer.alloc(SEGMENT_HEADER_BYTES);
  MAGIC.copy(header, 0);
  header.writeUInt32LE(FORMAT_VERSION, 8);
  return header;
}

/** Checks a segment's header and returns its format; a foreign or newer format stops the start instead of being overwritten. */
export function checkSegmentHeader(bytes: Buffer, path: string): number {
  if (bytes.length < SEGMENT_HEADER_BYTES || !bytes.subarray(0, 8).equals(MAGIC)) {
    throw new StoreError(`${path} is not a Convoy journal segment; refusing to start so as not to overwrite it`);
  }
  const version = bytes.readUInt32LE(8);
  if (!READABLE_FORMATS.includes(version)) {
    throw new StoreError(`${path} has journal format ${version}; this Convoy reads formats ${READABLE_FORMATS.join(' and ')}`);
  }
  return version;
}

const ZERO_CHUNK = Buffer.alloc(64 * 1024);

/** True when `bytes` holds nothing but zeros from `from` on: the unused, preallocated end of a segment. */
export function onlyZerosFrom(bytes: Buffer, from: number): boolean {
  for (let at = from; at < bytes.length; at += ZERO_CHUNK.length) {
    const end = Math.min(at + ZERO_CHUNK.length, bytes.length);
    if (!bytes.subarray(at, end).equals(ZERO_CHUNK.subarray(0, end - at))) return false;
  }
  return true;
}

/** An open segment: appended to at the end, read from anywhere (paged bodies, compaction). */
export class Segment {
  /** Message records in this segment that are still live (not removed). */
  live = 0;
  /** Message records ever written to this segment. */
  messages = 0;
  /**
   * Older segments holding messages that records in this one (removals, delivery counts) refer to.
   * This segment must outlive them: deleting it first would bring their removed messages back.
   */
  readonly refersTo = new Set<Segment>();

  private constructor(
    readonly number: number,
    readonly path: string,
    readonly fd: number,
    /** Where the next record goes: the end of the records, not of the file (which may be preallocated). */
    public size: number,
    /** The format of its header; records are appended to the current format only. */
    public format: number,
  ) {}

  /** A new segment whose file grows as records are written. */
  static create(dir: string, number: number): Segment {
    const path = join(dir, segmentFileName(number));
    const fd = openSync(path, 'wx+');
    writeSync(fd, segmentHeader(), 0, SEGMENT_HEADER_BYTES, 0);
    return new Segment(number, path, fd, SEGMENT_HEADER_BYTES, FORMAT_VERSION);
  }

  /** A new segment in a prepared file (segment-preparation.ts: header, then zeros), renamed to its name. */
  static adopt(dir: string, number: number, prepared: { readonly path: string; readonly fd: number }): Segment {
    const path = join(dir, segmentFileName(number));
    renameSync(prepared.path, path);
    return new Segment(number, path, prepared.fd, SEGMENT_HEADER_BYTES, FORMAT_VERSION);
  }

  /** An existing segment; its size and format are set when it is replayed. */
  static openExisting(dir: string, number: number): Segment {
    const path = join(dir, segmentFileName(number));
    const fd = openSync(path, 'r+');
    return new Segment(number, path, fd, fstatSync(fd).size, FORMAT_VERSION);
  }

  /** Writes the parts one after the other at the end of the records, in one writev; returns where they start. */
  append(parts: readonly Uint8Array[], length: number): number {
    const at = this.size;
    const written = writevSync(this.fd, parts as Uint8Array[], at);
    if (written !== length) throw new StoreError(`${this.path}: wrote ${written} of ${length} bytes at ${at}`);
    this.size += length;
    return at;
  }

  /** A buffer of its own: a slice of Node's shared pool would keep the whole pool slab alive with it. */
  read(position: number, length: number): Buffer {
    const out = Buffer.allocUnsafeSlow(length);
    let done = 0;
    while (done < length) {
      const n = readSync(this.fd, out, done, length - done, position + done);
      if (n === 0) throw new StoreError(`${this.path}: unexpected end of file at ${position + done}`);
      done += n;
    }
    return out;
  }

  syncNow(): void {
    fdatasyncSync(this.fd);
  }

  sync(callback: (error: NodeJS.ErrnoException | null) => void): void {
    fdatasync(this.fd, callback);
  }

  close(): void {
    closeSync(this.fd);
  }
}
