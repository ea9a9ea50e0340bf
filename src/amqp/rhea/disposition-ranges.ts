import { createRequire } from 'node:module';
import { message as rheaMessage } from 'rhea';
import { SERIAL_MODULUS } from '../serial-numbers';

/** rhea's delivery record, as far as a disposition needs it. */
interface DispositionDelivery {
  id: number;
  state?: unknown;
  settled: boolean;
  link: { is_receiver(): boolean; session: { output(frame: unknown): void } };
}

interface DispositionQueue {
  /** Incoming deliveries whose local state changed (rhea session.js Incoming). */
  updated?: DispositionDelivery[];
  /** Outgoing deliveries whose local state changed (rhea session.js Outgoing). */
  pending_dispositions?: DispositionDelivery[];
  process(...args: unknown[]): void;
}

const frames = createRequire(require.resolve('rhea'))('./frames.js') as {
  disposition(fields: Record<string, unknown>): unknown;
};

/**
 * rhea merges consecutive deliveries into one disposition range (AMQP 1.0 2.7.6) but compares their
 * outcomes only once the range holds two deliveries: a rejected delivery followed by an accepted one
 * goes out as one range, both "rejected". Here a session's pending dispositions are written before rhea
 * sees them, merging only deliveries with the same outcome and settlement.
 */
export function writeDispositionsCorrectly(queue: DispositionQueue, field: 'updated' | 'pending_dispositions'): void {
  const process = queue.process.bind(queue);
  queue.process = (...args: unknown[]) => {
    const pending = queue[field];
    if (pending && pending.length > 0) {
      queue[field] = [];
      writeDispositions(pending);
    }
    process(...args);
  };
}

export function writeDispositions(deliveries: DispositionDelivery[]): void {
  let first: DispositionDelivery | undefined;
  let last: DispositionDelivery | undefined;
  for (const delivery of deliveries) {
    if (
      first !== undefined &&
      last !== undefined &&
      delivery.id === last.id + 1 &&
      delivery.settled === first.settled &&
      rheaMessage.are_outcomes_equivalent(first.state as never, delivery.state as never)
    ) {
      last = delivery;
      continue;
    }
    if (first !== undefined && last !== undefined) writeRange(first, last);
    first = delivery;
    last = delivery;
  }
  if (first !== undefined && last !== undefined) writeRange(first, last);
}

function writeRange(first: DispositionDelivery, last: DispositionDelivery): void {
  first.link.session.output(
    frames.disposition({ role: first.link.is_receiver(), first: first.id % SERIAL_MODULUS, last: last.id % SERIAL_MODULUS, state: first.state, settled: first.settled }),
  );
}
