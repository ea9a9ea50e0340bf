import type { Command, Outcome } from '../core/types';
import type { BrokerRuntime } from '../broker/runtime';
import type { Logger } from '../broker/logger';
import type { ConnectionTransactions } from '../broker/transactions';
import type { AmqpError } from './conditions';
import type { ConsumerBackend, ConsumerLink, LinkEnd } from './consumer-link';
import { TransactionCondition, describeTxnId, transactionNumberOf } from './transaction-types';

export type AttachCommand = Extract<Command, { type: 'attach' }>;

/** A consumer link served by this node's own dispatch core. */
export class CoreConsumer implements ConsumerBackend {
  constructor(
    protected readonly runtime: BrokerRuntime,
    readonly consumerId: string,
    protected readonly logger: Logger,
    /** The connection's open transactions, which acknowledgements may belong to (AMQP 1.0 4.4.2). */
    private readonly transactions: ConnectionTransactions,
  ) {}

  /** Attaches `link` to the core as the consumer `command` describes; `client` names it for operators. */
  serve(link: ConsumerLink, command: AttachCommand, client: string): void {
    link.serveFrom(this);
    this.runtime.attachConsumer(command, link, client);
  }

  credit(credit: number, drain: boolean): void {
    this.runtime.execute({ type: 'credit', consumerId: this.consumerId, credit, drain });
  }

  settle(deliveryId: number, outcome: Outcome): void {
    this.runtime.execute({ type: 'settle', consumerId: this.consumerId, deliveryId, outcome });
  }

  /**
   * AMQP 1.0 4.4.2: the outcome takes effect when the transaction commits; until then the message stays
   * acquired by this consumer. An acknowledgement naming no open transaction cannot be answered on the
   * delivery (the client settled it): the link is detached with amqp:transaction:unknown-id, and its
   * unsettled messages go back to their queue.
   */
  settleInTransaction(txnId: unknown, deliveryId: number, outcome: Outcome): AmqpError | null {
    const id = transactionNumberOf(txnId);
    const transaction = id === null ? undefined : this.transactions.find(id);
    if (transaction) {
      this.transactions.acknowledge(transaction, this.consumerId, deliveryId, outcome);
      return null;
    }
    const description = `a delivery was settled in transaction ${describeTxnId(txnId)}, which is not open on this connection`;
    this.logger.info({ consumer: this.consumerId, reason: description }, 'consumer detached');
    return { condition: TransactionCondition.unknownId, description };
  }

  /** Unsettled messages go back to the queue, then groups and exclusivity pass on (README). */
  detach(_end: LinkEnd): void {
    this.transactions.consumerDetached(this.consumerId);
    this.runtime.detachConsumer(this.consumerId);
    this.logger.debug({ consumer: this.consumerId }, 'consumer detached');
  }
}
