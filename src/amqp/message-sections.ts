import { message as rheaMessage } from 'rhea';
import { AmqpDecodeError, AmqpReader } from './amqp-reader';

/**
 * Reads what the broker needs from an encoded AMQP message (AMQP 1.0 3.2) without re-encoding it:
 * the producer's bytes are forwarded unchanged, because a decode/encode round trip through rhea
 * changes AMQP types (byte -> ubyte, long -> ulong) and breaks Qpid JMS and Proton clients.
 */

const SECTION_HEADER = 0x70;
const SECTION_MESSAGE_ANNOTATIONS = 0x72;
const SECTION_PROPERTIES = 0x73;
const SECTION_APPLICATION_PROPERTIES = 0x74;
const JMSX_GROUP_SEQ = 'JMSXGroupSeq';
/** Qpid JMS's annotation naming the kind of destination a message was sent to (AMQP JMS mapping). */
const JMS_DEST_ANNOTATION = 'x-opt-jms-dest';
const FIRST_BODY_SECTION = 0x75; // data; amqp-sequence 0x76, amqp-value 0x77, footer 0x78
const SECTION_AMQP_VALUE = 0x77;
const GROUP_SEQUENCE_CLOSE = 4294967295; // JMSXGroupSeq = -1 as Qpid JMS wraps it into a uint
/** Delayed delivery (Qpid JMS JMSDeliveryTime; ActiveMQ and Artemis): absolute ms since the epoch, or ms from arrival. */
const DELIVERY_TIME_ANNOTATION = 'x-opt-delivery-time';
const DELIVERY_DELAY_ANNOTATION = 'x-opt-delivery-delay';

export class MalformedMessageError extends Error {}

export interface MessageInfo {
  readonly durable: boolean;
  /** header.priority as sent; null when absent. */
  readonly priority: number | null;
  /** Message annotation x-opt-delivery-time (ms since the epoch); null when absent. */
  readonly deliveryTimeMs: number | null;
  /** Message annotation x-opt-delivery-delay (ms from arrival); null when absent. */
  readonly deliveryDelayMs: number | null;
  readonly ttlMs: number | null;
  readonly absoluteExpiryTimeMs: number | null;
  readonly deliveryCount: number;
  readonly to: string | null;
  readonly groupId: string | null;
  readonly closesGroup: boolean;
  /** `x-opt-jms-dest`: 0 queue, 1 topic, 2 temporary queue, 3 temporary topic; null when absent. */
  readonly jmsDestinationType: number | null;
}


/**
 * One pass over the sections (AMQP 1.0 3.2): header, properties and application properties are read
 * field by field; of the message annotations only the JMS destination kind and the delivery time and
 * delay are decoded; the rest, the body and the footer are skipped, checked but not decoded, so that a
 * message whose bytes a consumer could not decode is refused here, at its producer. Values come out as
 * rhea's decoder gives them (see AmqpReader).
 */
export function readMessageInfo(bytes: Buffer, groupKey: string | null): MessageInfo {
  // A transfer may carry no payload at all; a consumer could not decode that as a message.
  if (bytes.length === 0) throw new MalformedMessageError('the transfer carries no message: a message has at least one section (AMQP 1.0 3.2)');
  const fields = new InfoFields();
  const reader = new AmqpReader(bytes, 0, bytes.length);
  try {
    while (!reader.atEnd) {
      const sectionStart = reader.offset;
      if (reader.peekFormatCode() !== 0x00) throw new MalformedMessageError(`expected a described section at byte ${sectionStart}`);
      const [code, afterDescriptor] = readDescriptorCode(bytes, sectionStart + 1);
      if (code >= FIRST_BODY_SECTION) {
        checkBodyAndFooter(reader);
        break;
      }
      if (code < SECTION_HEADER) throw new MalformedMessageError(`unknown section descriptor 0x${code.toString(16)} at byte ${sectionStart}`);
      reader.offset = afterDescriptor;
      if (code === SECTION_HEADER) readHeader(reader, fields);
      else if (code === SECTION_MESSAGE_ANNOTATIONS) readMessageAnnotations(reader, fields);
      else if (code === SECTION_PROPERTIES) readProperties(reader, fields);
      else if (code === SECTION_APPLICATION_PROPERTIES) readApplicationProperties(reader, fields, groupKey);
      else reader.checkValue();
    }
  } catch (error) {
    if (error instanceof AmqpDecodeError) throw new MalformedMessageError(`cannot decode message sections: ${error.message}`);
    throw error;
  }
  const groupValue = groupKey === null ? fields.groupId : fields.groupKeyValue;
  return {
    durable: fields.durable === true,
    priority: typeof fields.priority === 'number' ? fields.priority : null,
    deliveryTimeMs: milliseconds(DELIVERY_TIME_ANNOTATION, fields.deliveryTime),
    deliveryDelayMs: milliseconds(DELIVERY_DELAY_ANNOTATION, fields.deliveryDelay),
    ttlMs: typeof fields.ttl === 'number' ? fields.ttl : null,
    absoluteExpiryTimeMs: timestampMs(fields.absoluteExpiryTime),
    deliveryCount: typeof fields.deliveryCount === 'number' ? fields.deliveryCount : 0,
    to: typeof fields.to === 'string' ? fields.to : null,
    groupId: groupValue === undefined || groupValue === null ? null : String(groupValue),
    closesGroup: fields.groupSequence === GROUP_SEQUENCE_CLOSE || fields.jmsGroupSeq === -1,
    jmsDestinationType: typeof fields.jmsDestination === 'number' ? fields.jmsDestination : null,
  };
}

const SECTION_VALUE = 0x77;
const SECTION_FOOTER = 0x78;

/**
 * The body (AMQP 1.0 3.2: data sections, amqp-sequence sections, or one amqp-value) and the footer that
 * may close the message: each section well-formed (AmqpReader.checkValue), of one body kind, the footer
 * last, nothing after it. A data section is checked in constant time (its size only).
 */
function checkBodyAndFooter(reader: AmqpReader): void {
  let bodyKind = -1;
  while (!reader.atEnd) {
    const at = reader.offset;
    if (reader.peekFormatCode() !== 0x00) throw new MalformedMessageError(`expected a described section at byte ${at}`);
    const [code] = readDescriptorCode(reader.bytes, at + 1);
    if (code === SECTION_FOOTER) {
      reader.checkValue();
      if (!reader.atEnd) throw new MalformedMessageError(`${reader.end - reader.offset} bytes follow the footer`);
      return;
    }
    if (code < FIRST_BODY_SECTION || code > SECTION_FOOTER) throw new MalformedMessageError(`section descriptor 0x${code.toString(16)} at byte ${at} after the body`);
    if (bodyKind === SECTION_VALUE || (bodyKind !== -1 && code !== bodyKind)) throw new MalformedMessageError(`body section 0x${code.toString(16)} at byte ${at} follows a body of another kind`);
    bodyKind = code;
    reader.checkValue();
  }
}

/** The raw field values readMessageInfo collects; undefined when absent. */
class InfoFields {
  durable: unknown = undefined;
  priority: unknown = undefined;
  deliveryTime: unknown = undefined;
  deliveryDelay: unknown = undefined;
  ttl: unknown = undefined;
  deliveryCount: unknown = undefined;
  to: unknown = undefined;
  absoluteExpiryTime: unknown = undefined;
  groupId: unknown = undefined;
  groupSequence: unknown = undefined;
  groupKeyValue: unknown = undefined;
  jmsGroupSeq: unknown = undefined;
  jmsDestination: unknown = undefined;
}

/** header: durable (0), priority (1), ttl (2), delivery-count (4) (AMQP 1.0 3.2.1). */
function readHeader(reader: AmqpReader, fields: InfoFields): void {
  const count = reader.enterCompound('list');
  const end = reader.compoundEnd;
  for (let index = 0; index < count; index++) {
    if (index === 0) fields.durable = reader.readValue(false);
    else if (index === 1) fields.priority = reader.readValue(false);
    else if (index === 2) fields.ttl = reader.readValue(false);
    else if (index === 4) fields.deliveryCount = reader.readValue(false);
    else reader.checkValue();
  }
  expectEnd(reader, end, 'header');
}

/** properties: to (2), absolute-expiry-time (8), group-id (10), group-sequence (11) (AMQP 1.0 3.2.4). */
function readProperties(reader: AmqpReader, fields: InfoFields): void {
  const count = reader.enterCompound('list');
  const end = reader.compoundEnd;
  for (let index = 0; index < count; index++) {
    if (index === 2) fields.to = reader.readValue(false);
    else if (index === 8) fields.absoluteExpiryTime = reader.readValue(false);
    else if (index === 10) fields.groupId = reader.readValue(false);
    else if (index === 11) fields.groupSequence = reader.readValue(false);
    else reader.checkValue();
  }
  expectEnd(reader, end, 'properties');
}

/**
 * message-annotations (AMQP 1.0 3.2.3): `x-opt-jms-dest`, the delivery time and delay; other values
 * are checked, not decoded; the last duplicate wins.
 */
function readMessageAnnotations(reader: AmqpReader, fields: InfoFields): void {
  const count = reader.enterCompound('map');
  const end = reader.compoundEnd;
  for (let index = 0; index + 1 < count; index += 2) {
    const key = reader.readValue(true);
    if (key === JMS_DEST_ANNOTATION) fields.jmsDestination = reader.readValue(true);
    else if (key === DELIVERY_TIME_ANNOTATION) fields.deliveryTime = reader.readValue(true);
    else if (key === DELIVERY_DELAY_ANNOTATION) fields.deliveryDelay = reader.readValue(true);
    else reader.checkValue();
  }
  expectEnd(reader, end, 'message-annotations');
}

/** A delivery time or delay: an integer number of milliseconds, or a timestamp; anything else is refused. */
function milliseconds(name: string, value: unknown): number | null {
  if (value === undefined || value === null) return null;
  if (value instanceof Date) return value.getTime();
  if (typeof value === 'number' && Number.isSafeInteger(value)) return value;
  throw new InvalidAnnotationError(`message annotation ${name} must be a whole number of milliseconds or a timestamp, got ${JSON.stringify(value)}`);
}

/** An annotation the broker acts on has a value it cannot use; the message is refused with amqp:invalid-field. */
export class InvalidAnnotationError extends Error {}

/** application-properties (AMQP 1.0 3.2.5): the queue's group key and JMSXGroupSeq; the last duplicate wins. */
function readApplicationProperties(reader: AmqpReader, fields: InfoFields, groupKey: string | null): void {
  const count = reader.enterCompound('map');
  const end = reader.compoundEnd;
  for (let index = 0; index + 1 < count; index += 2) {
    const key = String(reader.readValue(true));
    if (key === groupKey) fields.groupKeyValue = reader.readValue(true);
    else if (key === JMSX_GROUP_SEQ) fields.jmsGroupSeq = reader.readValue(true);
    else reader.checkValue();
  }
  expectEnd(reader, end, 'application-properties');
}

/** A section's fields take exactly the bytes its list or map declares (AMQP 1.0 1.6.22-24). */
function expectEnd(reader: AmqpReader, end: number, section: string): void {
  if (reader.offset !== end) throw new MalformedMessageError(`the ${section} section's fields end at byte ${reader.offset}, its size says ${end}`);
}

function timestampMs(value: unknown): number | null {
  if (value instanceof Date) return value.getTime();
  if (typeof value === 'number') return value;
  return null;
}

/**
 * The message with header.delivery-count set to `deliveryCount` (AMQP 1.0 3.2.1): the same bytes when it
 * already says so, else a copy in which only the header section is re-encoded (its fields have fixed
 * types); every other byte is kept.
 */
export function withDeliveryCount(bytes: Buffer, deliveryCount: number): Buffer {
  const headerEnd = headerSectionEnd(bytes);
  const header = headerEnd > 0 ? (rheaMessage.decode(bytes.subarray(0, headerEnd)) as unknown as Record<string, unknown>) : {};
  const current = typeof header.delivery_count === 'number' ? header.delivery_count : 0;
  if (current === deliveryCount) return bytes;
  const fields: (Buffer | null)[] = [null, null, null, null, null];
  if (header.durable !== undefined) fields[0] = encodeBoolean(header.durable === true);
  if (typeof header.priority === 'number') fields[1] = Buffer.from([0x50, header.priority & 0xff]);
  if (typeof header.ttl === 'number') fields[2] = encodeUint(header.ttl);
  if (header.first_acquirer !== undefined) fields[3] = encodeBoolean(header.first_acquirer === true);
  fields[4] = encodeUint(deliveryCount);
  const encodedFields = Buffer.concat(fields.map((field) => field ?? Buffer.from([0x40])));
  // described(smallulong 0x70, list8{size, count=5, fields})
  const section = Buffer.concat([Buffer.from([0x00, 0x53, SECTION_HEADER, 0xc0, encodedFields.length + 1, 5]), encodedFields]);
  return Buffer.concat([section, bytes.subarray(headerEnd)]);
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

/** Where the value of the message's amqp-value body section (AMQP 1.0 3.2.8) starts; null when it has none. */
export function bodyValueOffset(bytes: Buffer): number | null {
  let offset = 0;
  while (offset < bytes.length) {
    if (bytes[offset] !== 0x00) throw new MalformedMessageError(`expected a described section at byte ${offset}`);
    const [code, afterDescriptor] = readDescriptorCode(bytes, offset + 1);
    if (code === SECTION_AMQP_VALUE) return afterDescriptor;
    offset = skipValue(bytes, afterDescriptor);
  }
  return null;
}

/** Walks the section descriptors (AMQP 1.0 3.2) to find the end of the header section (0: none). */
function headerSectionEnd(bytes: Buffer): number {
  let offset = 0;
  let headerEnd = 0;
  while (offset < bytes.length) {
    if (bytes[offset] !== 0x00) throw new MalformedMessageError(`expected a described section at byte ${offset}`);
    const [code, afterDescriptor] = readDescriptorCode(bytes, offset + 1);
    if (code >= FIRST_BODY_SECTION) return headerEnd;
    offset = skipValue(bytes, afterDescriptor);
    if (code === SECTION_HEADER) headerEnd = offset;
  }
  return headerEnd;
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

/** Skips one encoded value (AMQP 1.0 1.2) with the same reader readMessageInfo uses; returns its end. */
function skipValue(bytes: Buffer, offset: number): number {
  const reader = new AmqpReader(bytes, offset, bytes.length);
  try {
    reader.checkValue();
  } catch (error) {
    if (error instanceof AmqpDecodeError) throw new MalformedMessageError(error.message);
    throw error;
  }
  return reader.offset;
}

function byteAt(bytes: Buffer, offset: number): number {
  need(bytes, offset + 1);
  return bytes[offset]!;
}

function need(bytes: Buffer, end: number): void {
  if (end > bytes.length) throw new MalformedMessageError('message is truncated');
}
