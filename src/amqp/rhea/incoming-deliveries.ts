import { message as rheaMessage, type Receiver } from 'rhea';
import { detachFromRead } from '../message-copies';
import { nextSerial } from '../serial-numbers';
import { rheaOutcomes } from './internals';

/** rhea's per-session incoming state (session.js Incoming). */
export interface IncomingInternals {
  next_transfer_id: number;
  next_delivery_id: number | undefined;
  deliveries: { push(delivery: unknown): void };
  update(delivery: IncomingDelivery, settled: boolean, state: unknown): void;
  on_transfer(frame: IncomingTransferFrame, receiver: Receiver): void;
}

export interface IncomingTransferFrame {
  performative: {
    delivery_id?: number | null;
    delivery_tag?: Buffer;
    message_format?: number | null;
    settled?: boolean;
    state?: unknown;
    more?: boolean;
  };
  payload?: Buffer;
}

interface ReceiverInternals {
  _incomplete?: IncomingDelivery;
  credit: number;
  delivery_count: number;
  local: { attach: { rcv_settle_mode?: number } };
  is_remote_open(): boolean;
  dispatch(event: string, context: unknown): void;
  _context(fields: Record<string, unknown>): unknown;
}

const RCV_SETTLE_MODE_SECOND = 1; // AMQP 1.0 2.8.3 receiver-settle-mode "second"
/** Outcome states never change once built; the common one is built once. */
const ACCEPTED = rheaOutcomes.accepted().described();

/**
 * rhea's incoming delivery, with its methods on a prototype: rhea builds six closures for every
 * delivery it receives. Same fields and the same behaviour (session.js Incoming.on_transfer).
 */
export class IncomingDelivery {
  settled = false;
  state: unknown = undefined;
  incomplete = false;
  frames: Buffer[] | undefined;

  constructor(
    readonly id: number,
    readonly tag: Buffer | undefined,
    readonly format: number | null | undefined,
    readonly link: Receiver,
    public remote_settled: boolean,
    public remote_state: unknown,
    firstFrame: Buffer | undefined,
    private readonly incoming: IncomingInternals,
  ) {
    this.frames = firstFrame ? [firstFrame] : [];
  }

  /** Settles (by default unless the receiver settles second) and/or sets the local state (2.7.6 disposition). */
  update(settled?: boolean, state?: unknown): void {
    const settle = settled ?? (this.link as unknown as ReceiverInternals).local.attach.rcv_settle_mode !== RCV_SETTLE_MODE_SECOND;
    this.incoming.update(this, settle, state);
  }

  accept(): void {
    this.update(undefined, ACCEPTED);
  }

  release(params?: Record<string, unknown>): void {
    this.update(undefined, params ? rheaOutcomes.modified(params).described() : rheaOutcomes.released().described());
  }

  reject(error?: unknown): void {
    this.update(undefined, rheaOutcomes.rejected({ error }).described());
  }

  modified(params?: Record<string, unknown>): void {
    this.update(undefined, rheaOutcomes.modified(params).described());
  }
}

/** Index of the state field among a transfer's fields (AMQP 1.0 2.7.5). */
const TRANSFER_STATE_FIELD = 7;

/**
 * The transfer's delivery state with its descriptor. rhea's getter for a transfer's state unwraps it to
 * its bare fields, and then a transactional-state (4.5.6) cannot be told from any other list; the
 * composite keeps the decoded field itself in its list of fields.
 */
function stateOf(performative: IncomingTransferFrame['performative']): unknown {
  const fields = (performative as { value?: unknown }).value;
  const raw = Array.isArray(fields) ? (fields[TRANSFER_STATE_FIELD] as { descriptor?: unknown } | undefined) : undefined;
  return raw?.descriptor !== undefined ? raw : performative.state;
}

/** Replaces one session's `incoming.on_transfer` with the same logic using IncomingDelivery. */
export function buildDeliveriesOnPrototype(incoming: IncomingInternals): void {
  incoming.on_transfer = (frame, receiver) => onTransfer(incoming, frame, receiver);
}

/** session.js Incoming.on_transfer: assembles multi-frame deliveries (2.6.14) and reports each message. */
function onTransfer(incoming: IncomingInternals, frame: IncomingTransferFrame, receiver: Receiver): void {
  incoming.next_transfer_id++;
  const link = receiver as unknown as ReceiverInternals;
  if (!link.is_remote_open()) throw Error('transfer after detach');
  const performative = frame.performative;
  if (incoming.next_delivery_id === undefined) incoming.next_delivery_id = performative.delivery_id ?? undefined;
  let current: IncomingDelivery;
  if (link._incomplete) {
    current = link._incomplete;
    if (performative.delivery_id !== undefined && performative.delivery_id !== null && current.id !== performative.delivery_id) {
      throw Error(`frame sequence error: delivery ${current.id} not complete, got ${performative.delivery_id}`);
    }
    if (frame.payload) current.frames!.push(frame.payload);
  } else if (incoming.next_delivery_id !== undefined && incoming.next_delivery_id === performative.delivery_id) {
    current = new IncomingDelivery(
      incoming.next_delivery_id,
      performative.delivery_tag,
      performative.message_format,
      receiver,
      performative.settled === undefined ? false : performative.settled,
      stateOf(performative),
      frame.payload,
      incoming,
    );
    incoming.deliveries.push(current);
    incoming.next_delivery_id = nextSerial(incoming.next_delivery_id);
  } else {
    throw Error(`frame sequence error: expected ${incoming.next_delivery_id}, got ${performative.delivery_id}`);
  }
  current.incomplete = performative.more === true;
  if (current.incomplete) {
    link._incomplete = current;
    return;
  }
  link._incomplete = undefined;
  const frames = current.frames!;
  // A transfer may carry no payload at all: the message is then empty (and refused as malformed).
  const data = frames.length === 1 ? detachFromRead(frames[0]!) : Buffer.concat(frames);
  current.frames = undefined;
  // A delivery beyond the credit never gets here: state-checks.ts detaches its link (2.6.7).
  if (link.credit > 0) link.credit--;
  link.delivery_count++;
  const context =
    current.format === 0 ? { message: rheaMessage.decode(data), delivery: current } : { message: data, delivery: current, format: current.format };
  link.dispatch('message', link._context(context));
}
