import { describe, expect, test } from 'vitest';
import { ConnectionViolation } from '../../src/amqp/conditions';
import { boundDispositionRanges, type DispositionSides } from '../../src/amqp/rhea/bounded-dispositions';
import { rheaOutcomes } from '../../src/amqp/rhea/internals';

interface FakeDelivery {
  id: number;
  remote_settled: boolean;
  remote_state?: unknown;
  link: { dispatch(event: string, context: unknown): void; _context(fields: Record<string, unknown>): unknown };
}

/** A session whose rings hold deliveries `firstId`, `firstId + 1`, ... as rhea's CircularBuffer does. */
function sessionWith(firstId: number, count: number, capacity = 16): { session: DispositionSides; deliveries: FakeDelivery[]; settledEvents: number[] } {
  const settledEvents: number[] = [];
  const link = { dispatch: (_event: string, context: unknown) => settledEvents.push((context as { delivery: FakeDelivery }).delivery.id), _context: (fields: Record<string, unknown>) => fields };
  const deliveries = Array.from({ length: count }, (_, i) => ({ id: firstId + i, remote_settled: false, link }));
  const head = 5 % capacity; // the ring has wrapped inside its array, as it does in use
  const ring = () => {
    const entries: (FakeDelivery | undefined)[] = new Array(capacity);
    deliveries.forEach((delivery, i) => (entries[(head + i) % capacity] = delivery));
    return { capacity, size: count, head, entries };
  };
  const session = { outgoing: { deliveries: ring(), updated: [] as FakeDelivery[], on_disposition: () => undefined }, incoming: { deliveries: ring(), on_disposition: () => undefined } };
  boundDispositionRanges(session);
  return { session, deliveries, settledEvents };
}

const accepted = rheaOutcomes.accepted().described();

describe('disposition ranges (AMQP 1.0 2.7.6) visit only outstanding deliveries', () => {
  test('a range over half the id space touches only the deliveries in the ring', () => {
    const { session } = sessionWith(100, 3);
    const started = process.hrtime.bigint();
    session.outgoing.on_disposition({ first: 0, last: 2147483647, settled: true, state: accepted });
    expect(Number(process.hrtime.bigint() - started) / 1e6).toBeLessThan(20);
    expect(session.outgoing.updated.map((d) => d.id)).toEqual([100, 101, 102]);
    expect(session.outgoing.updated.every((d) => d.remote_settled && (d.remote_state as { constructor: { composite_type: string } }).constructor.composite_type === 'accepted')).toBe(true);
  });

  test('a part of the ring, and a range past the ring, are exact', () => {
    const { session } = sessionWith(100, 10);
    session.outgoing.on_disposition({ first: 103, last: 105, settled: true });
    expect(session.outgoing.updated.map((d) => d.id)).toEqual([103, 104, 105]);
    session.outgoing.on_disposition({ first: 500, last: 600, settled: true });
    session.outgoing.on_disposition({ first: 104, settled: true });
    expect(session.outgoing.updated.map((d) => d.id)).toEqual([103, 104, 105]);
  });

  test('ids wrap at 2^32: a range across the wrap settles both sides (incoming side)', () => {
    const { session, settledEvents } = sessionWith(4294967294, 4);
    session.incoming.on_disposition({ first: 4294967295, last: 0, settled: true });
    expect(settledEvents).toEqual([4294967295, 4294967296]);
  });

  test('a range whose last precedes its first closes the connection with invalid-field', () => {
    const { session } = sessionWith(0, 3);
    expect(() => session.outgoing.on_disposition({ first: 0, last: 4294967295, settled: true })).toThrow(ConnectionViolation);
    expect(() => session.incoming.on_disposition({ first: 10, last: 9 })).toThrow(/last precedes first/);
  });

  test('a delivery already settled by the peer is not reported again', () => {
    const { session, deliveries } = sessionWith(0, 3);
    deliveries[1]!.remote_settled = true;
    session.outgoing.on_disposition({ first: 0, last: 2, settled: true });
    expect(session.outgoing.updated.map((d) => d.id)).toEqual([0, 2]);
  });
});
