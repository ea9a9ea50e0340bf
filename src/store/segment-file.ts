import { closeSync, fdatasync, fdatasyncSync, openSync, readSync, writeSync, fstatSync } from 'node:fs';
import { join } from 'node:path';
import { StoreError } from './types';

/** Every segment starts with this header; a file without it is not ours, and is never written to. */
const MAGIC = Buffer.from('CONVOYJ1', 'latin1');
export const SEGMENT_HEADER_BYTES = 16;
const FORMAT_VERSION = 1;

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

/** Checks a segment's header; a foreign or newer format stops the start instead of being overwritten. */
export function checkSegmentHeader(bytes: Buffer, path: string): void {
  if (bytes.length < SEGMENT_HEADER_BYTES || !bytes.subarray(0, 8).equals(MAGIC)) {
    throw new StoreError(`${path} is not a Convoy journal segment; refusing to start so as not to overwrite it`);
  }
  const version = bytes.readUInt32LE(8);
  if (version !== FORMAT_VERSION) {
    throw new StoreError(`${path} has journal format ${version}; this Convoy reads format ${FORMAT_VERSION}`);
  }
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
    public size: number,
  ) {}

  static create(dir: string, number: number): Segment {
    const path = join(dir, segmentFileName(number));
    const fd = openSync(path, 'wx+');
    writeSync(fd, segmentHeader(), 0, SEGMENT_HEADER_BYTES, 0);
    return new Segment(number, path, fd, SEGMENT_HEADER_BYTES);
  }

  static openExisting(dir: string, number: number): Segment {
    const path = join(dir, segmentFileName(number));
    const fd = openSync(path, 'r+');
    return new Segment(number, path, fd, fstatSync(fd).size);
  }

  append(bytes: Buffer): number {
    const at = this.size;
    let written = 0;
    while (written < bytes.length) written += writeSync(this.fd, bytes, written, bytes.length - written, at + written);
    this.size += bytes.length;
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
