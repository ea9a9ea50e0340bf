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
 * | JMSXDeliveryCount   | header.delivery-count (the broker's count when given) | count + 1                    |
 * | JMSMessageID        | properties.message-id                         | as Qpid JMS renders it (readId)      |
 * | JMSCorrelationID    | properties.correlation-id                     | as Qpid JMS renders it (readId)      |
 * | JMSType             | properties.subject                            | string or NULL                       |
 * | JMSTimestamp        | properties.creation-time                      | ms, 0 when absent                    |
 * | JMSExpiration       | properties.absolute-expiry-time, else the broker's ttl-based expiry | ms, 0: never  |
 * | JMSXUserID          | properties.user-id (UTF-8)                    | string or NULL                       |
 * | JMSXGroupID         | properties.group-id, else application property JMSXGroupID | string or NULL          |
 * | JMSXGroupSeq        | properties.group-sequence as a signed int, else application property JMSXGroupSeq, else 0 | |
 * | anything else       | application-properties (3.2.5) by name        | see readSelectorValue                     |
 *
 * Nothing is read until a selector asks. The first lookup finds the sections (stepping over each by
 * its size); the first lookup in a section indexes it in one pass (where each field, or each key and
 * value, lies); each value is decoded on its first lookup, once. So one accessor serves every selector
 * evaluated against the message, and decodes only what they name. Annotations and the body are never
 * decoded. A section or value that cannot be decoded counts as absent (the broker checked the
 * sections when the message arrived, so this only guards against what that check lets through).
 */

export interface MessageSelectorOptions {
  /** The broker's expiry time for the message (header.ttl from its arrival): JMSExpiration when the message has no absolute-expiry-time. */
  readonly expiresAtMs?: number | null;
  /**
   * The broker's delivery-count for the message: what its next delivery's header will say (the bytes
   * keep the producer's until then), so JMSXDeliveryCount reads what the consumer will see.
   */
  readonly deliveryCount?: number;
}

export function messageSelectorFields(bytes: Buffer, options: MessageSelectorOptions = {}): SelectorFields {
  return new MessageSelectorFields(bytes, options.expiresAtMs ?? null, options.deliveryCount ?? null);
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
const DEFAULT_PRIORITY = 4n;

interface SectionOffsets {
  /** Where each section's value (after its descriptor) starts; -1 when the message has none. */
  header: number;
  properties: number;
  applicationProperties: number;
}

/** Field positions in the header (AMQP 1.0 3.2.1) and properties (3.2.4) lists. */
const HEADER_DURABLE = 0;
const HEADER_PRIORITY = 1;
const HEADER_DELIVERY_COUNT = 4;
const PROPERTIES_MESSAGE_ID = 0;
const PROPERTIES_USER_ID = 1;
const PROPERTIES_SUBJECT = 3;
const PROPERTIES_CORRELATION_ID = 5;
const PROPERTIES_ABSOLUTE_EXPIRY_TIME = 8;
const PROPERTIES_CREATION_TIME = 9;
const PROPERTIES_GROUP_ID = 10;
const PROPERTIES_GROUP_SEQUENCE = 11;

class MessageSelectorFields implements SelectorFields {
  private sections: SectionOffsets | null = null;
  private header: ListSection | null = null;
  private properties: ListSection | null = null;
  private applicationProperties: ApplicationProperties | null = null;

  constructor(
    private readonly bytes: Buffer,
    private readonly expiresAtMs: number | null,
    private readonly deliveryCount: number | null,
  ) {}

  get(identifier: string): SelectorValue | undefined {
    switch (identifier) {
      case 'JMSDeliveryMode':
        return this.headerSection().field(HEADER_DURABLE, readDeliveryMode) ?? 'NON_PERSISTENT';
      case 'JMSPriority':
        return this.headerSection().field(HEADER_PRIORITY, readPriority) ?? DEFAULT_PRIORITY;
      case 'JMSXDeliveryCount':
        if (this.deliveryCount !== null) return BigInt(this.deliveryCount + 1);
        return this.headerSection().field(HEADER_DELIVERY_COUNT, readDeliveryCount) ?? 1n;
      case 'JMSMessageID':
        return this.propertiesSection().field(PROPERTIES_MESSAGE_ID, readMessageId);
      case 'JMSXUserID':
        return this.propertiesSection().field(PROPERTIES_USER_ID, readUserId);
      case 'JMSType':
        return this.propertiesSection().field(PROPERTIES_SUBJECT, readString);
      case 'JMSCorrelationID':
        return this.propertiesSection().field(PROPERTIES_CORRELATION_ID, readCorrelationId);
      case 'JMSExpiration': {
        const absolute = this.propertiesSection().field(PROPERTIES_ABSOLUTE_EXPIRY_TIME, readTimestamp);
        if (absolute !== null && absolute !== 0n) return absolute;
        return this.expiresAtMs === null ? 0n : BigInt(Math.trunc(this.expiresAtMs));
      }
      case 'JMSTimestamp':
        return this.propertiesSection().field(PROPERTIES_CREATION_TIME, readTimestamp) ?? 0n;
      case 'JMSXGroupID':
        return this.propertiesSection().field(PROPERTIES_GROUP_ID, readString) ?? this.applicationPropertiesSection().get(identifier);
      case 'JMSXGroupSeq':
        return this.propertiesSection().field(PROPERTIES_GROUP_SEQUENCE, readGroupSequence) ?? this.applicationPropertiesSection().get(identifier) ?? 0n;
      default:
        return this.applicationPropertiesSection().get(identifier);
    }
  }

  private sectionOffsets(): SectionOffsets {
    this.sections ??= locateSections(this.bytes);
    return this.sections;
  }

  private headerSection(): ListSection {
    this.header ??= indexOrAbsent((bytes, at) => new ListSection(bytes, at), this.bytes, this.sectionOffsets().header);
    return this.header;
  }

  private propertiesSection(): ListSection {
    this.properties ??= indexOrAbsent((bytes, at) => new ListSection(bytes, at), this.bytes, this.sectionOffsets().properties);
    return this.properties;
  }

  private applicationPropertiesSection(): ApplicationProperties {
    this.applicationProperties ??= indexOrAbsent((bytes, at) => new ApplicationProperties(bytes, at), this.bytes, this.sectionOffsets().applicationProperties);
    return this.applicationProperties;
  }
}

/** Indexes the section at `at`; an absent or undecodable section gives an empty index. */
function indexOrAbsent<T>(index: (bytes: Buffer, at: number) => T, bytes: Buffer, at: number): T {
  if (at < 0) return index(bytes, -1);
  try {
    return index(bytes, at);
  } catch (error) {
    if (error instanceof AmqpDecodeError) return index(bytes, -1);
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
      skipBySize(reader);
    }
  } catch (error) {
    if (!(error instanceof AmqpDecodeError)) throw error;
  }
  return found;
}

/**
 * Steps over a section's list or map by its encoded size (AMQP 1.0 1.6.22-25), without visiting its
 * elements: the broker checked them when the message arrived, and whichever section is used is
 * checked again as it is decoded. Anything else is skipped value by value.
 */
function skipBySize(reader: AmqpReader): void {
  const at = reader.offset;
  const code = reader.peekFormatCode();
  const bytes = reader.bytes;
  let end: number;
  if ((code === 0xc0 || code === 0xc1) && at + 2 <= reader.end) end = at + 2 + bytes[at + 1]!;
  else if ((code === 0xd0 || code === 0xd1) && at + 5 <= reader.end) end = at + 5 + bytes.readUInt32BE(at + 1);
  else return reader.skipValue();
  if (end > reader.end) throw new AmqpDecodeError('section is truncated');
  reader.offset = end;
}

/** A section's values, each decoded on first use and kept; one that cannot be decoded is null. */
abstract class DecodedOnce {
  private readonly values: (SelectorValue | undefined)[] = [];

  constructor(protected readonly bytes: Buffer) {}

  protected decodeOnce(slot: number, at: number, read: (reader: AmqpReader) => SelectorValue): SelectorValue {
    let value = this.values[slot];
    if (value === undefined) {
      try {
        value = read(new AmqpReader(this.bytes, at, this.bytes.length));
      } catch (error) {
        if (!(error instanceof AmqpDecodeError)) throw error;
        value = null;
      }
      this.values[slot] = value;
    }
    return value;
  }
}

/**
 * A list section (header 3.2.1, properties 3.2.4), indexed in one pass on first use: where each field
 * starts. A field past the end of the list is null.
 */
class ListSection extends DecodedOnce {
  private readonly starts: number[] = [];

  constructor(bytes: Buffer, at: number) {
    super(bytes);
    if (at < 0) return;
    const reader = new AmqpReader(bytes, at, bytes.length);
    const count = reader.enterCompound('list');
    for (let index = 0; index < count; index++) {
      this.starts.push(reader.offset);
      reader.skipValue();
    }
  }

  field(index: number, read: (reader: AmqpReader) => SelectorValue): SelectorValue {
    return index < this.starts.length ? this.decodeOnce(index, this.starts[index]!, read) : null;
  }
}

function readDeliveryMode(reader: AmqpReader): string | null {
  const durable = reader.readValue(false);
  return durable === null ? null : durable === true ? 'PERSISTENT' : 'NON_PERSISTENT';
}

/** JMS priorities are 0..9; Qpid JMS and Artemis read a larger AMQP priority as 9. */
function readPriority(reader: AmqpReader): bigint | null {
  const priority = reader.readValue(false);
  return typeof priority === 'number' ? BigInt(Math.min(priority, MAX_JMS_PRIORITY)) : null;
}

/** JMSXDeliveryCount counts this delivery too: delivery-count + 1. */
function readDeliveryCount(reader: AmqpReader): bigint | null {
  const deliveryCount = reader.readValue(false);
  return typeof deliveryCount === 'number' ? BigInt(deliveryCount + 1) : null;
}

/**
 * application-properties (AMQP 1.0 3.2.5), indexed in one pass on first use: where each string key
 * lies in the bytes and where its value starts. A lookup compares the identifier with the keys'
 * bytes, so no key becomes a string, and decodes the value it finds, once. The last of duplicate
 * keys wins; keys that are not strings are skipped.
 */
class ApplicationProperties extends DecodedOnce {
  /** Per string key: its first byte, the byte after it, and where its value starts. */
  private readonly entries: number[] = [];

  constructor(bytes: Buffer, at: number) {
    super(bytes);
    if (at < 0) return;
    const reader = new AmqpReader(bytes, at, bytes.length);
    const count = reader.enterCompound('map');
    for (let index = 0; index + 1 < count; index += 2) {
      const keyAt = reader.offset;
      const code = reader.peekFormatCode();
      reader.skipValue();
      // str8-utf8, sym8, str32-utf8, sym32: the characters follow a 1- or 4-byte size.
      if (code === 0xa1 || code === 0xa3 || code === 0xb1 || code === 0xb3) this.entries.push(keyAt + (code < 0xb0 ? 2 : 5), reader.offset, reader.offset);
      reader.skipValue();
    }
  }

  get(identifier: string): SelectorValue | undefined {
    const byteLength = Buffer.byteLength(identifier);
    const ascii = byteLength === identifier.length;
    for (let entry = this.entries.length - 3; entry >= 0; entry -= 3) {
      const start = this.entries[entry]!;
      if (this.entries[entry + 1]! - start !== byteLength) continue;
      if (ascii ? this.asciiKeyIs(start, identifier) : this.bytes.toString('utf8', start, start + byteLength) === identifier) {
        return this.decodeOnce(entry, this.entries[entry + 2]!, readSelectorValue);
      }
    }
    return undefined;
  }

  private asciiKeyIs(start: number, identifier: string): boolean {
    for (let index = 0; index < identifier.length; index++) if (this.bytes[start + index] !== identifier.charCodeAt(index)) return false;
    return true;
  }
}

/**
 * An application property as a selector value (AMQP 1.0 1.6 types to JMS types): every integer type,
 * signed or not, is an exact numeric (a ulong keeps its unsigned value; Artemis wraps it negative);
 * float and double are approximate; string and symbol are strings; boolean is itself; null is NULL.
 * Anything else (binary, timestamp, uuid, char, decimals, lists, maps, arrays, described values) is
 * present but not comparable (a symbol), as such properties are in Artemis.
 */
function readSelectorValue(reader: AmqpReader): SelectorValue {
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

function readMessageId(reader: AmqpReader): string | null {
  return readId(reader, 'message');
}

function readCorrelationId(reader: AmqpReader): string | null {
  return readId(reader, 'correlation');
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
  return reader.peekFormatCode() === 0x83 ? readFixed(reader, (bytes, at) => bytes.readBigInt64BE(at)) : null;
}

/** group-sequence (uint) as JMSXGroupSeq: Qpid JMS reads it as a Java int, so 4294967295 is -1. */
function readGroupSequence(reader: AmqpReader): bigint | null {
  const value = reader.readValue(false);
  return typeof value === 'number' ? BigInt(value | 0) : null;
}
