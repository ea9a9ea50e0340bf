/**
 * The AMQP type of every field of every frame body a client may send to the broker: the performatives
 * (AMQP 1.0 2.7), the SASL frames a client sends (5.3.3), and the composite types they carry (delivery
 * states 3.4, error 2.8.14). frame-check.ts holds each frame to this table before rhea reads it.
 */

/** A field's AMQP type: the encodings it accepts; null: any well-formed value. */
export interface WireType {
  /** How the type is named in an error description. */
  readonly name: string;
  /** Primitive types: the format codes that encode it (AMQP 1.0 1.6). */
  readonly codes?: Uint8Array;
  /** Described lists: the composites the value may be (its descriptor says which). */
  readonly composites?: readonly Composite[];
  /** Maps: what keys and values must be; null: any well-formed value. */
  readonly map?: { readonly keys: WireType | null; readonly values: WireType | null };
}

export interface Field {
  readonly name: string;
  readonly type: WireType | null;
  /** AMQP 1.0 1.4 "mandatory": never null. */
  readonly mandatory?: boolean;
  /** AMQP 1.0 1.4 "multiple": one value of the type, or an array of them. */
  readonly multiple?: boolean;
  /** The values the field allows (numeric types); `orZero`: 0 too. */
  readonly range?: { readonly min: number; readonly max: number; readonly orZero?: boolean; readonly why: string };
  /** The longest value the field allows (binary). */
  readonly maxBytes?: { readonly bytes: number; readonly why: string };
}

/** A described list type (AMQP 1.0 1.3 composite types). */
export interface Composite {
  readonly name: string;
  readonly code: number;
  readonly symbol: string;
  readonly fields: readonly Field[];
}

// Every WireType and Field object has all its properties, in one order: the checker reads them for
// every field of every frame, and objects of one shape keep those reads monomorphic (fast).
function wireType(name: string, parts: Partial<Omit<WireType, 'name'>>): WireType {
  return { name, codes: parts.codes, composites: parts.composites, map: parts.map };
}

function primitive(name: string, codes: number[]): WireType {
  const table = new Uint8Array(256);
  for (const code of codes) table[code] = 1;
  return wireType(name, { codes: table });
}

const BOOLEAN = primitive('boolean', [0x56, 0x41, 0x42]);
const UBYTE = primitive('ubyte', [0x50]);
const USHORT = primitive('ushort', [0x60]);
const UINT = primitive('uint', [0x70, 0x52, 0x43]);
const ULONG = primitive('ulong', [0x80, 0x53, 0x44]);
const BINARY = primitive('binary', [0xa0, 0xb0]);
const STRING = primitive('string', [0xa1, 0xb1]);
const SYMBOL = primitive('symbol', [0xa3, 0xb3]);
/** AMQP 1.0 2.8 "fields": a map keyed by symbols. */
const FIELDS = wireType('map with symbol keys', { map: { keys: SYMBOL, values: null } });

function composite(name: string, code: number, fields: Field[]): Composite {
  const normalized = fields.map(({ name: fieldName, type, mandatory, multiple, range, maxBytes }) => ({
    name: fieldName,
    type,
    mandatory: mandatory === true,
    multiple: multiple === true,
    range,
    maxBytes,
  }));
  return { name, code, symbol: `amqp:${name}:list`, fields: normalized };
}

function oneOf(name: string, composites: Composite[]): WireType {
  return wireType(name, { composites });
}

const RECEIVER_SETTLE_MODES = { min: 0, max: 1, why: 'AMQP 1.0 2.8.3 receiver-settle-mode is 0 or 1' };

/** 2.8.14 error. */
const ERROR_COMPOSITE = composite('error', 0x1d, [
  { name: 'condition', type: SYMBOL, mandatory: true },
  { name: 'description', type: STRING },
  { name: 'info', type: FIELDS },
]);
const ERROR = oneOf('error', [ERROR_COMPOSITE]);

// 3.4 delivery states and outcomes; 4.5.5 declared and 4.5.8 transactional-state (transactions).
const RECEIVED = composite('received', 0x23, [
  { name: 'section-number', type: UINT, mandatory: true },
  { name: 'section-offset', type: ULONG, mandatory: true },
]);
const ACCEPTED = composite('accepted', 0x24, []);
const REJECTED = composite('rejected', 0x25, [{ name: 'error', type: ERROR }]);
const RELEASED = composite('released', 0x26, []);
const MODIFIED = composite('modified', 0x27, [
  { name: 'delivery-failed', type: BOOLEAN },
  { name: 'undeliverable-here', type: BOOLEAN },
  { name: 'message-annotations', type: FIELDS },
]);
const DECLARED = composite('declared', 0x33, [{ name: 'txn-id', type: BINARY, mandatory: true }]);
const OUTCOME = oneOf('outcome', [ACCEPTED, REJECTED, RELEASED, MODIFIED, DECLARED]);
const TRANSACTIONAL_STATE = composite('transactional-state', 0x34, [
  { name: 'txn-id', type: BINARY, mandatory: true },
  { name: 'outcome', type: OUTCOME },
]);
const DELIVERY_STATE = oneOf('delivery-state', [RECEIVED, ACCEPTED, REJECTED, RELEASED, MODIFIED, DECLARED, TRANSACTIONAL_STATE]);

/** The smallest max-frame-size a peer may announce (AMQP 1.0 2.7.1 open, 2.4.1). */
export const MIN_MAX_FRAME_SIZE = 512;
/**
 * The shortest idle-time-out the broker honours (AMQP 1.0 2.4.5: a peer need not support arbitrarily
 * short ones, and closes with an error when it cannot): it sends the peer an empty frame every half of
 * it, and 1 ms would mean two thousand frames a second on one connection.
 */
export const MIN_PEER_IDLE_TIMEOUT_MS = 100;

/** The performatives of the AMQP layer (2.7), all of which a client may send. */
export const OPEN = composite('open', 0x10, [
  { name: 'container-id', type: STRING, mandatory: true },
  { name: 'hostname', type: STRING },
  { name: 'max-frame-size', type: UINT, range: { min: MIN_MAX_FRAME_SIZE, max: 4294967295, why: 'AMQP 1.0 2.7.1: at least 512' } },
  { name: 'channel-max', type: USHORT },
  { name: 'idle-time-out', type: UINT, range: { min: MIN_PEER_IDLE_TIMEOUT_MS, max: 4294967295, orZero: true, why: 'AMQP 1.0 2.4.5: the broker honours 0 (none) or at least 100 ms' } },
  { name: 'outgoing-locales', type: SYMBOL, multiple: true },
  { name: 'incoming-locales', type: SYMBOL, multiple: true },
  { name: 'offered-capabilities', type: SYMBOL, multiple: true },
  { name: 'desired-capabilities', type: SYMBOL, multiple: true },
  { name: 'properties', type: FIELDS },
]);
export const BEGIN = composite('begin', 0x11, [
  { name: 'remote-channel', type: USHORT },
  { name: 'next-outgoing-id', type: UINT, mandatory: true },
  { name: 'incoming-window', type: UINT, mandatory: true },
  { name: 'outgoing-window', type: UINT, mandatory: true },
  { name: 'handle-max', type: UINT },
  { name: 'offered-capabilities', type: SYMBOL, multiple: true },
  { name: 'desired-capabilities', type: SYMBOL, multiple: true },
  { name: 'properties', type: FIELDS },
]);
/**
 * 2.7.3 attach. The settle modes, source, target and properties decide how a link is set up, and a link
 * is refused for them alone (attach-request.ts: amqp:invalid-field or amqp:not-implemented, the
 * connection goes on): here they only need to be well-formed values.
 */
export const ATTACH = composite('attach', 0x12, [
  { name: 'name', type: STRING, mandatory: true },
  { name: 'handle', type: UINT, mandatory: true },
  { name: 'role', type: BOOLEAN, mandatory: true },
  { name: 'snd-settle-mode', type: null },
  { name: 'rcv-settle-mode', type: null },
  { name: 'source', type: null },
  { name: 'target', type: null },
  // 2.7.3: delivery-tag keys, delivery-state values.
  { name: 'unsettled', type: wireType('map of delivery-tag to delivery-state', { map: { keys: BINARY, values: DELIVERY_STATE } }) },
  { name: 'incomplete-unsettled', type: BOOLEAN },
  { name: 'initial-delivery-count', type: UINT },
  { name: 'max-message-size', type: ULONG },
  { name: 'offered-capabilities', type: SYMBOL, multiple: true },
  { name: 'desired-capabilities', type: SYMBOL, multiple: true },
  { name: 'properties', type: null },
]);
export const FLOW = composite('flow', 0x13, [
  { name: 'next-incoming-id', type: UINT },
  { name: 'incoming-window', type: UINT, mandatory: true },
  { name: 'next-outgoing-id', type: UINT, mandatory: true },
  { name: 'outgoing-window', type: UINT, mandatory: true },
  { name: 'handle', type: UINT },
  { name: 'delivery-count', type: UINT },
  { name: 'link-credit', type: UINT },
  { name: 'available', type: UINT },
  { name: 'drain', type: BOOLEAN },
  { name: 'echo', type: BOOLEAN },
  { name: 'properties', type: FIELDS },
]);
/** 2.8.7 delivery-tag: at most 32 bytes. */
export const MAX_DELIVERY_TAG_BYTES = 32;
export const TRANSFER = composite('transfer', 0x14, [
  { name: 'handle', type: UINT, mandatory: true },
  { name: 'delivery-id', type: UINT },
  { name: 'delivery-tag', type: BINARY, maxBytes: { bytes: MAX_DELIVERY_TAG_BYTES, why: 'AMQP 1.0 2.8.7: at most 32 bytes' } },
  { name: 'message-format', type: UINT },
  { name: 'settled', type: BOOLEAN },
  { name: 'more', type: BOOLEAN },
  { name: 'rcv-settle-mode', type: UBYTE, range: RECEIVER_SETTLE_MODES },
  { name: 'state', type: DELIVERY_STATE },
  { name: 'resume', type: BOOLEAN },
  { name: 'aborted', type: BOOLEAN },
  { name: 'batchable', type: BOOLEAN },
]);
export const DISPOSITION = composite('disposition', 0x15, [
  { name: 'role', type: BOOLEAN, mandatory: true },
  { name: 'first', type: UINT, mandatory: true },
  { name: 'last', type: UINT },
  { name: 'settled', type: BOOLEAN },
  { name: 'state', type: DELIVERY_STATE },
  { name: 'batchable', type: BOOLEAN },
]);
export const DETACH = composite('detach', 0x16, [
  { name: 'handle', type: UINT, mandatory: true },
  { name: 'closed', type: BOOLEAN },
  { name: 'error', type: ERROR },
]);
export const END = composite('end', 0x17, [{ name: 'error', type: ERROR }]);
export const CLOSE = composite('close', 0x18, [{ name: 'error', type: ERROR }]);

/**
 * The SASL frames a client sends (5.3.3): sasl-init, and sasl-response (an answer to a challenge).
 * sasl-mechanisms, sasl-challenge and sasl-outcome only ever come from the server.
 */
export const SASL_INIT = composite('sasl-init', 0x41, [
  // Mandatory, but an init without one is answered like one naming an unknown mechanism: outcome auth.
  { name: 'mechanism', type: SYMBOL },
  { name: 'initial-response', type: BINARY },
  { name: 'hostname', type: STRING },
]);
export const SASL_RESPONSE = composite('sasl-response', 0x43, [{ name: 'response', type: BINARY, mandatory: true }]);

export const AMQP_PERFORMATIVES: readonly Composite[] = [OPEN, BEGIN, ATTACH, FLOW, TRANSFER, DISPOSITION, DETACH, END, CLOSE];
export const SASL_CLIENT_FRAMES: readonly Composite[] = [SASL_INIT, SASL_RESPONSE];
/** Frames that exist but that only a server sends: named in errors instead of "unknown". */
export const SASL_SERVER_FRAMES: Readonly<Record<number, string>> = { 0x40: 'sasl-mechanisms', 0x42: 'sasl-challenge', 0x44: 'sasl-outcome' };
