import { NON_JMS_VALUE, type SelectorFields, type SelectorValue } from '../selector/values';
import { AmqpDecodeError, AmqpReader } from './amqp-reader';

/**
 * What a JMS message selector reads from an encoded AMQP message (AMQP 1.0 3.2), named and typed the
 * way a Qpid JMS application reading the message sees it, so a selector written against what an
 * application received selects the same messages:
 *
 * | identifier          | AMQP source                                   | value                                |
 * |---------------------|-----------------------------------------------|--------------------------------------|
 * | JMSDeliveryMode     | header.durable                                | 'PERSISTENT' / 'NON_PERSISTENT'      |
 * | JMSPriority         | header.priority                               | 0..9 (above 9 reads 9), default 4    |
 * | JMSXDeliveryCount   | header.delivery-count                         | count + 1                            |
 * | JMSMessageID        | properties.message-id                         | as Qpid JMS renders it (readId)      |
 * | JMSCorrelationID    | properties.correlation-id                     | as Qpid JMS renders it (readId)      |
 * | JMSType             | properties.subject                            | string or NULL                       |
 * | JMSTimestamp        | properties.creation-time                      | ms, 0 when absent                    |
 * | JMSExpiration       | properties.absolute-expiry-time, else the broker's ttl-based expiry | ms, 0: never  |
 * | JMSXUserID          | properties.user-id (UTF-8)                    | string or NULL                       |
 * | JMSXGroupID         | properties.group-id, else application property JMSXGroupID | string or NULL          |
 * | JMSXGroupSeq        | properties.group-sequence as a signed int, else application property JMSXGroupSeq, else 0 | |
 * | anything else       | application-properties (3.2.5) by name        | see readJmsValue                     |
 *
 * Sections are found on the first lookup and each is decoded on the first lookup that needs it,
 * once: one accessor serves every selector evaluated against the message. Annotations and the body
 * are never decoded. A section that cannot be decoded counts as absent (the broker checked the
 * sections when the message arrived, so this only guards against what that check lets through).
 */

export interface MessageSelectorOptions {
  /** The broker's expiry time for the message (header.ttl from its arrival): JMSExpiration when the message has no absolute-expiry-time. */
  readonly expiresAtMs?: number | null;
}

export function messageSelectorFields(bytes: Buffer, options: MessageSelectorOptions = {}): SelectorFields {
  return new MessageSelectorFields(bytes, options.expiresAtMs ?? null);
}

const SECTION_HEADER = 0x70;
const SECTION_DELIVERY_ANNOTATIONS = 0x71;
const SECTION_MESSAGE_ANNOTATIONS = 0x72;
const SECTION_PROPERTIES = 0x73;
const SECTION_APPLICATION_PROPERTIES = 0x74;
/** Section descriptors by symbolic name (AMQP 1.0 3.2), for the sections before the body. */
const SYMBOLIC_SECTION_CODES: ReadonlyMap<string, number> = new Map([
  ['amqp:header:list', SECTION_HEADER],
  ['amqp:delivery-annotations:map', SECTION_DELIVERY_ANNOTATIONS],
  ['amqp:message-annotations:map', SECTION_MESSAGE_ANNOTATIONS],
  ['amqp:properties:list', SECTION_PROPERTIES],
  ['amqp:application-properties:map', SECTION_APPLICATION_PROPERTIES],
]);
const MAX_JMS_PRIORITY = 9;
const DEFAULT_PRIORITY = 4;

interface SectionOffsets {
  /** Where each section's value (after its descriptor) starts; -1 when the message has none. */
  header: number;
  properties: number;
  applicationProperties: number;
}

interface HeaderValues {
  readonly deliveryMode: string;
  readonly priority: bigint;
  readonly deliveryCount: bigint;
}

interface PropertyValues {
  readonly messageId: string | null;
  readonly userId: string | null;
  readonly subject: string | null;
  readonly correlationId: string | null;
  readonly absoluteExpiryTime: bigint | null;
  readonly creationTime: bigint | null;
  readonly groupId: string | null;
  readonly groupSequence: bigint | null;
}

class MessageSelectorFields implements SelectorFields {
  private sections: SectionOffsets | null = null;
  private header: HeaderValues | null = null;
  private properties: PropertyValues | null = null;
  private applicationProperties: Map<string, SelectorValue> | null = null;

  constructor(
    private readonly bytes: Buffer,
    private readonly expiresAtMs: number | null,
  ) {}

  get(identifier: string): SelectorValue | undefined {
    switch (identifier) {
      case 'JMSDeliveryMode':
        return this.headerValues().deliveryMode;
      case 'JMSPriority':
        return this.headerValues().priority;
      case 'JMSXDeliveryCount':
        return this.headerValues().deliveryCount;
      case 'JMSMessageID':
        return this.propertyValues().messageId;
      case 'JMSCorrelationID':
        return this.propertyValues().correlationId;
      case 'JMSType':
        return this.propertyValues().subject;
      case 'JMSTimestamp':
        return this.propertyValues().creationTime ?? 0n;
      case 'JMSExpiration': {
        const absolute = this.propertyValues().absoluteExpiryTime;
        if (absolute !== null && absolute !== 0n) return absolute;
        return this.expiresAtMs === null ? 0n : BigInt(Math.trunc(this.expiresAtMs));
      }
      case 'JMSXUserID':
        return this.propertyValues().userId;
      case 'JMSXGroupID':
        return this.propertyValues().groupId ?? this.applicationPropertyValues().get(identifier);
      case 'JMSXGroupSeq':
        return this.propertyValues().groupSequence ?? this.applicationPropertyValues().get(identifier) ?? 0n;
      default:
        return this.applicationPropertyValues().get(identifier);
    }
  }

  private sectionOffsets(): SectionOffsets {
    this.sections ??= locateSections(this.bytes);
    return this.sections;
  }

  private headerValues(): HeaderValues {
    this.header ??= decodeOrAbsent(readHeader, this.bytes, this.sectionOffsets().header);
    return this.header;
  }

  private propertyValues(): PropertyValues {
    this.properties ??= decodeOrAbsent(readProperties, this.bytes, this.sectionOffsets().properties);
    return this.properties;
  }

  private applicationPropertyValues(): Map<string, SelectorValue> {
    this.applicationProperties ??= decodeOrAbsent(readApplicationProperties, this.bytes, this.sectionOffsets().applicationProperties);
    return this.applicationProperties;
  }
}

/** Decodes the section at `at`, or gives what an absent section reads as when it is absent or undecodable. */
function decodeOrAbsent<T>(read: (bytes: Buffer, at: number) => T, bytes: Buffer, at: number): T {
  if (at < 0) return read(bytes, -1);
  try {
    return read(bytes, at);
  } catch (error) {
    if (error instanceof AmqpDecodeError) return read(bytes, -1);
    throw error;
  }
}

/**
 * One walk over the section descriptors before the body (AMQP 1.0 3.2), skipping each section's
 * value. It stands in for message-sections.ts's readDescriptorCode, which that file does not export.
 */
function locateSections(bytes: Buffer): SectionOffsets {
  const found: SectionOffsets = { header: -1, properties: -1, applicationProperties: -1 };
  const reader = new AmqpReader(bytes, 0, bytes.length);
  try {
    while (!reader.atEnd && reader.peekFormatCode() === 0x00) {
      reader.offset++;
      const descriptor = reader.readValue(false);
      const code = typeof descriptor === 'string' ? SYMBOLIC_SECTION_CODES.get(descriptor) : descriptor;
      if (code === SECTION_HEADER) found.header = reader.offset;
      else if (code === SECTION_PROPERTIES) found.properties = reader.offset;
      else if (code === SECTION_APPLICATION_PROPERTIES) found.applicationProperties = reader.offset;
      else if (code !== SECTION_DELIVERY_ANNOTATIONS && code !== SECTION_MESSAGE_ANNOTATIONS) break; // the body, a footer, or unknown
      reader.skipValue();
    }
  } catch (error) {
    if (!(error instanceof AmqpDecodeError)) throw error;
  }
  return found;
}

/** header (AMQP 1.0 3.2.1): durable (0), priority (1), delivery-count (4). */
function readHeader(bytes: Buffer, at: number): HeaderValues {
  const [durable, priority, , , deliveryCount] = readListFields(bytes, at, 5, (reader) => reader.readValue(false));
  const priorityValue = typeof priority === 'number' ? Math.min(priority, MAX_JMS_PRIORITY) : DEFAULT_PRIORITY;
  return {
    deliveryMode: durable === true ? 'PERSISTENT' : 'NON_PERSISTENT',
    priority: BigInt(priorityValue),
    deliveryCount: BigInt((typeof deliveryCount === 'number' ? deliveryCount : 0) + 1),
  };
}

const PROPERTY_READERS: readonly ((reader: AmqpReader) => string | bigint | null)[] = [
  (reader) => readId(reader, 'message'), // message-id (0)
  readUserId, // user-id (1)
  skipField, // to (2)
  readString, // subject (3)
  skipField, // reply-to (4)
  (reader) => readId(reader, 'correlation'), // correlation-id (5)
  skipField, // content-type (6)
  skipField, // content-encoding (7)
  readTimestamp, // absolute-expiry-time (8)
  readTimestamp, // creation-time (9)
  readString, // group-id (10)
  readGroupSequence, // group-sequence (11)
];

/** properties (AMQP 1.0 3.2.4). */
function readProperties(bytes: Buffer, at: number): PropertyValues {
  const fields = readListFields(bytes, at, PROPERTY_READERS.length, (reader, index) => PROPERTY_READERS[index]!(reader));
  const field = <T>(index: number): T | null => (fields[index] ?? null) as T | null;
  return {
    messageId: field<string>(0),
    userId: field<string>(1),
    subject: field<string>(3),
    correlationId: field<string>(5),
    absoluteExpiryTime: field<bigint>(8),
    creationTime: field<bigint>(9),
    groupId: field<string>(10),
    groupSequence: field<bigint>(11),
  };
}

/**
 * The first `wanted` fields of the list at `at`, each decoded by `read`; fields past the end of the
 * list are undefined, and so is every field when `at` is -1 (no such section).
 */
function readListFields<T>(bytes: Buffer, at: number, wanted: number, read: (reader: AmqpReader, index: number) => T): (T | undefined)[] {
  const fields: (T | undefined)[] = new Array<T | undefined>(wanted).fill(undefined);
  if (at < 0) return fields;
  const reader = new AmqpReader(bytes, at, bytes.length);
  const count = Math.min(reader.enterCompound('list'), wanted);
  for (let index = 0; index < count; index++) fields[index] = read(reader, index);
  return fields;
}

/** application-properties (AMQP 1.0 3.2.5): a map with string keys; the last of duplicate keys wins. */
function readApplicationProperties(bytes: Buffer, at: number): Map<string, SelectorValue> {
  const values = new Map<string, SelectorValue>();
  if (at < 0) return values;
  const reader = new AmqpReader(bytes, at, bytes.length);
  const count = reader.enterCompound('map');
  for (let index = 0; index + 1 < count; index += 2) {
    const key = reader.readValue(true);
    if (typeof key === 'string') values.set(key, readJmsValue(reader));
    else reader.skipValue();
  }
  return values;
}

/**
 * An application property as a selector value (AMQP 1.0 1.6 types to JMS types): every integer type,
 * signed or not, is an exact numeric (a ulong keeps its unsigned value; Artemis wraps it negative);
 * float and double are approximate; string and symbol are strings; boolean is itself; null is NULL.
 * Anything else (binary, timestamp, uuid, char, decimals, lists, maps, arrays, described values) is
 * present but not comparable (NON_JMS_VALUE), as such properties are in Artemis.
 */
function readJmsValue(reader: AmqpReader): SelectorValue {
  const code = reader.peekFormatCode();
  switch (code) {
    case 0x40: // null
    case 0x41: // true
    case 0x42: // false
    case 0x56: // boolean
    case 0xa1: // str8-utf8
    case 0xb1: // str32-utf8
    case 0xa3: // sym8
    case 0xb3: // sym32
      return reader.readValue(false) as SelectorValue;
    case 0x43: // uint0
    case 0x44: // ulong0
    case 0x50: // ubyte
    case 0x51: // byte
    case 0x52: // smalluint
    case 0x53: // smallulong
    case 0x54: // smallint
    case 0x55: // smalllong
    case 0x60: // ushort
    case 0x61: // short
    case 0x70: // uint
    case 0x71: // int
      return BigInt(reader.readValue(false) as number);
    case 0x80: // ulong
      return readFixed(reader, (bytes, at) => bytes.readBigUInt64BE(at));
    case 0x81: // long
      return readFixed(reader, (bytes, at) => bytes.readBigInt64BE(at));
    case 0x72: // float
      return readFixed(reader, (bytes, at) => bytes.readFloatBE(at));
    case 0x82: // double
      return readFixed(reader, (bytes, at) => bytes.readDoubleBE(at));
    default:
      reader.skipValue();
      return NON_JMS_VALUE;
  }
}

/** A fixed-width value read straight from the bytes after its format code; skipValue checks the bounds first. */
function readFixed<T>(reader: AmqpReader, read: (bytes: Buffer, at: number) => T): T {
  const at = reader.offset + 1;
  reader.skipValue();
  return read(reader.bytes, at);
}

/** Qpid JMS's prefixes for ids that are not strings, and for strings that look like one (AmqpMessageIdHelper). */
const ID_TYPE_PREFIXES = ['AMQP_BINARY:', 'AMQP_UUID:', 'AMQP_ULONG:', 'AMQP_STRING:', 'AMQP_NO_PREFIX:'];

/**
 * message-id or correlation-id (AMQP 1.0 3.2.4: ulong, uuid, binary or string) as Qpid JMS shows it
 * in JMSMessageID / JMSCorrelationID (AmqpMessageIdHelper.toMessageIdString / toCorrelationIdString):
 * - string "ID:..." as is ("ID:AMQP_STRING:ID:..." when what follows "ID:" is one of the prefixes);
 * - string without "ID:": a message id reads "ID:AMQP_NO_PREFIX:<id>", a correlation id as is;
 * - ulong "ID:AMQP_ULONG:<decimal>", uuid "ID:AMQP_UUID:<lower-case 8-4-4-4-12>",
 *   binary "ID:AMQP_BINARY:<upper-case hex>".
 * Artemis's own JMSMessageID filter shows ids differently ("ID:" + the value's toString); following
 * Qpid JMS lets an application select a message by the id it read from it.
 */
function readId(reader: AmqpReader, kind: 'message' | 'correlation'): string | null {
  const at = reader.offset;
  const code = reader.peekFormatCode();
  if (code === 0xa1 || code === 0xb1) {
    const id = reader.readValue(false) as string;
    if (!id.startsWith('ID:')) return kind === 'message' ? `ID:AMQP_NO_PREFIX:${id}` : id;
    return ID_TYPE_PREFIXES.some((prefix) => id.startsWith(prefix, 3)) ? `ID:AMQP_STRING:${id}` : id;
  }
  reader.skipValue();
  const bytes = reader.bytes;
  switch (code) {
    case 0x44: // ulong0
      return 'ID:AMQP_ULONG:0';
    case 0x53: // smallulong
      return `ID:AMQP_ULONG:${bytes[at + 1]}`;
    case 0x80: // ulong
      return `ID:AMQP_ULONG:${bytes.readBigUInt64BE(at + 1)}`;
    case 0x98: {
      const hex = bytes.toString('hex', at + 1, at + 17);
      return `ID:AMQP_UUID:${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
    }
    case 0xa0: // vbin8
    case 0xb0: // vbin32
      return `ID:AMQP_BINARY:${bytes.toString('hex', at + (code === 0xa0 ? 2 : 5), reader.offset).toUpperCase()}`;
    default:
      return null;
  }
}

/** user-id (binary) read as UTF-8, as Qpid JMS's JMSXUserID; empty reads as NULL. */
function readUserId(reader: AmqpReader): string | null {
  const value = reader.readValue(false);
  return Buffer.isBuffer(value) && value.length > 0 ? value.toString('utf8') : null;
}

function readString(reader: AmqpReader): string | null {
  const value = reader.readValue(false);
  return typeof value === 'string' ? value : null;
}

/** A timestamp (ms since the epoch, a signed 64-bit integer), exactly. */
function readTimestamp(reader: AmqpReader): bigint | null {
  if (reader.peekFormatCode() !== 0x83) {
    reader.skipValue();
    return null;
  }
  return readFixed(reader, (bytes, at) => bytes.readBigInt64BE(at));
}

/** group-sequence (uint) as JMSXGroupSeq: Qpid JMS reads it as a Java int, so 4294967295 is -1. */
function readGroupSequence(reader: AmqpReader): bigint | null {
  const value = reader.readValue(false);
  return typeof value === 'number' ? BigInt(value | 0) : null;
}

function skipField(reader: AmqpReader): null {
  reader.skipValue();
  return null;
}
