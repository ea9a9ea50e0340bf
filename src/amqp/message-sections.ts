import { message as rheaMessage } from 'rhea';

/**
 * Reads what the broker needs from an encoded AMQP message (AMQP 1.0 3.2) without re-encoding it:
 * the producer's bytes are forwarded unchanged, because a decode/encode round trip through rhea
 * changes AMQP types (byte -> ubyte, long -> ulong) and breaks Qpid JMS and Proton clients.
 */

const SECTION_HEADER = 0x70;
const FIRST_BODY_SECTION = 0x75; // data; amqp-sequence 0x76, amqp-value 0x77, footer 0x78
const GROUP_SEQUENCE_CLOSE = 4294967295; // JMSXGroupSeq = -1 as Qpid JMS wraps it into a uint

export class MalformedMessageError extends Error {}

export interface MessageInfo {
  readonly durable: boolean;
  readonly ttlMs: number | null;
  readonly absoluteExpiryTimeMs: number | null;
  readonly deliveryCount: number;
  readonly to: string | null;
  readonly groupId: string | null;
  readonly closesGroup: boolean;
}

interface SectionBounds {
  /** End of the header section, or 0 when the message has none. */
  readonly headerEnd: number;
  /** Start of the first body section (or of the end of the message). */
  readonly bodyStart: number;
}

export function readMessageInfo(bytes: Buffer, groupKey: string | null): MessageInfo {
  const { bodyStart } = sectionBounds(bytes);
  let decoded: Record<string, unknown>;
  try {
    decoded = rheaMessage.decode(bytes.subarray(0, bodyStart)) as unknown as Record<string, unknown>;
  } catch (error) {
    throw new MalformedMessageError(`cannot decode message sections: ${(error as Error).message}`);
  }
  const applicationProperties = (decoded.application_properties ?? {}) as Record<string, unknown>;
  const groupValue = groupKey === null ? decoded.group_id : applicationProperties[groupKey];
  const jmsGroupSeq = applicationProperties.JMSXGroupSeq;
  return {
    durable: decoded.durable === true,
    ttlMs: typeof decoded.ttl === 'number' ? decoded.ttl : null,
    absoluteExpiryTimeMs: timestampMs(decoded.absolute_expiry_time),
    deliveryCount: typeof decoded.delivery_count === 'number' ? decoded.delivery_count : 0,
    to: typeof decoded.to === 'string' ? decoded.to : null,
    groupId: groupValue === undefined || groupValue === null ? null : String(groupValue),
    closesGroup: decoded.group_sequence === GROUP_SEQUENCE_CLOSE || jmsGroupSeq === -1,
  };
}

function timestampMs(value: unknown): number | null {
  if (value instanceof Date) return value.getTime();
  if (typeof value === 'number') return value;
  return null;
}

/**
 * The same message with header.delivery-count set to `deliveryCount` (AMQP 1.0 3.2.1). Only the header
 * section is re-encoded (its fields have fixed types); every other byte is kept.
 */
export function withDeliveryCount(bytes: Buffer, deliveryCount: number): Buffer {
  const { headerEnd } = sectionBounds(bytes);
  const fields: (Buffer | null)[] = [null, null, null, null, null];
  if (headerEnd > 0) {
    const header = rheaMessage.decode(bytes.subarray(0, headerEnd)) as unknown as Record<string, unknown>;
    if (header.durable !== undefined) fields[0] = encodeBoolean(header.durable === true);
    if (typeof header.priority === 'number') fields[1] = Buffer.from([0x50, header.priority & 0xff]);
    if (typeof header.ttl === 'number') fields[2] = encodeUint(header.ttl);
    if (header.first_acquirer !== undefined) fields[3] = encodeBoolean(header.first_acquirer === true);
  }
  fields[4] = encodeUint(deliveryCount);
  const encodedFields = Buffer.concat(fields.map((field) => field ?? Buffer.from([0x40])));
  // described(smallulong 0x70, list8{size, count=5, fields})
  const section = Buffer.concat([Buffer.from([0x00, 0x53, SECTION_HEADER, 0xc0, encodedFields.length + 1, 5]), encodedFields]);
  return Buffer.concat([section, bytes.subarray(headerEnd)]);
}

export function hasHeaderDeliveryCount(bytes: Buffer, deliveryCount: number): boolean {
  const { headerEnd } = sectionBounds(bytes);
  if (headerEnd === 0) return deliveryCount === 0;
  const header = rheaMessage.decode(bytes.subarray(0, headerEnd)) as unknown as Record<string, unknown>;
  return (typeof header.delivery_count === 'number' ? header.delivery_count : 0) === deliveryCount;
}

function encodeBoolean(value: boolean): Buffer {
  return Buffer.from([value ? 0x41 : 0x42]);
}

function encodeUint(value: number): Buffer {
  if (value === 0) return Buffer.from([0x43]);
  if (value < 256) return Buffer.from([0x52, value]);
  const out = Buffer.alloc(5);
  out[0] = 0x70;
  out.writeUInt32BE(value >>> 0, 1);
  return out;
}

/** Walks the section descriptors (AMQP 1.0 3.2) to find where the header and the body start. */
function sectionBounds(bytes: Buffer): SectionBounds {
  let offset = 0;
  let headerEnd = 0;
  while (offset < bytes.length) {
    const sectionStart = offset;
    if (bytes[offset] !== 0x00) throw new MalformedMessageError(`expected a described section at byte ${offset}`);
    const [code, afterDescriptor] = readDescriptorCode(bytes, offset + 1);
    if (code >= FIRST_BODY_SECTION) return { headerEnd, bodyStart: sectionStart };
    offset = skipValue(bytes, afterDescriptor);
    if (code === SECTION_HEADER) headerEnd = offset;
  }
  return { headerEnd, bodyStart: bytes.length };
}

const SYMBOLIC_SECTIONS: Record<string, number> = {
  'amqp:header:list': 0x70,
  'amqp:delivery-annotations:map': 0x71,
  'amqp:message-annotations:map': 0x72,
  'amqp:properties:list': 0x73,
  'amqp:application-properties:map': 0x74,
  'amqp:data:binary': 0x75,
  'amqp:amqp-sequence:list': 0x76,
  'amqp:value:*': 0x77,
  'amqp:footer:map': 0x78,
};

function readDescriptorCode(bytes: Buffer, offset: number): [number, number] {
  const formatCode = byteAt(bytes, offset);
  if (formatCode === 0x53) return [byteAt(bytes, offset + 1), offset + 2];
  if (formatCode === 0x80) {
    need(bytes, offset + 9);
    return [Number(bytes.readBigUInt64BE(offset + 1)), offset + 9];
  }
  if (formatCode === 0xa3 || formatCode === 0xb3) {
    const end = skipValue(bytes, offset);
    const symbol = bytes.toString('latin1', formatCode === 0xa3 ? offset + 2 : offset + 5, end);
    const code = SYMBOLIC_SECTIONS[symbol];
    if (code === undefined) throw new MalformedMessageError(`unknown section descriptor ${symbol}`);
    return [code, end];
  }
  throw new MalformedMessageError(`unsupported section descriptor format 0x${formatCode.toString(16)}`);
}

/** Skips one encoded value; the width follows from the format code's category (AMQP 1.0 1.2). */
function skipValue(bytes: Buffer, offset: number): number {
  const formatCode = byteAt(bytes, offset);
  if (formatCode === 0x00) {
    const afterDescriptor = skipValue(bytes, offset + 1);
    return skipValue(bytes, afterDescriptor);
  }
  const start = offset + 1;
  let end: number;
  switch (formatCode >> 4) {
    case 0x4: end = start; break;
    case 0x5: end = start + 1; break;
    case 0x6: end = start + 2; break;
    case 0x7: end = start + 4; break;
    case 0x8: end = start + 8; break;
    case 0x9: end = start + 16; break;
    case 0xa: case 0xc: case 0xe: end = start + 1 + byteAt(bytes, start); break;
    case 0xb: case 0xd: case 0xf: need(bytes, start + 4); end = start + 4 + bytes.readUInt32BE(start); break;
    default: throw new MalformedMessageError(`invalid format code 0x${formatCode.toString(16)} at byte ${offset}`);
  }
  need(bytes, end);
  return end;
}

function byteAt(bytes: Buffer, offset: number): number {
  need(bytes, offset + 1);
  return bytes[offset]!;
}

function need(bytes: Buffer, end: number): void {
  if (end > bytes.length) throw new MalformedMessageError('message is truncated');
}
