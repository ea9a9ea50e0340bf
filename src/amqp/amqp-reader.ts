import { types as rheaTypes } from 'rhea';
import { rheaValueReader } from './rhea';

/**
 * A forward-only reader over AMQP 1.0 encoded values (AMQP 1.0 1.2 "Types"), for the few message
 * fields the broker needs. The common primitive encodings are decoded here to the same JavaScript
 * values rhea's decoder gives; any other value is handed to rhea's decoder, so the result never
 * differs from a full rhea decode. Nothing is allocated for values that are only skipped.
 */

export class AmqpDecodeError extends Error {}

const MAX_UINT32 = 4294967296;
/** Format codes AMQP 1.0 1.6 defines; rhea refuses any other. */
const VALID_FORMAT_CODES = new Uint8Array(256);
for (const code of [
  0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x60, 0x61, 0x70, 0x71, 0x72, 0x73, 0x74,
  0x80, 0x81, 0x82, 0x83, 0x84, 0x94, 0x98, 0xa0, 0xa1, 0xa3, 0xb0, 0xb1, 0xb3, 0xc0, 0xc1, 0xd0, 0xd1, 0xe0, 0xf0,
]) VALID_FORMAT_CODES[code] = 1;
/** Largest high word for which rhea still returns a 64-bit integer as a number (types.js read_long). */
const SAFE_HIGH_WORD = 2097153;

export class AmqpReader {
  constructor(
    readonly bytes: Buffer,
    public offset: number,
    /** Exclusive bound: nothing at or past it belongs to the value(s) read. */
    readonly end: number,
  ) {}

  get atEnd(): boolean {
    return this.offset >= this.end;
  }

  peekFormatCode(): number {
    this.need(this.offset + 1);
    return this.bytes[this.offset]!;
  }

  /**
   * Enters a list (list0, list8, list32) or map (map8, map32) and returns its element count (for a
   * map: keys plus values); the reader is left on the first element. Anything else is an error.
   */
  enterCompound(kind: 'list' | 'map'): number {
    const code = this.peekFormatCode();
    const start = this.offset + 1;
    if (kind === 'list' && code === 0x45) {
      this.offset = start;
      return 0;
    }
    const small = kind === 'list' ? 0xc0 : 0xc1;
    const large = kind === 'list' ? 0xd0 : 0xd1;
    if (code === small) {
      this.need(start + 2);
      const count = this.bytes[start + 1]!;
      this.need(start + 1 + this.bytes[start]!);
      this.offset = start + 2;
      return count;
    }
    if (code === large) {
      this.need(start + 8);
      const count = this.bytes.readUInt32BE(start + 4);
      this.need(start + 4 + this.bytes.readUInt32BE(start));
      this.offset = start + 8;
      return count;
    }
    throw new AmqpDecodeError(`expected a ${kind}, got format code 0x${code.toString(16)} at byte ${this.offset}`);
  }

  /**
   * Decodes one value as rhea would (described values and compounds through rhea itself). rhea keeps
   * described values of unknown descriptors in map entries and strips the descriptor in list fields.
   */
  readValue(leaveDescribed: boolean): unknown {
    const bytes = this.bytes;
    const code = this.peekFormatCode();
    const start = this.offset + 1;
    switch (code) {
      case 0x40: this.offset = start; return null;
      case 0x41: this.offset = start; return true;
      case 0x42: this.offset = start; return false;
      case 0x43: case 0x44: this.offset = start; return 0;
      case 0x56: this.need(start + 1); this.offset = start + 1; return bytes[start] !== 0;
      case 0x50: case 0x52: case 0x53: this.need(start + 1); this.offset = start + 1; return bytes[start]!;
      case 0x51: case 0x54: case 0x55: this.need(start + 1); this.offset = start + 1; return bytes.readInt8(start);
      case 0x60: this.need(start + 2); this.offset = start + 2; return bytes.readUInt16BE(start);
      case 0x61: this.need(start + 2); this.offset = start + 2; return bytes.readInt16BE(start);
      case 0x70: this.need(start + 4); this.offset = start + 4; return bytes.readUInt32BE(start);
      case 0x71: this.need(start + 4); this.offset = start + 4; return bytes.readInt32BE(start);
      case 0x81: case 0x83: {
        this.need(start + 8);
        const high = bytes.readInt32BE(start);
        if (high >= SAFE_HIGH_WORD || high <= -SAFE_HIGH_WORD) return this.readWithRhea(leaveDescribed);
        this.offset = start + 8;
        const value = high * MAX_UINT32 + bytes.readUInt32BE(start + 4);
        return code === 0x83 ? new Date(value) : value;
      }
      case 0xa1: case 0xa3: case 0xb1: case 0xb3: {
        const wide = code >= 0xb0;
        this.need(start + (wide ? 4 : 1));
        const size = wide ? bytes.readUInt32BE(start) : bytes[start]!;
        const from = start + (wide ? 4 : 1);
        this.need(from + size);
        this.offset = from + size;
        return bytes.toString(code === 0xa1 || code === 0xb1 ? 'utf8' : 'ascii', from, from + size);
      }
      default:
        return this.readWithRhea(leaveDescribed);
    }
  }

  /** Skips one value, checking that every nested format code is valid and every size in bounds. */
  skipValue(): void {
    const bytes = this.bytes;
    const code = this.peekFormatCode();
    const start = this.offset + 1;
    if (code === 0x00) {
      this.offset = start;
      this.skipValue(); // descriptor
      this.skipValue(); // described value
      return;
    }
    if (VALID_FORMAT_CODES[code] === 0) throw new AmqpDecodeError(`invalid format code 0x${code.toString(16)} at byte ${this.offset}`);
    let end: number;
    switch (code >> 4) {
      case 0x4: end = start; break;
      case 0x5: end = start + 1; break;
      case 0x6: end = start + 2; break;
      case 0x7: end = start + 4; break;
      case 0x8: end = start + 8; break;
      case 0x9: end = start + 16; break;
      case 0xa: this.need(start + 1); end = start + 1 + bytes[start]!; break;
      case 0xb: this.need(start + 4); end = start + 4 + bytes.readUInt32BE(start); break;
      case 0xc: case 0xd: {
        const count = this.enterCompound(code === 0xc0 || code === 0xd0 ? 'list' : 'map');
        end = code < 0xd0 ? start + 1 + bytes[start]! : start + 4 + bytes.readUInt32BE(start);
        const inner = new AmqpReader(bytes, this.offset, end);
        for (let i = 0; i < count; i++) inner.skipValue();
        this.offset = end;
        return;
      }
      default: // 0xe, 0xf
        // Arrays hold one element constructor and packed elements; skipped by their size.
        this.need(start + (code === 0xe0 ? 1 : 4));
        end = code === 0xe0 ? start + 1 + bytes[start]! : start + 4 + bytes.readUInt32BE(start);
    }
    this.need(end);
    this.offset = end;
  }

  private readWithRhea(leaveDescribed: boolean): unknown {
    const reader = rheaValueReader(this.bytes.subarray(this.offset, this.end));
    let value: unknown;
    try {
      value = rheaTypes.unwrap(reader.read(), leaveDescribed);
    } catch (error) {
      throw new AmqpDecodeError(`cannot decode value at byte ${this.offset}: ${(error as Error).message}`);
    }
    this.offset += reader.position;
    return value;
  }

  private need(end: number): void {
    if (end > this.end) throw new AmqpDecodeError('value is truncated');
  }
}
