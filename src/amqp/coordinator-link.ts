import type { Delivery, Receiver } from 'rhea';
import type { Logger } from '../broker/logger';
import type { BrokerRuntime } from '../broker/runtime';
import { TransactionError, type ConnectionTransactions } from '../broker/transactions';
import { Condition, type AmqpError } from './conditions';
import { IncomingMessageGuard } from './incoming-message-guard';
import { linkInternals, rheaOutcomes } from './rhea';
import {
  MalformedControlError,
  TransactionCondition,
  declaredState,
  describeTxnId,
  readControlMessage,
  transactionNumberOf,
  transactionRefusal,
  type ControlMessage,
} from './transaction-types';

/** A declare or discharge is a few dozen bytes; anything much larger is not one. */
export const MAX_CONTROL_MESSAGE_BYTES = 4096;
/** Credit for control messages; Qpid JMS sends a discharge and the next declare back to back. */
const CONTROL_CREDIT_WINDOW = 100;

/**
 * The broker's end of a transaction controller's link (AMQP 1.0 4.2): the client sends declare and
 * discharge messages to the coordinator target, and the broker answers each by settling its delivery
 * with declared (4.3), accepted or rejected (4.4). A commit is answered once what it wrote is as durable
 * as the fsync policy makes it. When the link goes, the transactions declared on it roll back.
 */
export class CoordinatorLink {
  private readonly guard: IncomingMessageGuard;
  private closed = false;

  constructor(
    private readonly receiver: Receiver,
    private readonly transactions: ConnectionTransactions,
    private readonly runtime: BrokerRuntime,
    private readonly logger: Logger,
    /**
     * The controller's source takes the rejected outcome (3.5.3 outcomes); if it does not, a failed
     * request detaches the link with the error instead (4.4).
     */
    private readonly rejectedSupported: boolean,
  ) {
    this.guard = new IncomingMessageGuard(receiver, MAX_CONTROL_MESSAGE_BYTES, 'the largest coordinator message');
  }

  open(): void {
    this.receiver.add_credit(CONTROL_CREDIT_WINDOW);
  }

  onTransferFrame(payloadBytes: number, more: boolean, aborted: boolean): void {
    this.guard.onTransferFrame(payloadBytes, more, aborted);
  }

  onMessage(bytes: Buffer, format: number | null | undefined, delivery: Delivery): void {
    if (this.closed || this.guard.discards(delivery)) return;
    let control: ControlMessage;
    try {
      if ((format ?? 0) !== 0) throw new MalformedControlError(`message-format ${format} is not a coordinator message (only 0, AMQP 1.0 2.7.5)`);
      control = readControlMessage(bytes);
    } catch (error) {
      if (!(error instanceof MalformedControlError)) throw error;
      this.refuse(delivery, { condition: Condition.decodeError, description: error.message });
      return;
    }
    if (control.type === 'declare') this.declare(delivery, control.globalId);
    else this.discharge(delivery, control.txnId, control.fail);
    this.topUpCredit();
  }

  /** Detach, session end, connection close or loss: the transactions declared here roll back. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.transactions.rollbackDeclaredBy(this);
  }

  /** 4.3: a new transaction, answered declared{txn-id}. */
  private declare(delivery: Delivery, globalId: unknown): void {
    if (globalId !== null) {
      this.refuse(delivery, { condition: Condition.notImplemented, description: 'distributed transactions (a declare with a global-id, AMQP 1.0 4.5.2) are not implemented' });
      return;
    }
    try {
      const transaction = this.transactions.declare(this);
      this.answer(delivery, declaredState(transaction.id));
      this.logger.debug({ transaction: transaction.id, link: this.receiver.name }, 'transaction declared');
    } catch (error) {
      if (!(error instanceof TransactionError)) throw error;
      this.refuse(delivery, transactionRefusal(error));
    }
  }

  /**
   * 4.4: commit (fail false) or roll back (fail true). A commit of a transaction that can only roll back
   * is rolled back and refused with amqp:transaction:rollback, saying why.
   */
  private discharge(delivery: Delivery, txnId: unknown, fail: boolean): void {
    const id = transactionNumberOf(txnId);
    const transaction = id === null ? undefined : this.transactions.find(id);
    if (!transaction) {
      this.refuse(delivery, { condition: TransactionCondition.unknownId, description: `no open transaction ${describeTxnId(txnId)} on this connection` });
      return;
    }
    const details = { transaction: transaction.id, sends: transaction.sends.length, acknowledgements: transaction.acknowledgements.length };
    if (fail) {
      this.transactions.rollback(transaction);
      this.answer(delivery, rheaOutcomes.accepted().described());
      this.logger.debug(details, 'transaction rolled back');
      return;
    }
    let durable: boolean;
    try {
      durable = this.transactions.commit(transaction).durable;
    } catch (error) {
      if (!(error instanceof TransactionError)) throw error;
      this.refuse(delivery, transactionRefusal(error));
      this.logger.info({ ...details, reason: error.message }, 'transaction commit refused');
      return;
    }
    this.logger.debug(details, 'transaction committed');
    // Committed is a promise that the work survives a crash: for durable messages, once it is on disk.
    const accepted = (): void => this.answer(delivery, rheaOutcomes.accepted().described());
    if (durable) this.runtime.whenDurable(accepted);
    else accepted();
  }

  private answer(delivery: Delivery, state: unknown): void {
    if (this.closed || delivery.remote_settled) return;
    delivery.update(true, state);
  }

  /** 4.4: rejected carrying the error where the controller takes rejected; otherwise the link is detached with it. */
  private refuse(delivery: Delivery, error: AmqpError): void {
    if (this.rejectedSupported || delivery.remote_settled) {
      this.answer(delivery, rheaOutcomes.rejected({ error }).described());
      return;
    }
    this.logger.info({ link: this.receiver.name, ...error }, 'coordinator link detached: its source does not take the rejected outcome');
    this.receiver.close(error);
    this.close();
  }

  private topUpCredit(): void {
    const credit = linkInternals(this.receiver).credit;
    if (credit <= CONTROL_CREDIT_WINDOW / 2) this.receiver.add_credit(CONTROL_CREDIT_WINDOW - credit);
  }
}
