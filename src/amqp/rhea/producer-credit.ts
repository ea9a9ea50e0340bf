import type { Receiver } from 'rhea';

/** rhea's receiving link (link.js) and its session, as far as credit goes. */
interface ReceiverCreditInternals {
  credit: number;
  issue_flow: boolean;
  session: { _write_flow(link: unknown): void };
  connection: { _register(): void };
}

/**
 * Takes back a producer's credit (AMQP 1.0 2.6.7: the receiver may lower link-credit at any time): a flow
 * with link-credit 0 goes out now. rhea's own count keeps what was granted before, because transfers the
 * peer sent before it read this flow were sent on credit and are still to be taken.
 */
export function revokeCredit(receiver: Receiver): void {
  const link = receiver as unknown as ReceiverCreditInternals;
  const granted = link.credit;
  link.credit = 0;
  try {
    link.session._write_flow(link);
  } finally {
    link.credit = granted;
  }
}

/** Grants `credit` afresh, also after a revocation (rhea's add_credit writes no flow when its count does not rise). */
export function grantCredit(receiver: Receiver, credit: number): void {
  const link = receiver as unknown as ReceiverCreditInternals;
  link.credit = credit;
  link.issue_flow = true;
  link.connection._register();
}
