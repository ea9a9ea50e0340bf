import type { Socket } from 'node:net';

/**
 * Protection rhea does not give a server, applied to the raw byte stream before rhea sees it:
 * the protocol header is checked (AMQP 1.0 2.2) and every frame's declared size is held to the
 * max-frame-size we advertise (2.7.1), so a peer cannot make us buffer gigabytes.
 */

const AMQP_HEADER = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0x00, 0x01, 0x00, 0x00]);
const SASL_HEADER = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0x03, 0x01, 0x00, 0x00]);
const HEADER_BYTES = 8;

export type StreamVerdict = { readonly ok: true } | { readonly ok: false; readonly reason: string; readonly badHeader: boolean };

/** Tracks frame boundaries across chunks: headers (8 bytes) and size-prefixed frames. */
export class FrameGuard {
  private pending = Buffer.alloc(0);
  /** Bytes of the current frame's body still to come. */
  private skipBytes = 0;
  private expectHeader = true;

  constructor(private readonly maxFrameBytes: number) {}

  feed(chunk: Buffer): StreamVerdict {
    let offset = 0;
    while (offset < chunk.length) {
      if (this.skipBytes > 0) {
        const skipped = Math.min(this.skipBytes, chunk.length - offset);
        this.skipBytes -= skipped;
        offset += skipped;
        continue;
      }
      const wanted = this.expectHeader ? HEADER_BYTES : 4;
      let unit: Buffer;
      if (this.pending.length === 0 && chunk.length - offset >= wanted) {
        unit = chunk.subarray(offset, offset + wanted);
        offset += wanted;
      } else {
        const take = Math.min(wanted - this.pending.length, chunk.length - offset);
        this.pending = Buffer.concat([this.pending, chunk.subarray(offset, offset + take)]);
        offset += take;
        if (this.pending.length < wanted) break;
        unit = this.pending;
        this.pending = Buffer.alloc(0);
      }
      const verdict = this.expectHeader ? this.checkHeader(unit) : this.checkFrameSize(unit);
      if (!verdict.ok) return verdict;
    }
    return { ok: true };
  }

  private checkHeader(header: Buffer): StreamVerdict {
    if (header.equals(AMQP_HEADER) || header.equals(SASL_HEADER)) {
      this.expectHeader = false;
      return { ok: true };
    }
    return { ok: false, reason: `unsupported protocol header ${header.toString('hex')}`, badHeader: true };
  }

  private checkFrameSize(sizeBytes: Buffer): StreamVerdict {
    // After the SASL exchange the client sends the AMQP header again (AMQP 1.0 5.3.2).
    if (sizeBytes.toString('latin1') === 'AMQP') {
      this.expectHeader = true;
      this.pending = Buffer.from(sizeBytes);
      return { ok: true };
    }
    const size = sizeBytes.readUInt32BE(0);
    if (size < 8) return { ok: false, reason: `frame size ${size} is below the minimum of 8`, badHeader: false };
    if (size > this.maxFrameBytes) {
      return { ok: false, reason: `frame size ${size} exceeds max-frame-size ${this.maxFrameBytes}`, badHeader: false };
    }
    this.skipBytes = size - 4;
    return { ok: true };
  }
}

/** Answers a bad protocol header with the header we support, then closes (AMQP 1.0 2.2). */
export function refuseProtocolHeader(socket: Socket): void {
  socket.end(SASL_HEADER);
}
