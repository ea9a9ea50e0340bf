import { message as rheaMessage } from 'rhea';
import { Condition, ConnectionViolation } from '../conditions';
import { isAtOrAfter, SERIAL_MODULUS, serialDistance } from '../serial-numbers';

/** rhea's outcome decoding (message.js): a described delivery state to its outcome object. */
const unwrapOutcome = (rheaMessage as unknown as { unwrap_outcome(state: unknown): unknown }).unwrap_outcome;

/** A delivery in one of rhea's per-session rings (session.js Outgoing.send, Incoming.on_transfer). */
interface RingDelivery {
  id: number;
  remote_settled: boolean;
  remote_state?: unknown;
  link: { dispatch(event: string, context: unknown): void; _context(fields: Record<string, unknown>): unknown };
}

/** rhea's CircularBuffer (session.js): deliveries in id order, oldest at `head`. */
interface DeliveryRing {
  capacity: number;
  size: number;
  head: number;
  entries: (RingDelivery | undefined)[];
}

interface DispositionFields {
  first: number;
  last?: number | null;
  settled?: boolean;
  state?: unknown;
}

/** rhea's Outgoing and Incoming (session.js), as far as a disposition touches them. */
export interface DispositionSides {
  outgoing: { deliveries: DeliveryRing; updated: RingDelivery[]; on_disposition(fields: DispositionFields): void };
  incoming: { deliveries: DeliveryRing; on_disposition(fields: DispositionFields): void };
}

/**
 * A disposition names a range of delivery-ids, first to last (AMQP 1.0 2.7.6). rhea walks the range id
 * by id: first 0, last 2^32 - 1 is four billion lookups, twenty seconds of a frozen broker per frame.
 * Here only the deliveries that are really outstanding in the session's ring and inside the range are
 * visited (at most the ring's size, session_buffer_size), each exactly as rhea treats it. The ids are
 * sequence numbers (2.8.8): a range whose last precedes its first (RFC 1982) is refused with
 * amqp:invalid-field, which closes the connection.
 */
export function boundDispositionRanges(session: DispositionSides): void {
  const { outgoing, incoming } = session;
  outgoing.on_disposition = (fields) => {
    const outcome = outcomeOf(fields.state);
    forEachInRange(outgoing.deliveries, fields, (delivery) => {
      let updated = false;
      if (fields.settled) {
        delivery.remote_settled = true;
        updated = true;
      }
      if (outcome !== undefined && outcome !== delivery.remote_state) {
        delivery.remote_state = outcome;
        updated = true;
      }
      if (updated) outgoing.updated.push(delivery);
    });
  };
  incoming.on_disposition = (fields) => {
    const outcome = outcomeOf(fields.state);
    forEachInRange(incoming.deliveries, fields, (delivery) => {
      if (outcome !== undefined) delivery.remote_state = outcome;
      if (fields.settled) {
        delivery.remote_settled = true;
        delivery.link.dispatch('settled', delivery.link._context({ delivery }));
      }
    });
  };
}

/**
 * The outcome (AMQP 1.0 3.4) a disposition's state carries, decoded once per frame, not once per
 * delivery as rhea does. Other delivery states (received, transactional) carry no outcome: rhea logs
 * each one as "unrecognised" and keeps it undecoded, which reads as no outcome.
 */
function outcomeOf(state: unknown): unknown {
  const descriptor = (state as { descriptor?: { value?: unknown } } | null | undefined)?.descriptor?.value;
  return OUTCOME_DESCRIPTORS.has(descriptor) ? unwrapOutcome(state) : undefined;
}

const OUTCOME_DESCRIPTORS = new Set<unknown>([
  0x24, 0x25, 0x26, 0x27, 'amqp:accepted:list', 'amqp:rejected:list', 'amqp:released:list', 'amqp:modified:list',
]);

/** Visits the not yet remotely settled deliveries of `ring` whose id lies in [first, last]. */
function forEachInRange(ring: DeliveryRing, fields: DispositionFields, visit: (delivery: RingDelivery) => void): void {
  const first = fields.first;
  const last = fields.last ?? first;
  if (!isAtOrAfter(first, last)) {
    throw new ConnectionViolation({ condition: Condition.invalidField, description: `disposition range ${first}..${last}: last precedes first (AMQP 1.0 2.7.6, 2.8.8)` });
  }
  if (ring.size === 0) return;
  const headId = ring.entries[ring.head]!.id;
  const span = serialDistance(first, last) + 1;
  // Ring positions p (0 = head) hold id headId + p; p is in the range when (p - start) mod 2^32 < span.
  const start = serialDistance(headId, first);
  const visitPositions = (from: number, to: number): void => {
    for (let position = from; position < to; position++) {
      const delivery = ring.entries[(ring.head + position) % ring.capacity];
      if (delivery && !delivery.remote_settled) visit(delivery);
    }
  };
  if (start < ring.size) visitPositions(start, Math.min(ring.size, start + span));
  const wrapped = start + span - SERIAL_MODULUS; // the part of the range past 2^32 - 1, counted from the head
  if (wrapped > 0) visitPositions(0, Math.min(ring.size, wrapped, start));
}
