import { createRequire } from 'node:module';
import net from 'node:net';
import { AMQP_HEADER, frame } from './amqp-frames';

/**
 * A raw AMQP 1.0 peer for the bad-input tests and the fuzzer. Frames are built byte by byte with
 * amqp-frames.ts, or with rhea's own encoder where any well-formed frame will do; what the broker answers
 * is read with rhea's decoder into named performatives, all of them kept, so a test can wait for the
 * first frame that matches (RawConnection in amqp-frames.ts reads strictly in order).
 */

const requireFromRhea = createRequire(require.resolve('rhea'));

export const rheaFrames = requireFromRhea('./frames.js') as {
  amqp_frame(channel: number, performative: unknown, payload?: Buffer): unknown;
  sasl_frame(performative: unknown): unknown;
  write_frame(frame: unknown): Buffer;
  read_frame(bytes: Buffer): { channel: number; type: number; performative?: ReceivedPerformative; payload?: Buffer };
  open(fields: Record<string, unknown>): unknown;
  begin(fields: Record<string, unknown>): unknown;
  attach(fields: Record<string, unknown>): unknown;
  flow(fields: Record<string, unknown>): unknown;
  transfer(fields: Record<string, unknown>): unknown;
  disposition(fields: Record<string, unknown>): unknown;
  detach(fields: Record<string, unknown>): unknown;
  end(fields: Record<string, unknown>): unknown;
  close(fields: Record<string, unknown>): unknown;
  sasl_init(fields: Record<string, unknown>): unknown;
};

const rheaTerminus = requireFromRhea('./terminus.js') as {
  source(fields: Record<string, unknown>): { described(): unknown };
  target(fields: Record<string, unknown>): { described(): unknown };
};

const rheaMessage = requireFromRhea('./message.js') as { unwrap_outcome(state: unknown): { constructor: { composite_type?: string }; error?: { condition?: string; description?: string } } };

/** A disposition's state as rhea's outcome object (composite_type, error...). */
export function outcomeOf(state: unknown): { constructor: { composite_type?: string }; error?: { condition?: string; description?: string } } {
  return rheaMessage.unwrap_outcome(state);
}

export interface ReceivedPerformative {
  constructor: { toString(): string };
  [field: string]: unknown;
}

/** A SASL frame (AMQP 1.0 5.3.1: frame type 1) carrying `body`. */
export function saslFrame(body: Buffer): Buffer {
  const bytes = frame(0, body);
  bytes[5] = 1;
  return bytes;
}

/** A well-formed frame encoded by rhea (AMQP layer). */
export function frameOf(channel: number, performative: unknown, payload?: Buffer): Buffer {
  return rheaFrames.write_frame(rheaFrames.amqp_frame(channel, performative, payload));
}

export const performatives = {
  open: (fields: Record<string, unknown> = {}) => rheaFrames.open({ container_id: 'raw-peer', ...fields }),
  begin: (fields: Record<string, unknown> = {}) => rheaFrames.begin({ next_outgoing_id: 0, incoming_window: 2048, outgoing_window: 2048, ...fields }),
  /** A receiving link of the client (the broker sends) on queue `address`. */
  attachReceiver: (name: string, handle: number, address: string) =>
    rheaFrames.attach({ name, handle, role: true, source: rheaTerminus.source({ address }).described(), target: rheaTerminus.target({}).described() }),
  /** A sending link of the client (the broker receives) to queue `address`. */
  attachSender: (name: string, handle: number, address: string) =>
    rheaFrames.attach({ name, handle, role: false, initial_delivery_count: 0, source: rheaTerminus.source({}).described(), target: rheaTerminus.target({ address }).described() }),
  flow: (fields: Record<string, unknown>) => rheaFrames.flow({ next_incoming_id: 0, incoming_window: 2048, next_outgoing_id: 0, outgoing_window: 2048, ...fields }),
  transfer: (fields: Record<string, unknown>) => rheaFrames.transfer(fields),
  disposition: (fields: Record<string, unknown>) => rheaFrames.disposition(fields),
  detach: (fields: Record<string, unknown>) => rheaFrames.detach(fields),
  end: () => rheaFrames.end({}),
  close: () => rheaFrames.close({}),
};

/** A message with one data section (AMQP 1.0 3.2.6), header durable as asked. */
export function encodedMessage(body: string, durable = false): Buffer {
  const header = durable ? Buffer.from([0x00, 0x53, 0x70, 0xc0, 0x02, 0x01, 0x41]) : Buffer.alloc(0);
  const data = Buffer.from(body, 'utf8');
  const section = Buffer.concat([Buffer.from([0x00, 0x53, 0x75, 0xb0]), Buffer.alloc(4), data]);
  section.writeUInt32BE(data.length, 4);
  return Buffer.concat([header, section]);
}

export interface ReceivedFrame {
  readonly channel: number;
  /** The performative's name (`open`, `close`, `sasl_outcome`...), or `empty` for a heartbeat. */
  readonly name: string;
  readonly performative?: ReceivedPerformative;
}

/** A socket speaking raw AMQP: writes what it is given, parses what comes back. */
export class RawPeer {
  readonly received: ReceivedFrame[] = [];
  readonly closed: Promise<void>;
  private pending = Buffer.alloc(0);
  private listeners: (() => void)[] = [];
  private constructor(private readonly socket: net.Socket) {
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      this.pending = Buffer.concat([this.pending, chunk]);
      this.parse();
      for (const listener of this.listeners) listener();
    });
    socket.on('close', () => {
      for (const listener of this.listeners) listener();
    });
  }

  static connect(port: number): Promise<RawPeer> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => resolve(new RawPeer(socket)));
      socket.once('error', reject);
    });
  }

  get isClosed(): boolean {
    return this.socket.destroyed || this.socket.readableEnded;
  }

  write(bytes: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  /** Opens an AMQP connection without SASL (AMQP 1.0 2.2) and waits for the broker's open. */
  async open(fields: Record<string, unknown> = {}): Promise<void> {
    this.write(Buffer.concat([AMQP_HEADER, frameOf(0, performatives.open(fields))]));
    await this.waitFor((frame) => frame.name === 'open');
  }

  /** Resolves with the first received frame matching, or rejects when the socket closes first. */
  waitFor(match: (frame: ReceivedFrame) => boolean, timeoutMs = 5000): Promise<ReceivedFrame> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const found = this.received.find(match);
        if (found) {
          finish();
          resolve(found);
          return true;
        }
        if (this.socket.destroyed) {
          finish();
          reject(new Error(`socket closed; received: ${this.received.map((frame) => frame.name).join(', ')}`));
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`timed out; received: ${this.received.map((frame) => frame.name).join(', ')}`));
      }, timeoutMs);
      const finish = (): void => {
        clearTimeout(timer);
        this.listeners = this.listeners.filter((listener) => listener !== onEvent);
      };
      const onEvent = (): void => void check();
      if (!check()) this.listeners.push(onEvent);
    });
  }

  /** The error of the broker's close frame, waiting for it. */
  async closeError(timeoutMs = 5000): Promise<{ condition?: string; description?: string }> {
    const close = await this.waitFor((frame) => frame.name === 'close', timeoutMs);
    return (close.performative?.error ?? {}) as { condition?: string; description?: string };
  }

  destroy(): void {
    this.socket.destroy();
  }

  private parse(): void {
    for (;;) {
      if (this.pending.length >= 8 && this.pending.toString('latin1', 0, 4) === 'AMQP') {
        this.pending = this.pending.subarray(8);
        continue;
      }
      if (this.pending.length < 4) return;
      const size = this.pending.readUInt32BE(0);
      if (this.pending.length < size) return;
      const frame = rheaFrames.read_frame(this.pending.subarray(0, size));
      this.pending = this.pending.subarray(size);
      const name = frame.performative ? String(frame.performative.constructor).split('#')[0]! : 'empty';
      this.received.push({ channel: frame.channel, name, performative: frame.performative });
    }
  }
}
