import type { Delivery, Receiver } from 'rhea';
import type { Command } from '../core/types';
import type { BrokerRuntime } from '../broker/runtime';
import type { Logger } from '../broker/logger';
import { TransactionError, type ConnectionTransactions } from '../broker/transactions';
import { AddressError, checkNameLength, parseTargetAddress } from './address';
import type { AddressAccess } from './authorization';
import type { ProducerRelay, RelayedProducer } from './cluster/producer-relay';
import { Condition, type AmqpError } from './conditions';
import { IncomingMessageGuard } from './incoming-message-guard';
import { MalformedMessageError, readMessageInfo } from './message-sections';
import { linkInternals, readTransactionalState, rheaOutcomes, type TransactionalState } from './rhea';
import { TransactionCondition, describeTxnId, transactionNumberOf, transactionRefusal, transactionalState } from './transaction-types';

/** A message the broker will not take; the delivery is rejected with this error. */
class RefusedMessageError extends Error {
  constructor(readonly amqpError: AmqpError) {
    super(amqpError.description);
  }
}

/** A message checked and ready to enter its queue. */
interface PreparedMessage {
  readonly queue: string;
  readonly command: Command;
  readonly durable: boolean;
}

/** What enqueueing a message here came to: the error to reject it with, or whether it is durable. */
interface EnqueueOutcome {
  readonly error: AmqpError | null;
  readonly durable: boolean;
}

/**
 * The broker's side of a client sender: an incoming link (AMQP 1.0 2.6). Credit is granted in windows
 * (2.6.7); each message is enqueued before its delivery is accepted (3.4.2), so an accepted message is
 * always in a queue. On a cluster node, messages for queues served by another node go through a relay
 * (src/amqp/cluster/producer-relay.ts), which answers their deliveries with the home's outcome.
 */
export class ProducerLink implements RelayedProducer {
  private readonly guard: IncomingMessageGuard;
  private waitingForSpace = false;
  /** Cluster nodes only. */
  private relay: ProducerRelay | null = null;

  constructor(
    private readonly receiver: Receiver,
    /** Fixed queue of the link's target, or null for an anonymous-relay link (route by `to`). */
    private readonly fixedQueue: string | null,
    private readonly runtime: BrokerRuntime,
    private readonly logger: Logger,
    private readonly creditWindow: number,
    maxMessageBytes: number,
    /** diskFullPolicy `block`: hold producers back at maxDiskBytes; otherwise refuse their messages. */
    private readonly blockWhenFull: boolean,
    /** Authorisation of the connection: relayed messages and queue creation are checked per message. */
    private readonly access: AddressAccess,
    /** The connection's open transactions, which transactional transfers join (AMQP 1.0 4.4.1). */
    private readonly transactions: ConnectionTransactions,
  ) {
    this.guard = new IncomingMessageGuard(receiver, maxMessageBytes, 'maxMessageBytes');
  }

  /** A cluster node relays messages whose queue is served elsewhere. */
  relayWith(relay: ProducerRelay): void {
    this.relay = relay;
  }

  open(): void {
    this.receiver.add_credit(this.creditWindow);
  }

  /** The client's link ended (detach, session end, connection loss). */
  close(): void {
    this.relay?.close();
  }

  /** Called for every transfer frame on this link, before rhea assembles it. */
  onTransferFrame(payloadBytes: number, more: boolean, aborted: boolean): void {
    this.guard.onTransferFrame(payloadBytes, more, aborted);
  }

  onMessage(bytes: Buffer, format: number | null | undefined, delivery: Delivery): void {
    if (this.guard.discards(delivery)) return;
    const transactional = readTransactionalState(delivery.remote_state);
    if (transactional) {
      this.enlist(bytes, format ?? 0, delivery, transactional);
      this.topUpCredit();
      return;
    }
    const queue = this.routedQueue(bytes, format ?? 0);
    if (typeof queue !== 'string') this.answer(delivery, { error: queue.error, durable: false });
    else if (this.relay?.takes(queue)) this.relayed(queue, bytes, delivery);
    else this.answer(delivery, this.enqueue(queue, bytes, true));
    this.topUpCredit();
  }

  /** A message the relay held (its queue's home was not known yet) goes into this node's queue after all. */
  enqueueHere(queue: string, bytes: Buffer, delivery: Delivery): void {
    this.answer(delivery, this.enqueue(queue, bytes, false));
  }

  relaySettled(): void {
    this.topUpCredit();
  }

  /** The queue's home refused the link: the client's link ends with its error. */
  fail(error: AmqpError): void {
    this.relay?.close();
    if (this.receiver.is_open()) this.receiver.close(error);
  }

  /** The relay takes the message once the client may send to its queue (and create it there). */
  private relayed(queue: string, bytes: Buffer, delivery: Delivery): void {
    const refusal = this.access.admitMessage(queue, this.fixedQueue === null);
    if (refusal) this.answer(delivery, { error: refusal, durable: false });
    else this.relay!.forward(queue, bytes, delivery);
  }

  /** AMQP 1.0 3.4: the outcome of a message taken here. */
  private answer(delivery: Delivery, outcome: EnqueueOutcome): void {
    if (delivery.remote_settled) {
      if (outcome.error) this.logger.warn({ error: outcome.error }, 'pre-settled message dropped');
    } else if (outcome.error) {
      delivery.reject(outcome.error);
    } else if (outcome.durable) {
      // AMQP 1.0 3.4.2: accepted means the broker has it; for a durable message, on disk. A link that
      // closed meanwhile gets no answer: its producer resends the message (at-least-once).
      this.runtime.whenDurable(() => {
        if (this.receiver.is_open()) delivery.accept();
      });
    } else {
      delivery.accept();
    }
  }

  /** Enqueues on this node; `admit` checks the client's rights first (a relayed message was checked already). */
  private enqueue(queue: string, bytes: Buffer, admit: boolean): EnqueueOutcome {
    const prepared = this.prepare(queue, bytes, admit);
    if ('error' in prepared) return { error: prepared.error, durable: false };
    this.runtime.execute(prepared.command);
    return { error: null, durable: prepared.durable };
  }

  /**
   * A transfer whose state is a transactional-state (AMQP 1.0 4.4.1): the message joins the transaction
   * and enters its queue only when the transaction commits; nothing is stored before. The answer is a
   * transactional-state carrying the outcome: accepted into the transaction, or rejected with why. A
   * txn-id this connection has no open transaction for is rejected with amqp:transaction:unknown-id.
   * On a cluster node a transaction covers only queues this node serves (README, "Cluster").
   */
  private enlist(bytes: Buffer, format: number, delivery: Delivery, state: TransactionalState): void {
    const id = transactionNumberOf(state.txnId);
    const transaction = id === null ? undefined : this.transactions.find(id);
    if (!transaction) {
      const error = { condition: TransactionCondition.unknownId, description: `no open transaction ${describeTxnId(state.txnId)} on this connection` };
      if (delivery.remote_settled) this.logger.warn({ error }, 'pre-settled transactional message dropped');
      else delivery.reject(error);
      return;
    }
    const queue = this.routedQueue(bytes, format);
    const prepared = typeof queue !== 'string' ? queue : this.relay?.takes(queue) ? { error: this.relay.transactionRefusal(queue) } : this.prepare(queue, bytes, true);
    let error = 'error' in prepared ? prepared.error : null;
    if (!('error' in prepared)) {
      try {
        this.transactions.send(transaction, prepared.command, bytes.length, prepared.durable);
        // The queue is used from now on (created on first use): later messages to it count no new queue.
        this.runtime.execute({ type: 'declare', queue: prepared.queue });
      } catch (refusal) {
        if (!(refusal instanceof TransactionError)) throw refusal;
        error = transactionRefusal(refusal);
      }
    }
    if (delivery.remote_settled) {
      if (error) this.logger.warn({ error }, 'pre-settled transactional message dropped');
      return;
    }
    const outcome = error ? rheaOutcomes.rejected({ error }).described() : rheaOutcomes.accepted().described();
    delivery.update(true, transactionalState(state.txnId as Buffer, outcome));
  }

  /** The queue a message goes to, or why it cannot be taken. */
  private routedQueue(bytes: Buffer, format: number): string | { error: AmqpError } {
    try {
      if (format !== 0) {
        throw new RefusedMessageError({ condition: Condition.notImplemented, description: `message-format ${format} is not supported (only 0, AMQP 1.0 2.7.5)` });
      }
      return this.fixedQueue ?? this.queueFromTo(bytes);
    } catch (error) {
      return refusalOf(error);
    }
  }

  /**
   * Checks a message for `queue` (on this node) and builds the command that puts it there, or the error
   * to reject it with; `admit` checks the client's rights (a relayed message was checked already).
   */
  private prepare(queue: string, bytes: Buffer, admit: boolean): PreparedMessage | { error: AmqpError } {
    try {
      if (!this.blockWhenFull && this.runtime.diskFull()) {
        throw new RefusedMessageError({ condition: Condition.resourceLimitExceeded, description: 'the broker store is full (maxDiskBytes)' });
      }
      const info = readMessageInfo(bytes, this.runtime.queueOptions(queue).groupKey);
      if (info.groupId !== null) checkNameLength('the group id', info.groupId);
      const refusal = admit ? this.access.admitMessage(queue, this.fixedQueue === null) : null;
      if (refusal) throw new RefusedMessageError(refusal);
      const now = this.runtime.now();
      let expiresAtMs = info.ttlMs !== null ? now + info.ttlMs : null;
      if (info.absoluteExpiryTimeMs !== null && info.absoluteExpiryTimeMs > 0) {
        expiresAtMs = expiresAtMs === null ? info.absoluteExpiryTimeMs : Math.min(expiresAtMs, info.absoluteExpiryTimeMs);
      }
      const command: Command = {
        type: 'enqueue',
        queue,
        meta: {
          groupId: info.groupId,
          closesGroup: info.closesGroup,
          expiresAtMs,
          deliveryCount: info.deliveryCount,
          durable: info.durable,
        },
        body: bytes,
      };
      return { queue, command, durable: info.durable };
    } catch (error) {
      return refusalOf(error);
    }
  }

  /** ANONYMOUS-RELAY: a link with a null target routes each message by its `to` (AMQP 1.0 3.2.4). */
  private queueFromTo(bytes: Buffer): string {
    const info = readMessageInfo(bytes, null);
    if (info.to === null) {
      throw new AddressError('message has no "to" address, and its link has no target address to route it by');
    }
    return parseTargetAddress(info.to);
  }

  /**
   * Credit comes in windows. At maxDiskBytes with diskFullPolicy `block`, no new credit is granted
   * until space frees up: producers wait instead of being refused (AMQP 1.0 2.6.7 flow control).
   */
  private topUpCredit(): void {
    if (this.waitingForSpace) return;
    if (this.blockWhenFull && this.runtime.diskFull()) {
      this.waitingForSpace = true;
      this.runtime.onSpaceAvailable(() => {
        this.waitingForSpace = false;
        this.topUpCredit();
      });
      return;
    }
    // Messages the relay holds count against the window: they wait for their home's answer.
    const used = linkInternals(this.receiver).credit + (this.relay?.outstanding ?? 0);
    if (used <= this.creditWindow / 2) this.receiver.add_credit(this.creditWindow - used);
  }
}

/** The AMQP error a message is rejected with, for the errors a client's message can cause. */
function refusalOf(error: unknown): { error: AmqpError } {
  if (error instanceof MalformedMessageError) return { error: { condition: Condition.decodeError, description: error.message } };
  if (error instanceof AddressError) return { error: { condition: Condition.invalidField, description: error.message } };
  if (error instanceof RefusedMessageError) return { error: error.amqpError };
  throw error;
}
