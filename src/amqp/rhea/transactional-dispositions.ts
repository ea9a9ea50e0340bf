import { types as rheaTypes } from 'rhea';
import { tagOf } from './internals';
import type { SessionInternals } from './sessions';

/** AMQP 1.0 4.5.6 transactional-state, by code and by name. */
export const TRANSACTIONAL_STATE = 0x34;
const TRANSACTIONAL_STATE_NAME = 'amqp:transactional-state:list';

/** A delivery state that is a transactional-state, as rhea decoded it. */
export interface TransactionalState {
  readonly txnId: unknown;
  /** The outcome inside, as decoded (a described value rhea can unwrap); null when there is none. */
  readonly outcome: unknown;
}

/** Reads a transfer's or disposition's state (rhea's decoded value) as a transactional-state; null when it is something else. */
export function readTransactionalState(state: unknown): TransactionalState | null {
  const described = state as { descriptor?: { value?: unknown }; value?: unknown } | null | undefined;
  const descriptor = described?.descriptor?.value;
  if (descriptor !== TRANSACTIONAL_STATE && descriptor !== TRANSACTIONAL_STATE_NAME) return null;
  const fields = Array.isArray(described!.value) ? (described!.value as unknown[]) : [];
  const outcome = fields[1] as { descriptor?: unknown } | undefined;
  return { txnId: fields[0] === undefined ? null : rheaTypes.unwrap(fields[0]), outcome: outcome?.descriptor ? outcome : null };
}

interface DispositionPerformative {
  role: boolean;
  state?: unknown;
}

/**
 * rhea knows the outcomes of AMQP 1.0 3.4 but not transactional-state (4.5.6), the state a client gives a
 * delivery it acknowledges inside a transaction (4.4.2): rhea wrote "unrecognised outcome" to the console
 * and reported no outcome at all. Here, before rhea reads a disposition, a transactional state is
 * replaced by the outcome it carries (absent when it carries none), and each outgoing delivery the frame
 * updated is marked with the transaction's id, so the consumer sees the outcome and the transaction it
 * belongs to. Must run inside reportDispositionsInFrameOrder, which reports those deliveries afterwards.
 */
export function readTransactionalDispositions(session: SessionInternals): void {
  const onDisposition = session.on_disposition.bind(session);
  session.on_disposition = (frame) => {
    const performative = frame.performative as DispositionPerformative;
    const transactional = readTransactionalState(performative.state);
    if (!transactional) {
      onDisposition(frame);
      return;
    }
    // An own property: rhea's composite setter would turn an absent outcome into a described null.
    Object.defineProperty(performative, 'state', { value: transactional.outcome ?? undefined, configurable: true, enumerable: true });
    onDisposition(frame);
    if (!performative.role) return; // about deliveries the broker receives: they carry no acknowledgement
    for (const delivery of session.outgoing.updated) tagOf(delivery as never).convoyTxnId = transactional.txnId;
  };
}
