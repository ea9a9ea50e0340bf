import { AmqpDecodeError, AmqpReader } from './amqp-reader';
import { Condition, type AmqpError } from './conditions';
import { AMQP_PERFORMATIVES, SASL_CLIENT_FRAMES, SASL_SERVER_FRAMES, TRANSFER, type Composite, type Field, type WireType } from './frame-schema';

/**
 * Holds one whole frame a client sent to the frame schema (frame-schema.ts) before rhea reads a byte
 * of it: the frame header (AMQP 1.0 2.3), the performative's descriptor, every field's type, value
 * range and mandatory-ness, every nested composite, and every count and size against the bytes
 * present (amqp-reader.ts checkValue). The work is linear in the frame's bytes. What rhea then decodes
 * is a frame whose every value has the type rhea's frame definitions expect.
 */

export type FrameLayer = 'amqp' | 'sasl';

/** What checkFrame returns for an empty frame (a heartbeat, AMQP 1.0 2.4.5). */
export const EMPTY_FRAME = -1;

const FRAME_TYPE: Record<FrameLayer, number> = { amqp: 0x00, sasl: 0x01 };
const PERFORMATIVE: WireType = { name: 'performative', codes: undefined, composites: AMQP_PERFORMATIVES, map: undefined };
const SASL_FRAME: WireType = { name: 'SASL frame', codes: undefined, composites: SASL_CLIENT_FRAMES, map: undefined };

/**
 * Checks the frame `bytes[start, end)` (its size already held to max-frame-size). Returns the
 * descriptor code of its performative (EMPTY_FRAME for a heartbeat), or the error to close the
 * connection with: framing-error for a bad frame header, decode-error for a body that is not what the
 * frame's type says (a mandatory field missing included), invalid-field for a value out of the range
 * its field allows.
 */
export function checkFrame(bytes: Buffer, start: number, end: number, layer: FrameLayer): number | AmqpError {
  const dataOffset = bytes[start + 4]! * 4;
  if (dataOffset < 8) return fault(Condition.framingError, `frame data offset ${dataOffset / 4} is below 2 (AMQP 1.0 2.3.1)`);
  if (start + dataOffset > end) return fault(Condition.framingError, `frame data offset ${dataOffset} is beyond the frame's ${end - start} bytes`);
  const type = bytes[start + 5]!;
  if (type !== FRAME_TYPE[layer]) return fault(Condition.framingError, `frame type ${type} in the ${layer === 'amqp' ? 'AMQP' : 'SASL'} layer, which takes type ${FRAME_TYPE[layer]} (AMQP 1.0 2.3.1)`);
  const bodyStart = start + dataOffset;
  if (bodyStart === end) return layer === 'amqp' ? EMPTY_FRAME : fault(Condition.decodeError, 'empty SASL frame');
  const reader = new AmqpReader(bytes, bodyStart, end, start);
  try {
    const performative = checkComposite(reader, layer === 'amqp' ? PERFORMATIVE : SASL_FRAME, '', 0);
    if (reader.offset < end && performative !== TRANSFER) {
      throw new FieldFault(Condition.decodeError, `${end - reader.offset} bytes follow the ${performative.name} performative; only a transfer carries a payload`);
    }
    return performative.code;
  } catch (error) {
    if (error instanceof FieldFault) return fault(error.condition, error.message);
    if (error instanceof AmqpDecodeError) return fault(Condition.decodeError, `malformed frame body: ${error.message}`);
    throw error;
  }
}

export function isFault(result: number | AmqpError): result is AmqpError {
  return typeof result !== 'number';
}

class FieldFault extends Error {
  constructor(
    readonly condition: string,
    message: string,
  ) {
    super(message);
  }
}

function fault(condition: string, description: string): AmqpError {
  return { condition, description };
}

function wrongType(path: string, type: WireType, code: number): FieldFault {
  return new FieldFault(Condition.decodeError, `${path}: expected ${type.name}, got ${formatName(code)}`);
}

/** A described list (AMQP 1.0 1.3): its descriptor picks the composite among `type.composites`. */
function checkComposite(reader: AmqpReader, type: WireType, path: string, depth: number): Composite {
  const code = reader.peekFormatCode();
  if (code !== 0x00) throw wrongType(path || 'frame body', type, code);
  reader.offset += 1;
  const composite = readDescriptor(reader, type, path);
  let count: number;
  try {
    count = reader.enterCompound('list');
  } catch (error) {
    if (error instanceof AmqpDecodeError) throw new FieldFault(Condition.decodeError, `${composite.name}: the fields are not a well-formed list (${error.message})`);
    throw error;
  }
  const end = reader.compoundEnd;
  const fields = composite.fields;
  if (count > fields.length) throw new FieldFault(Condition.decodeError, `${composite.name} has ${count} fields; AMQP 1.0 defines ${fields.length}`);
  let offset = reader.offset;
  for (let index = 0; index < count; index++) offset = checkField(reader, offset, end, fields[index]!, composite.name, depth + 1);
  for (let index = count; index < fields.length; index++) {
    if (fields[index]!.mandatory) throw new FieldFault(Condition.decodeError, `${composite.name}.${fields[index]!.name} is mandatory`);
  }
  if (offset !== end) throw new FieldFault(Condition.decodeError, `${composite.name}: the list declares ${end - offset} bytes more than its fields take`);
  reader.offset = end;
  return composite;
}

/** A descriptor is a ulong or a symbol (AMQP 1.0 1.5); it must name one of the accepted composites. */
function readDescriptor(reader: AmqpReader, type: WireType, path: string): Composite {
  const bytes = reader.bytes;
  const at = reader.offset;
  const code = reader.peekFormatCode();
  let numeric = -1;
  let symbol: string | null = null;
  if (code === 0x53 && at + 2 <= reader.end) {
    numeric = bytes[at + 1]!; // smallulong, the usual encoding
    reader.offset = at + 2;
  } else {
    reader.checkValue(1);
    if (code === 0x44) numeric = 0;
    else if (code === 0x80) numeric = bytes.readUInt32BE(at + 1) === 0 ? bytes.readUInt32BE(at + 5) : -1;
    else if (code === 0xa3) symbol = bytes.toString('latin1', at + 2, reader.offset);
    else if (code === 0xb3) symbol = bytes.toString('latin1', at + 5, reader.offset);
    else throw new FieldFault(Condition.decodeError, `${path || 'frame body'}: a descriptor must be a ulong or a symbol, got ${formatName(code)}`);
  }
  for (const composite of type.composites!) {
    if (composite.code === numeric || composite.symbol === symbol) return composite;
  }
  const named = symbol ?? `0x${numeric.toString(16)}`;
  if (path === '') {
    const serverOnly = SASL_SERVER_FRAMES[numeric];
    if (type.composites === SASL_CLIENT_FRAMES && serverOnly) throw new FieldFault(Condition.decodeError, `${serverOnly} is a frame only a server sends`);
    throw new FieldFault(Condition.decodeError, `unknown ${type.name} with descriptor ${named}`);
  }
  throw new FieldFault(Condition.decodeError, `${path}: expected ${type.name}, got a described value with descriptor ${named}`);
}

/** Byte width of a fixed-width primitive by its format code's high nibble (AMQP 1.0 1.2); -1: variable. */
const FIXED_WIDTH = [-1, -1, -1, -1, 0, 1, 2, 4, 8, 16, -1, -1, -1, -1, -1, -1];

/**
 * Checks the field value at `at` (within the enclosing list, which ends at `end`) and returns where it
 * ends. A value of the field's primitive type, by far the common case, is checked right here without
 * allocating; anything else (arrays, maps, composites, a wrong type) goes through an AmqpReader.
 */
function checkField(reader: AmqpReader, at: number, end: number, field: Field, parent: string, depth: number): number {
  const bytes = reader.bytes;
  if (at >= end) throw new FieldFault(Condition.decodeError, `${parent}.${field.name}: value is truncated`);
  const code = bytes[at]!;
  const type = field.type;
  if (code !== 0x40 && type !== null && type.codes !== undefined && type.codes[code] === 1) {
    const width = FIXED_WIDTH[code >> 4]!;
    let next: number;
    if (width >= 0) {
      next = at + 1 + width;
    } else {
      const wide = code >= 0xb0;
      const sizeEnd = at + (wide ? 5 : 2);
      if (sizeEnd > end) throw new FieldFault(Condition.decodeError, `${parent}.${field.name}: value is truncated`);
      next = sizeEnd + (wide ? bytes.readUInt32BE(at + 1) : bytes[at + 1]!);
    }
    if (next > end) throw new FieldFault(Condition.decodeError, `${parent}.${field.name}: value is truncated`);
    if (field.range || field.maxBytes) checkRange(bytes, at, field, parent);
    return next;
  }
  const fieldReader = new AmqpReader(bytes, at, end, reader.origin);
  try {
    checkFieldValue(fieldReader, field, parent, depth);
  } catch (error) {
    if (error instanceof AmqpDecodeError) throw new FieldFault(Condition.decodeError, `${parent}.${field.name}: ${error.message}`);
    throw error;
  }
  return fieldReader.offset;
}

function checkFieldValue(reader: AmqpReader, field: Field, parent: string, depth: number): void {
  const code = reader.peekFormatCode();
  if (code === 0x40) {
    if (field.mandatory) throw new FieldFault(Condition.decodeError, `${parent}.${field.name} is mandatory`);
    reader.offset += 1;
    return;
  }
  const type = field.type;
  if (type === null) {
    reader.checkValue(depth);
  } else if (type.codes) {
    if (field.multiple && (code === 0xe0 || code === 0xf0)) {
      checkArrayOf(reader, field, parent, depth);
    } else {
      throw wrongType(`${parent}.${field.name}`, type, code);
    }
  } else if (type.composites) {
    checkComposite(reader, type, `${parent}.${field.name}`, depth);
  } else {
    checkMap(reader, type, `${parent}.${field.name}`, depth);
  }
}

/** A "multiple" field given as an array (AMQP 1.0 1.4): its elements must have the field's type. */
function checkArrayOf(reader: AmqpReader, field: Field, parent: string, depth: number): void {
  const bytes = reader.bytes;
  const at = reader.offset;
  const constructorAt = at + (bytes[at] === 0xf0 ? 9 : 3);
  const elementCode = constructorAt < reader.end ? bytes[constructorAt]! : 0x00;
  reader.checkValue(depth);
  if (field.type!.codes![elementCode] !== 1) {
    throw new FieldFault(Condition.decodeError, `${parent}.${field.name}: expected ${field.type!.name} or an array of ${field.type!.name}, got an array of ${formatName(elementCode)}`);
  }
}

function checkMap(reader: AmqpReader, type: WireType, path: string, depth: number): void {
  const code = reader.peekFormatCode();
  if (code !== 0xc1 && code !== 0xd1) throw wrongType(path, type, code);
  const count = reader.enterCompound('map');
  const end = reader.compoundEnd;
  const inner = new AmqpReader(reader.bytes, reader.offset, end, reader.origin);
  const { keys, values } = type.map!;
  for (let index = 0; index < count; index += 2) {
    const keyCode = inner.peekFormatCode();
    if (keys !== null && keys.codes![keyCode] !== 1) throw new FieldFault(Condition.decodeError, `${path}: expected ${keys.name} keys, got ${formatName(keyCode)}`);
    inner.checkValue(depth + 1);
    if (values === null || inner.peekFormatCode() === 0x40) inner.checkValue(depth + 1);
    else checkComposite(inner, values, path, depth + 1);
  }
  if (inner.offset !== end) throw new FieldFault(Condition.decodeError, `${path}: the map declares ${end - inner.offset} bytes more than its entries take`);
  reader.offset = end;
}

/** Range of a numeric field, length of a binary one: the value at `at` is known to be complete. */
function checkRange(bytes: Buffer, at: number, field: Field, parent: string): void {
  const code = bytes[at]!;
  if (field.maxBytes) {
    const length = code === 0xb0 ? bytes.readUInt32BE(at + 1) : bytes[at + 1]!;
    if (length > field.maxBytes.bytes) throw new FieldFault(Condition.invalidField, `${parent}.${field.name} has ${length} bytes (${field.maxBytes.why})`);
    return;
  }
  const value = code === 0x70 ? bytes.readUInt32BE(at + 1) : code === 0x60 ? bytes.readUInt16BE(at + 1) : code === 0x43 ? 0 : bytes[at + 1]!;
  const range = field.range!;
  if (value === 0 && range.orZero) return;
  if (value < range.min || value > range.max) throw new FieldFault(Condition.invalidField, `${parent}.${field.name} is ${value} (${range.why})`);
}

const FORMAT_NAMES: Record<number, string> = {
  0x00: 'a described value', 0x40: 'null', 0x41: 'boolean', 0x42: 'boolean', 0x56: 'boolean', 0x50: 'ubyte', 0x51: 'byte',
  0x52: 'uint', 0x43: 'uint', 0x70: 'uint', 0x53: 'ulong', 0x44: 'ulong', 0x80: 'ulong', 0x54: 'int', 0x71: 'int',
  0x55: 'long', 0x81: 'long', 0x60: 'ushort', 0x61: 'short', 0x72: 'float', 0x82: 'double', 0x73: 'char',
  0x74: 'decimal32', 0x84: 'decimal64', 0x94: 'decimal128', 0x83: 'timestamp', 0x98: 'uuid', 0xa0: 'binary',
  0xb0: 'binary', 0xa1: 'string', 0xb1: 'string', 0xa3: 'symbol', 0xb3: 'symbol', 0x45: 'list', 0xc0: 'list',
  0xd0: 'list', 0xc1: 'map', 0xd1: 'map', 0xe0: 'array', 0xf0: 'array',
};

function formatName(code: number): string {
  return FORMAT_NAMES[code] ?? `format code 0x${code.toString(16)}`;
}
