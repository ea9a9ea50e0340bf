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
/**
 * Deepest nesting of described values, lists, maps and arrays the broker reads. rhea decodes them
 * recursively; a limit keeps a peer from exhausting the stack, and no real frame or message section
 * nests anywhere near this deep.
 */
export const MAX_NESTING_DEPTH = 32;
/** Largest high word for which rhea still returns a 64-bit integer as a number (types.js read_long). */
const SAFE_HIGH_WORD = 2097153;

export class AmqpReader {
  constructor(
    readonly bytes: Buffer,
    public offset: number,
    /** Exclusive bound: nothing at or past it belongs to the value(s) read. */
    readonly end: number,
    /** Where the enclosing unit (a message, a frame) starts: error positions are counted from here. */
    readonly origin = 0,
  ) {}

  /** Where the compound entered last by enterCompound ends (exclusive). */
  compoundEnd = 0;

  get atEnd(): boolean {
    return this.offset >= this.end;
  }

  peekFormatCode(): number {
    this.need(this.offset + 1);
    return this.bytes[this.offset]!;
  }

  /**
   * Enters a list (list0, list8, list32) or map (map8, map32) and returns its element count (for a
   * map: keys plus values); the reader is left on the first element and `compoundEnd` is where the
   * compound ends. Anything else is an error, and so is a count larger than the bytes it would take.
   */
  enterCompound(kind: 'list' | 'map'): number {
    const code = this.peekFormatCode();
    const at = this.offset;
    this.offset += 1;
    if (kind === 'list' && code === 0x45) {
      this.compoundEnd = this.offset;
      return 0;
    }
    if (code !== (kind === 'list' ? 0xc0 : 0xc1) && code !== (kind === 'list' ? 0xd0 : 0xd1)) {
      this.offset = at;
      throw new AmqpDecodeError(`expected a ${kind}, got format code 0x${code.toString(16)} at byte ${at - this.origin}`);
    }
    const count = this.compoundHeader(code >= 0xd0);
    if (kind === 'map' && count % 2 !== 0) throw new AmqpDecodeError(`map with an odd element count ${count} at byte ${at - this.origin}`);
    return count;
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

  /**
   * Skips one value: every format code is defined, every size fits in the bytes present, lists and maps
   * are walked element by element and arrays stepped over by their size (AMQP 1.0 1.2, 1.6).
   */
  skipValue(depth = 0): void {
    this.walk(depth, false);
  }

  /**
   * Skips one value, checking all of it (AMQP 1.0 1.2, 1.6): what skipValue checks, and also every list
   * and map holds exactly the elements its size covers, every array's element constructor and elements,
   * no count larger than the bytes it would take, and nesting no deeper than MAX_NESTING_DEPTH.
   * Afterwards the value can be handed to rhea's decoder: what it allocates is bounded by its bytes.
   */
  checkValue(depth = 0): void {
    this.walk(depth, true);
  }

  private walk(depth: number, strict: boolean): void {
    const code = this.peekFormatCode();
    const start = this.offset + 1;
    if (depth >= MAX_NESTING_DEPTH) throw new AmqpDecodeError(`values nested deeper than ${MAX_NESTING_DEPTH} at byte ${this.offset - this.origin}`);
    if (code === 0x00) {
      this.offset = start;
      this.walk(depth + 1, strict); // descriptor
      this.walk(depth + 1, strict); // described value
      return;
    }
    if (VALID_FORMAT_CODES[code] === 0) throw new AmqpDecodeError(`invalid format code 0x${code.toString(16)} at byte ${this.offset - this.origin}`);
    this.offset = start;
    this.skipBody(code, depth, strict);
  }

  /** Skips the body of a value whose format code (already consumed) is `code`. */
  private skipBody(code: number, depth: number, strict: boolean): void {
    const bytes = this.bytes;
    const start = this.offset;
    switch (code >> 4) {
      case 0x4: return;
      case 0x5: this.need(start + 1); this.offset = start + 1; return;
      case 0x6: this.need(start + 2); this.offset = start + 2; return;
      case 0x7: this.need(start + 4); this.offset = start + 4; return;
      case 0x8: this.need(start + 8); this.offset = start + 8; return;
      case 0x9: this.need(start + 16); this.offset = start + 16; return;
      case 0xa: this.need(start + 1); this.offset = start + 1 + bytes[start]!; this.need(this.offset); return;
      case 0xb: this.need(start + 4); this.offset = start + 4 + bytes.readUInt32BE(start); this.need(this.offset); return;
      case 0xc: case 0xd: {
        const count = this.compoundHeader(code >= 0xd0);
        const end = this.compoundEnd;
        if ((code === 0xc1 || code === 0xd1) && count % 2 !== 0) throw new AmqpDecodeError(`map with an odd element count ${count} at byte ${start - 1 - this.origin}`);
        const inner = new AmqpReader(bytes, this.offset, end, this.origin);
        for (let i = 0; i < count; i++) inner.walk(depth + 1, strict);
        if (strict && inner.offset !== end) throw new AmqpDecodeError(`compound at byte ${start - 1 - this.origin} declares ${end - inner.offset} bytes more than its elements take`);
        this.offset = end;
        return;
      }
      default: { // 0xe, 0xf: arrays
        if (!strict) {
          const wide = code === 0xf0;
          this.need(start + (wide ? 4 : 1));
          this.offset = start + (wide ? 4 + bytes.readUInt32BE(start) : 1 + bytes[start]!);
          this.need(this.offset);
          return;
        }
        const count = this.compoundHeader(code === 0xf0);
        const end = this.compoundEnd;
        const inner = new AmqpReader(bytes, this.offset, end, this.origin);
        inner.skipArrayElements(count, depth + 1);
        if (inner.offset !== end) throw new AmqpDecodeError(`array at byte ${start - 1 - this.origin} declares ${end - inner.offset} bytes more than its elements take`);
        this.offset = end;
      }
    }
  }

  /**
   * Reads the size and count of a list, map or array (format code consumed), returns the count and
   * leaves the end in `compoundEnd`, after checking them: the size
   * fits in the bytes present, and the count is at most the bytes the size covers, so that no count
   * (not even of zero-width elements, AMQP 1.0 1.2) asks for more work than the bytes carry.
   */
  private compoundHeader(wide: boolean): number {
    const bytes = this.bytes;
    const start = this.offset;
    const width = wide ? 4 : 1;
    this.need(start + 2 * width);
    const size = wide ? bytes.readUInt32BE(start) : bytes[start]!;
    const count = wide ? bytes.readUInt32BE(start + 4) : bytes[start + 1]!;
    const end = start + width + size;
    if (size < width) throw new AmqpDecodeError(`compound at byte ${start - 1 - this.origin} is smaller than its count field`);
    this.need(end);
    if (count > size) throw new AmqpDecodeError(`compound at byte ${start - 1 - this.origin} declares ${count} elements in ${size} bytes`);
    this.offset = start + 2 * width;
    this.compoundEnd = end;
    return count;
  }

  /** The element constructor and `count` packed elements of an array (AMQP 1.0 1.2, 1.6.25). */
  private skipArrayElements(count: number, depth: number): void {
    let code = this.peekFormatCode();
    if (code === 0x00) {
      this.offset += 1;
      this.checkValue(depth); // the elements' descriptor
      code = this.peekFormatCode();
    }
    if (code === 0x00 || VALID_FORMAT_CODES[code] === 0) throw new AmqpDecodeError(`invalid array element constructor 0x${code.toString(16)} at byte ${this.offset - this.origin}`);
    this.offset += 1;
    for (let i = 0; i < count; i++) this.skipBody(code, depth, true);
  }

  /** rhea decodes the value only after checkValue has checked it, so its work is bounded by the value's bytes. */
  private readWithRhea(leaveDescribed: boolean): unknown {
    const start = this.offset;
    this.checkValue();
    const end = this.offset;
    this.offset = start;
    const reader = rheaValueReader(this.bytes.subarray(start, end));
    let value: unknown;
    try {
      value = rheaTypes.unwrap(reader.read(), leaveDescribed);
    } catch (error) {
      throw new AmqpDecodeError(`cannot decode value at byte ${this.offset - this.origin}: ${(error as Error).message}`);
    }
    this.offset += reader.position;
    return value;
  }

  private need(end: number): void {
    if (end > this.end) throw new AmqpDecodeError('value is truncated');
  }
}
