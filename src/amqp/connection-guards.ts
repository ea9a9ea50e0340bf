import type { Socket } from 'node:net';
import { Condition, type AmqpError } from './conditions';
import { checkFrame, EMPTY_FRAME, isFault, type FrameLayer } from './frame-check';
import { AMQP_PERFORMATIVES, CLOSE, OPEN, SASL_INIT } from './frame-schema';

/**
 * Protection rhea does not give a server, applied to the raw byte stream before rhea sees it: the
 * protocol headers are checked (AMQP 1.0 2.2, 5.3.2), every frame's declared size is held to the
 * max-frame-size we advertise (2.7.1), so a peer cannot make us buffer gigabytes, and every whole frame
 * is held to the frame schema (frame-check.ts) and to the order the protocol gives frames (open first,
 * once; sasl-init once; nothing read after close), so that rhea only ever reads well-formed frames.
 */

const AMQP_HEADER = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0x00, 0x01, 0x00, 0x00]);
const SASL_HEADER = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0x03, 0x01, 0x00, 0x00]);
const HEADER_BYTES = 8;
const SIZE_BYTES = 4;
/** "AMQP" read where a frame size is expected: the AMQP header that follows the SASL exchange (5.3.2). */
const AMQP_AS_SIZE = AMQP_HEADER.readUInt32BE(0);

/** Where the input broke the protocol, which decides how the connection is ended. */
export type InputProblem = 'protocol-header' | 'sasl' | 'amqp';

export type StreamVerdict = { readonly ok: true } | { readonly ok: false; readonly problem: InputProblem; readonly error: AmqpError };

const OK: StreamVerdict = { ok: true };

/**
 * Cuts the byte stream into protocol headers and whole frames, checks each, and hands the checked
 * bytes on in order (`forward`), whole frames only: a frame split across reads is held here until it
 * is complete, and forwarded as one piece. On the first bad unit, everything before it is forwarded,
 * nothing after it, and the verdict says what was wrong.
 *
 * rhea's own input joins whatever it has left over with each new read (`Buffer.concat`): a copy of
 * every 64 KiB read whenever a frame straddled two reads, which at 1 KiB messages is almost every read.
 * It never has anything left over here.
 */
export class FrameGuard {
  /** The start of an incomplete header or frame, from earlier chunks. */
  private held: Buffer[] = [];
  private heldBytes = 0;
  /** Bytes of the incomplete unit needed before it can be checked. */
  private neededBytes = HEADER_BYTES;
  private expectHeader = true;
  private layer: FrameLayer | null = null;
  private saslInitReceived = false;
  private openReceived = false;
  private closeReceived = false;

  constructor(private readonly maxFrameBytes: number) {}

  /** Whether the client's sasl-init went on to rhea (which then answers it with an outcome). */
  get saslInitTaken(): boolean {
    return this.saslInitReceived;
  }

  /**
   * Only the bytes of a unit split across reads are copied (into one buffer of that unit's size); every
   * whole unit inside a read is forwarded as a view of the read, so a read is never copied as a whole.
   */
  feed(chunk: Buffer, forward: (bytes: Buffer) => void): StreamVerdict {
    if (this.closeReceived) return OK; // AMQP 1.0 2.4.3: nothing is read after a close
    let rest = chunk;
    while (this.heldBytes > 0) {
      const missing = this.neededBytes - this.heldBytes;
      if (rest.length < missing) {
        this.hold(rest);
        return OK;
      }
      this.held.push(rest.subarray(0, missing));
      const unit = Buffer.concat(this.held, this.neededBytes);
      this.held = [];
      this.heldBytes = 0;
      rest = rest.subarray(missing);
      // The unit may be only a frame's size so far: scanning it then holds it again, needing the frame.
      const verdict = this.scan(unit, forward);
      if (!verdict.ok || this.closeReceived) return verdict;
    }
    return rest.length > 0 ? this.scan(rest, forward) : OK;
  }

  private hold(bytes: Buffer): void {
    this.held.push(bytes);
    this.heldBytes += bytes.length;
  }

  /** Checks and forwards the whole units at the start of `buffer`, and holds an incomplete last one. */
  private scan(buffer: Buffer, forward: (bytes: Buffer) => void): StreamVerdict {
    let offset = 0;
    let verdict = OK;
    while (offset < buffer.length && !this.closeReceived) {
      const remaining = buffer.length - offset;
      if (this.expectHeader) {
        this.neededBytes = HEADER_BYTES;
        if (remaining < HEADER_BYTES) break;
        verdict = this.checkHeader(buffer.subarray(offset, offset + HEADER_BYTES));
        if (!verdict.ok) break;
        offset += HEADER_BYTES;
        continue;
      }
      this.neededBytes = SIZE_BYTES;
      if (remaining < SIZE_BYTES) break;
      const size = buffer.readUInt32BE(offset);
      if (size === AMQP_AS_SIZE && this.layer === 'sasl' && this.saslInitReceived) {
        this.expectHeader = true;
        continue;
      }
      verdict = this.checkSize(size);
      if (!verdict.ok) break;
      this.neededBytes = size;
      if (remaining < size) break;
      verdict = this.checkFrame(buffer, offset, offset + size);
      if (!verdict.ok) break;
      offset += size;
    }
    if (offset > 0) forward(offset === buffer.length ? buffer : buffer.subarray(0, offset));
    if (verdict.ok && offset < buffer.length && !this.closeReceived) this.hold(buffer.subarray(offset));
    return verdict;
  }

  /** AMQP 1.0 2.2: the AMQP header, or the SASL header (5.3.2) first; after SASL, the AMQP header. */
  private checkHeader(header: Buffer): StreamVerdict {
    const sasl = header.equals(SASL_HEADER);
    if (header.equals(AMQP_HEADER) || (sasl && this.layer === null)) {
      this.layer = sasl ? 'sasl' : 'amqp';
      this.expectHeader = false;
      return OK;
    }
    const expected = this.layer === null ? 'an AMQP or SASL protocol header' : 'the AMQP protocol header after SASL';
    return { ok: false, problem: 'protocol-header', error: { condition: Condition.framingError, description: `expected ${expected}, got ${header.toString('hex')}` } };
  }

  private checkSize(size: number): StreamVerdict {
    if (size < 8) return this.fault(Condition.framingError, `frame size ${size} is below the minimum of 8`);
    if (size > this.maxFrameBytes) return this.fault(Condition.framingError, `frame size ${size} exceeds max-frame-size ${this.maxFrameBytes}`);
    return OK;
  }

  private checkFrame(buffer: Buffer, start: number, end: number): StreamVerdict {
    const layer = this.layer!;
    const result = checkFrame(buffer, start, end, layer);
    if (isFault(result)) return { ok: false, problem: layer, error: result };
    return layer === 'sasl' ? this.checkSaslOrder(result) : this.checkAmqpOrder(result);
  }

  /**
   * 5.3.2: the client sends one sasl-init, then a sasl-response to each challenge. Which responses a
   * mechanism expects is the mechanism's business (src/amqp/sasl.ts); a response before the init,
   * when no mechanism is chosen yet, is not.
   */
  private checkSaslOrder(code: number): StreamVerdict {
    if (code === SASL_INIT.code) {
      if (this.saslInitReceived) return this.fault(Condition.illegalState, 'a second sasl-init (AMQP 1.0 5.3.2)');
      this.saslInitReceived = true;
    } else if (!this.saslInitReceived) {
      return this.fault(Condition.illegalState, 'a sasl-response before sasl-init (AMQP 1.0 5.3.2)');
    }
    return OK;
  }

  /** 2.4.1: open comes first and once; 2.4.3: close is the last frame read. */
  private checkAmqpOrder(code: number): StreamVerdict {
    if (code === EMPTY_FRAME) return OK;
    if (!this.openReceived) {
      if (code !== OPEN.code) return this.fault(Condition.illegalState, `${performativeName(code)} before open: open is the first frame (AMQP 1.0 2.4.1)`);
      this.openReceived = true;
      return OK;
    }
    if (code === OPEN.code) return this.fault(Condition.illegalState, 'a second open (AMQP 1.0 2.4.1)');
    if (code === CLOSE.code) this.closeReceived = true;
    return OK;
  }

  private fault(condition: string, description: string): StreamVerdict {
    return { ok: false, problem: this.layer ?? 'protocol-header', error: { condition, description } };
  }
}

function performativeName(code: number): string {
  return AMQP_PERFORMATIVES.find((performative) => performative.code === code)?.name ?? `performative 0x${code.toString(16)}`;
}

/** Answers a bad protocol header with the header we support, then closes (AMQP 1.0 2.2). */
export function refuseProtocolHeader(socket: Socket): void {
  socket.end(SASL_HEADER);
}

/** sasl-outcome with code sys-perm (AMQP 1.0 5.3.3.6): the SASL layer has no frame that carries a reason. */
const SASL_OUTCOME_SYS_PERM = Buffer.from([0, 0, 0, 16, 2, 1, 0, 0, 0x00, 0x53, 0x44, 0xc0, 0x03, 0x01, 0x50, 0x03]);

/**
 * Ends a connection whose SASL exchange broke the protocol: before the client's sasl-init is taken, the
 * outcome sys-perm tells it the exchange failed; after it, rhea answers the sasl-init itself.
 */
export function endSaslExchange(socket: Socket, outcomeSent: boolean): void {
  if (outcomeSent) socket.end();
  else socket.end(SASL_OUTCOME_SYS_PERM);
}
