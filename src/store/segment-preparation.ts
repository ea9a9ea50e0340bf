import { randomBytes } from 'node:crypto';
import { close, closeSync, fdatasync, open, readdirSync, unlink, unlinkSync, write } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from 'pino';
import { SEGMENT_HEADER_BYTES, segmentHeader } from './segment-file';

/**
 * Prepared files end in this, never a segment's name (segmentNumberOf does not match): recovery never
 * reads one. Each store names its own, so that one closing while another opens the same data dir does
 * not remove the other's.
 */
const PREPARED_SUFFIX = '.prepared';
const ZEROS = Buffer.alloc(1024 * 1024);

const openFile = promisify(open);
const writeFile = promisify(write);
const syncFile = promisify(fdatasync);
const closeFile = promisify(close);
const unlinkFile = promisify(unlink);

/** A prepared file, ready to be renamed to a segment's name. */
export interface PreparedFile {
  readonly path: string;
  readonly fd: number;
}

/**
 * The next segment's file, made while the active segment fills: the segment header, then zeros up to
 * segmentBytes, written and fdatasynced before it is used. Records then overwrite blocks the file
 * already has, and a group commit's fdatasync writes data only. A file that grows with every write
 * instead makes each fdatasync also commit its new size through the filesystem's journal: 3–4 times
 * the cost on the disk measured (interop/bench/store/RESULTS.md, `fsync-append.mjs`). Recovery reads
 * the zeros after the last record as the end of the segment (journal-store.ts).
 *
 * The file is written off the event loop (asynchronous fs calls) once the active segment is half
 * full, so an idle broker prepares nothing, and is renamed to its segment's name when the active one
 * rolls over. A roll that comes before it is ready starts a segment that grows as it is written, as
 * every segment did before; so does the first segment of a data dir.
 */
export class SegmentPreparation {
  private state: 'idle' | 'preparing' | 'ready' = 'idle';
  private fd: number | null = null;
  private path = '';
  private closed = false;

  constructor(
    private readonly dir: string,
    private readonly segmentBytes: number,
    private readonly logger: Logger,
  ) {}

  /** A broker that stopped while preparing left its file behind, maybe half written: it goes. */
  removeLeftovers(): void {
    for (const name of readdirSync(this.dir)) if (name.endsWith(PREPARED_SUFFIX)) unlinkSync(join(this.dir, name));
  }

  /** Starts preparing the next segment's file, unless one is being prepared or is ready. */
  start(): void {
    if (this.state !== 'idle' || this.closed) return;
    this.state = 'preparing';
    this.prepare().catch((error: unknown) => {
      this.logger.warn({ err: error }, 'could not prepare the next journal segment; it will grow as it is written');
      this.state = 'idle';
      this.discard();
    });
  }

  /** The prepared file, if it is ready; it is the caller's from then on. */
  take(): PreparedFile | null {
    if (this.state !== 'ready' || this.fd === null) return null;
    const prepared = { path: this.path, fd: this.fd };
    this.fd = null;
    this.state = 'idle';
    return prepared;
  }

  /** The store is closing: a prepared file is removed, one being prepared is removed when its last write ends. */
  close(): void {
    this.closed = true;
    if (this.state !== 'ready' || this.fd === null) return;
    closeSync(this.fd);
    unlinkSync(this.path);
    this.fd = null;
  }

  private async prepare(): Promise<void> {
    this.path = join(this.dir, `next-segment-${randomBytes(6).toString('hex')}${PREPARED_SUFFIX}`);
    this.fd = await openFile(this.path, 'wx+');
    await writeFile(this.fd, segmentHeader(), 0, SEGMENT_HEADER_BYTES, 0);
    for (let at = SEGMENT_HEADER_BYTES; at < this.segmentBytes && !this.closed; at += ZEROS.length) {
      await writeFile(this.fd, ZEROS, 0, Math.min(ZEROS.length, this.segmentBytes - at), at);
    }
    if (!this.closed) await syncFile(this.fd);
    if (this.closed) {
      this.discard();
      return;
    }
    this.state = 'ready';
    this.logger.debug({ file: this.path, bytes: this.segmentBytes }, 'next journal segment prepared');
  }

  /** Closes and removes the file (in the background: nothing waits for it). */
  private discard(): void {
    const fd = this.fd;
    this.fd = null;
    const path = this.path;
    void (async () => {
      if (fd !== null) await closeFile(fd).catch(() => undefined);
      await unlinkFile(path).catch(() => undefined);
    })();
  }
}
