import type { Command, ConsumerId, Outcome } from '../core/types';
import type { BrokerRuntime } from './runtime';

/**
 * Local transactions (AMQP 1.0 4): a connection's buffer of transactional work, applied to the core in
 * one call at commit. The core knows nothing of transactions: until commit a transactional send is
 * only here (no queue holds it, no consumer can see it), and a transactional acknowledgement leaves its
 * message acquired by the consumer that received it. Commit applies the acknowledgements and then the
 * sends as ordinary settle and enqueue commands, their store records one atomic unit (after a crash all
 * of them or none); rollback settles the acknowledged deliveries modified{delivery-failed}, so each
 * message goes back to its position with delivery-count + 1 through the core's own path.
 */

export interface TransactionLimits {
  /** Transactions open at once on one connection. */
  readonly maxTransactionsPerConnection: number;
  /** Sends and acknowledgements in one transaction. */
  readonly maxTransactionOperations: number;
  /** Bytes of the messages sent in a connection's open transactions, all together (held in memory until commit). */
  readonly maxTransactionBytesPerConnection: number;
}

/**
 * unknown-id: no such open transaction; rollback: the transaction can only roll back; limit: a limit
 * would be passed; precondition: the transaction cannot commit what it holds any more.
 */
export type TransactionErrorCode = 'unknown-id' | 'rollback' | 'limit' | 'precondition';

/** Why a transaction can only roll back. */
interface RollbackOnly {
  readonly code: 'limit' | 'precondition';
  readonly reason: string;
}

/** A transactional request the broker cannot carry out; the AMQP layer maps the code to its condition (4.5.8). */
export class TransactionError extends Error {
  constructor(
    readonly code: TransactionErrorCode,
    message: string,
  ) {
    super(message);
  }
}

interface Send {
  /** The commands that put the message where it goes, made at commit (a topic's: one per subscription it has then). */
  readonly commands: () => readonly Command[];
  readonly bytes: number;
  readonly durable: boolean;
}

interface Acknowledgement {
  readonly consumerId: ConsumerId;
  readonly deliveryId: number;
  /** The outcome the client gave; it takes effect at commit. */
  readonly outcome: Outcome;
}

export class Transaction {
  readonly sends: Send[] = [];
  readonly acknowledgements: Acknowledgement[] = [];
  bytes = 0;
  /** Why the transaction can only roll back now; null while it can commit. */
  rollbackOnly: RollbackOnly | null = null;

  constructor(
    readonly id: number,
    /** Who declared it (AMQP: the coordinator link): it rolls back when its declarer goes. */
    readonly declaredBy: object,
  ) {}

  get operations(): number {
    return this.sends.length + this.acknowledgements.length;
  }
}

/** AMQP 1.0 3.4.5: the attempt failed, the message goes back to its position with delivery-count + 1. */
const DELIVERY_FAILED: Outcome = Object.freeze({ type: 'modified', deliveryFailed: true, undeliverableHere: false });

/** The open transactions of one connection. */
export class ConnectionTransactions {
  private readonly open = new Map<number, Transaction>();
  /** Bytes of messages sent in the open transactions. */
  private bytes = 0;

  constructor(
    private readonly runtime: BrokerRuntime,
    private readonly limits: TransactionLimits,
    /** Broker-wide unique ids: a transaction id from another connection is unknown here, never another one. */
    private readonly newTransactionId: () => number,
  ) {}

  get size(): number {
    return this.open.size;
  }

  declare(declaredBy: object): Transaction {
    if (this.open.size >= this.limits.maxTransactionsPerConnection) {
      throw new TransactionError(
        'limit',
        `${this.open.size} transactions are open on this connection, the most allowed (maxTransactionsPerConnection); commit or roll back one first`,
      );
    }
    const transaction = new Transaction(this.newTransactionId(), declaredBy);
    this.open.set(transaction.id, transaction);
    return transaction;
  }

  find(id: number): Transaction | undefined {
    return this.open.get(id);
  }

  /**
   * A message sent in the transaction: `command` puts it in its queue at commit. Refused, with nothing
   * changed, when the transaction can only roll back or a limit would be passed.
   */
  send(transaction: Transaction, command: Command, bytes: number, durable: boolean): void {
    this.sendRouted(transaction, () => [command], bytes, durable);
  }

  /** A message whose queues are decided at commit: one published to a topic (src/broker/topics.ts). */
  sendRouted(transaction: Transaction, commands: () => readonly Command[], bytes: number, durable: boolean): void {
    if (transaction.rollbackOnly !== null) throw new TransactionError('rollback', `the transaction can only be rolled back: ${transaction.rollbackOnly.reason}`);
    this.checkOperations(transaction);
    if (this.bytes + bytes > this.limits.maxTransactionBytesPerConnection) {
      throw new TransactionError(
        'limit',
        `the open transactions of this connection hold ${this.bytes} bytes of messages; ${bytes} more would pass maxTransactionBytesPerConnection (${this.limits.maxTransactionBytesPerConnection})`,
      );
    }
    transaction.sends.push({ commands, bytes, durable });
    transaction.bytes += bytes;
    this.bytes += bytes;
  }

  /**
   * A delivery the client settled in the transaction (4.4.2): its outcome waits for commit, and the
   * message stays acquired meanwhile. An acknowledgement cannot be refused (the client has settled), so
   * past maxTransactionOperations the transaction is marked to roll back instead.
   */
  acknowledge(transaction: Transaction, consumerId: ConsumerId, deliveryId: number, outcome: Outcome): void {
    if (transaction.rollbackOnly === null && transaction.operations >= this.limits.maxTransactionOperations) {
      transaction.rollbackOnly = { code: 'limit', reason: `it passed maxTransactionOperations (${this.limits.maxTransactionOperations} sends and acknowledgements)` };
    }
    transaction.acknowledgements.push({ consumerId, deliveryId, outcome });
  }

  /**
   * Applies the transaction: acknowledgements first, in queue order, then the sends in the order they
   * were sent, as one atomic unit. Returns whether it touched durable messages (the caller then waits
   * for the fsync before confirming). A transaction marked to roll back is rolled back and refused with
   * the reason's code.
   */
  commit(transaction: Transaction): { durable: boolean } {
    this.end(transaction);
    if (transaction.rollbackOnly !== null) {
      this.applyRollback(transaction);
      throw new TransactionError(transaction.rollbackOnly.code, `the transaction was rolled back: ${transaction.rollbackOnly.reason}`);
    }
    const acknowledged = this.inQueueOrder(transaction.acknowledgements);
    const commands: Command[] = acknowledged.map(({ acknowledgement }) => ({
      type: 'settle',
      consumerId: acknowledgement.consumerId,
      deliveryId: acknowledgement.deliveryId,
      outcome: acknowledgement.outcome,
    }));
    for (const send of transaction.sends) commands.push(...send.commands());
    const durable = transaction.sends.some((send) => send.durable) || acknowledged.some(({ durable }) => durable);
    this.runtime.executeAtomically(commands);
    return { durable };
  }

  rollback(transaction: Transaction): void {
    this.end(transaction);
    this.applyRollback(transaction);
  }

  /** The declarer (the coordinator link) went away: its open transactions roll back (AMQP 1.0 4.2). */
  rollbackDeclaredBy(declaredBy: object): void {
    for (const transaction of [...this.open.values()]) if (transaction.declaredBy === declaredBy) this.rollback(transaction);
  }

  /** The connection is gone: every open transaction rolls back. */
  rollbackAll(): void {
    for (const transaction of [...this.open.values()]) this.rollback(transaction);
  }

  /**
   * A consumer detached: the core has put its unsettled messages back, those acknowledged in a
   * transaction too. Such a transaction cannot commit them any more, so it can only roll back.
   */
  consumerDetached(consumerId: ConsumerId): void {
    for (const transaction of this.open.values()) {
      const kept = transaction.acknowledgements.filter((acknowledgement) => acknowledgement.consumerId !== consumerId);
      if (kept.length === transaction.acknowledgements.length) continue;
      transaction.acknowledgements.splice(0, transaction.acknowledgements.length, ...kept);
      transaction.rollbackOnly ??= { code: 'precondition', reason: 'a consumer whose messages it acknowledged detached, and they went back to their queue' };
    }
  }

  private checkOperations(transaction: Transaction): void {
    if (transaction.operations >= this.limits.maxTransactionOperations) {
      throw new TransactionError('limit', `the transaction holds ${transaction.operations} sends and acknowledgements, the most allowed (maxTransactionOperations)`);
    }
  }

  private end(transaction: Transaction): void {
    if (!this.open.delete(transaction.id)) throw new TransactionError('unknown-id', `transaction ${transaction.id} has already ended`);
    this.bytes -= transaction.bytes;
  }

  /** Every acknowledged message goes back with delivery-count + 1, in queue order; the sends are dropped. */
  private applyRollback(transaction: Transaction): void {
    for (const { acknowledgement } of this.inQueueOrder(transaction.acknowledgements)) {
      this.runtime.execute({ type: 'settle', consumerId: acknowledgement.consumerId, deliveryId: acknowledgement.deliveryId, outcome: DELIVERY_FAILED });
    }
  }

  /**
   * Acknowledgements whose delivery is still unsettled in the core, ordered by queue and position. Each
   * settle lets dispatch run, so messages of one group must go back earliest first: a later one must
   * never be sent again ahead of an earlier one.
   */
  private inQueueOrder(acknowledgements: readonly Acknowledgement[]): { acknowledgement: Acknowledgement; durable: boolean }[] {
    const found: { acknowledgement: Acknowledgement; queue: string; seq: number; durable: boolean }[] = [];
    for (const acknowledgement of acknowledgements) {
      const consumer = this.runtime.state.consumers.get(acknowledgement.consumerId);
      const message = consumer?.unsettled.get(acknowledgement.deliveryId)?.message;
      if (consumer && message) found.push({ acknowledgement, queue: consumer.queue.name, seq: message.seq, durable: message.durable });
    }
    found.sort((a, b) => (a.queue === b.queue ? a.seq - b.seq : a.queue < b.queue ? -1 : 1));
    return found;
  }
}
