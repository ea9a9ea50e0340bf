import { message as rheaMessage, types as rheaTypes, type Connection, type Delivery, type Receiver, type Sender } from 'rhea';

/**
 * rhea fields that its typings do not declare but a broker has to read or set. Kept in one place so
 * that an upgrade of rhea has one file to check.
 */
export interface LinkInternals {
  local: { attach: Record<string, unknown> };
  /** The peer's attach and, once it detached, its detach (2.7.3, 2.7.6). */
  remote: { attach?: Record<string, unknown>; detach?: { closed?: boolean } };
  /** Transfers actually written (AMQP 1.0 2.6.7 delivery-count, sender side). */
  delivery_count: number;
  credit: number;
  _draining?: boolean;
  _incomplete?: { frames?: Buffer[] };
  /** The session's ring of outgoing deliveries not yet settled at both ends (rhea session.js). */
  session: { outgoing: { deliveries: { available(): number } } };
}

/**
 * A receiver's credit as rhea keeps it (link.js Receiver): rhea only adds credit (`flow`); a broker
 * relaying a consumer's credit upstream sets it (AMQP 1.0 2.6.7: link-credit is the receiver's to set,
 * and so is drain).
 */
export interface ReceiverInternals {
  credit: number;
  drain: boolean;
  issue_flow: boolean;
}

export function receiverInternals(receiver: Receiver): ReceiverInternals {
  return receiver as unknown as ReceiverInternals;
}

export interface TransferFrame {
  channel: number;
  performative: { message_format?: number | null; more?: boolean; aborted?: boolean; handle: number; delivery_id?: number };
  payload?: Buffer;
}

export interface ConnectionInternals {
  input(chunk: Buffer): void;
  /** Writes every encoded frame to the socket; rhea calls it after each frame it encodes. */
  output(): void;
  /** Queues one AMQP frame (2.3.2): the only place rhea hands AMQP frames to its transport. */
  _write_frame(channel?: number, performative?: unknown, payload?: Buffer): void;
  /** The AMQP layer's transport (behind the SASL layer until SASL completes). */
  amqp_transport: AmqpTransportInternals;
  on_transfer(frame: TransferFrame): void;
  remote_channel_map: Record<number, { remote: { handles: Record<number, Receiver | Sender> } }>;
  local: { close: Record<string, unknown> };
  /** The peer's open and close performatives, once received. */
  remote: { open?: { properties?: unknown }; close?: unknown };
  is_open(): boolean;
  _process(): void;
  /** Asks rhea to process the connection (write pending frames) on the next tick. */
  _register(): void;
  socket?: { destroy(): void; end(): void };
}

export interface AmqpTransportInternals {
  header_received?: unknown;
  read_complete: boolean;
  /** Reads and dispatches the whole frames at the start of `buffer`; returns the bytes consumed. */
  read(buffer: Buffer): number;
  /** Writes the protocol header if not yet sent, then the queued frames. */
  write(socket: unknown): void;
  has_writes_pending(): boolean;
  header_sent?: unknown;
}

export function linkInternals(link: Sender | Receiver): LinkInternals {
  return link as unknown as LinkInternals;
}

export function connectionInternals(connection: Connection): ConnectionInternals {
  return connection as unknown as ConnectionInternals;
}

/** Our bookkeeping carried on a rhea delivery. */
export interface DeliveryTag {
  convoyDeliveryId?: number;
  convoySettled?: boolean;
  /** The txn-id of the transactional-state the client settled it with (AMQP 1.0 4.4.2); undefined outside a transaction. */
  convoyTxnId?: unknown;
  /** Which backend of the link the delivery came from (src/amqp/consumer-link.ts). */
  convoyGeneration?: number;
  /** Bytes of a paged body read back from the store for this delivery, counted until it is settled. */
  convoyReadBackBytes?: number;
}

export function tagOf(delivery: Delivery): DeliveryTag {
  return delivery as unknown as DeliveryTag;
}

/** rhea's encoder (types.Writer): `write` encodes a typed value such as a performative. */
export interface RheaValueWriter {
  buffer: Buffer;
  position: number;
  write(value: unknown): void;
  write_bytes(bytes: Buffer): void;
  ensure(length: number): void;
}

export function rheaValueWriter(buffer: Buffer): RheaValueWriter {
  const Writer = (rheaTypes as unknown as { Writer: new (buffer: Buffer) => RheaValueWriter }).Writer;
  return new Writer(buffer);
}

/** rhea's decoder for one encoded value (types.Reader); its typings leave the class out of `types`. */
export interface RheaValueReader {
  /** Bytes consumed so far. */
  readonly position: number;
  read(): unknown;
}

export function rheaValueReader(bytes: Buffer): RheaValueReader {
  const Reader = (rheaTypes as unknown as { Reader: new (buffer: Buffer) => RheaValueReader }).Reader;
  return new Reader(bytes);
}

/** A delivery state (AMQP 1.0 3.4) as rhea builds it for a disposition. */
export type DescribedOutcome = unknown;

/** rhea's outcome constructors (message.js define_outcome); its typings leave them out. */
export const rheaOutcomes = rheaMessage as unknown as {
  accepted(): { described(): DescribedOutcome };
  released(): { described(): DescribedOutcome };
  rejected(fields: { error?: unknown }): { described(): DescribedOutcome };
  modified(fields?: Record<string, unknown>): { described(): DescribedOutcome };
};

/** rhea's outcome view (message.js define_outcome): `constructor.composite_type` names the outcome. */
export interface RheaOutcome {
  constructor: { composite_type?: string };
}

/**
 * A decoded delivery state or default-outcome (AMQP 1.0 3.4) as rhea's outcome object, or null when it
 * is not one rhea knows (rhea's own unwrap_outcome would log it to the console).
 */
export function unwrapRheaOutcome(value: unknown): RheaOutcome | null {
  const outcomes = rheaMessage as unknown as Record<string, (value: unknown) => unknown>;
  const known = ['accepted', 'rejected', 'released', 'modified', 'received'].some((name) => outcomes[`is_${name}`]!(value) === true);
  return known ? (outcomes.unwrap_outcome!(value) as RheaOutcome) : null;
}
