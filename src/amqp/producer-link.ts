import type { Delivery, Receiver } from 'rhea';
import type { MessageMeta } from '../core/types';
import type { BrokerRuntime } from '../broker/runtime';
import type { Logger } from '../broker/logger';
import { NodeKindError, type NodeKind } from '../broker/topics';
import { TransactionError, type ConnectionTransactions } from '../broker/transactions';
import { AddressError, checkNameLength, parseTargetAddress } from './address';
import type { AddressAccess } from './authorization';
import { Condition, type AmqpError } from './conditions';
import { IncomingMessageGuard } from './incoming-message-guard';
import { InvalidAnnotationError, MalformedMessageError, readMessageInfo, type MessageInfo } from './message-sections';
import { linkInternals, readTransactionalState, rheaOutcomes, type TransactionalState } from './rhea';
import { TransactionCondition, describeTxnId, transactionNumberOf, transactionRefusal, transactionalState } from './transaction-types';

/** Where a producer's messages go: a queue or a topic. */
export interface ProducerDestination {
  readonly address: string;
  readonly kind: NodeKind;
  /** A temporary topic: once gone (with its connection or creating link) it is not created again. */
  readonly temporary: boolean;
}

/** Qpid JMS's `x-opt-jms-dest` values (AMQP JMS mapping): 0 queue, 1 topic, 2 temporary queue, 3 temporary topic. */
const JMS_DESTINATION_KINDS: readonly NodeKind[] = ['queue', 'topic', 'queue', 'topic'];
const JMS_TEMPORARY_TOPIC = 3;

/** A message the broker will not take; the delivery is rejected with this error. */
class RefusedMessageError extends Error {
  constructor(readonly amqpError: AmqpError) {
    super(amqpError.description);
  }
}

/** A message checked and ready to enter its queue, or its topic's subscriptions. */
interface PreparedMessage {
  readonly destination: ProducerDestination;
  readonly meta: MessageMeta;
  readonly body: Buffer;
}

/**
 * The broker's side of a client sender: an incoming link (AMQP 1.0 2.6). Credit is granted in windows
 * (2.6.7); each message is enqueued before its delivery is accepted (3.4.2), so an accepted message is
 * always in a queue.
 */
export class ProducerLink {
  private readonly guard: IncomingMessageGuard;
  private waitingForSpace = false;

  constructor(
    private readonly receiver: Receiver,
    /** The link target's queue or topic, or null for an anonymous-relay link (route by `to`). */
    private readonly fixedDestination: ProducerDestination | null,
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

  open(): void {
    this.receiver.add_credit(this.creditWindow);
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
    const outcome = this.enqueue(bytes, format ?? 0);
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
    this.topUpCredit();
  }

  private enqueue(bytes: Buffer, format: number): { error: AmqpError | null; durable: boolean } {
    const prepared = this.prepare(bytes, format);
    if ('error' in prepared) return { error: prepared.error, durable: false };
    const { destination, meta, body } = prepared;
    if (destination.kind === 'queue') {
      this.runtime.execute({ type: 'enqueue', queue: destination.address, meta, body });
      return { error: null, durable: meta.durable };
    }
    try {
      return { error: null, durable: this.runtime.topics.publish(destination.address, meta, body).stored };
    } catch (error) {
      if (error instanceof NodeKindError) return { error: { condition: Condition.notFound, description: error.message }, durable: false };
      throw error;
    }
  }

  /**
   * A transfer whose state is a transactional-state (AMQP 1.0 4.4.1): the message joins the transaction
   * and enters its queue only when the transaction commits; nothing is stored before. The answer is a
   * transactional-state carrying the outcome: accepted into the transaction, or rejected with why. A
   * txn-id this connection has no open transaction for is rejected with amqp:transaction:unknown-id.
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
    const prepared = this.prepare(bytes, format);
    let error = 'error' in prepared ? prepared.error : null;
    if (!('error' in prepared)) {
      const { destination, meta, body } = prepared;
      try {
        if (destination.kind === 'queue') {
          this.transactions.send(transaction, { type: 'enqueue', queue: destination.address, meta, body }, bytes.length, meta.durable);
          // The queue is used from now on (created on first use): later messages to it count no new queue.
          this.runtime.execute({ type: 'declare', queue: destination.address });
        } else {
          // A topic's copies are made at commit, for the subscriptions it has then (none if it is gone).
          this.transactions.sendRouted(transaction, () => this.runtime.topics.copiesAtCommit(destination.address, meta, body), bytes.length, meta.durable);
        }
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

  /**
   * Checks a message and what it needs to enter its queue or topic (a topic is created on first use
   * here), or the error to reject it with.
   */
  private prepare(bytes: Buffer, format: number): PreparedMessage | { error: AmqpError } {
    try {
      const destination = this.checkedDestination(bytes, format);
      const info = readMessageInfo(bytes, this.runtime.queueOptions(destination.address).groupKey);
      if (info.groupId !== null) checkNameLength('the group id', info.groupId);
      const refusal = this.access.admitMessage(destination.address, this.fixedDestination === null);
      if (refusal) throw new RefusedMessageError(refusal);
      if (destination.kind === 'topic' && !destination.temporary) this.runtime.topics.declare(destination.address);
      return { destination, meta: this.metaOf(info), body: bytes };
    } catch (error) {
      if (error instanceof MalformedMessageError) return { error: { condition: Condition.decodeError, description: error.message } };
      if (error instanceof AddressError || error instanceof InvalidAnnotationError) return { error: { condition: Condition.invalidField, description: error.message } };
      if (error instanceof NodeKindError) return { error: { condition: Condition.notFound, description: error.message } };
      if (error instanceof RefusedMessageError) return { error: error.amqpError };
      throw error;
    }
  }

  private metaOf(info: MessageInfo): MessageMeta {
    const now = this.runtime.now();
    let expiresAtMs = info.ttlMs !== null ? now + info.ttlMs : null;
    if (info.absoluteExpiryTimeMs !== null && info.absoluteExpiryTimeMs > 0) {
      expiresAtMs = expiresAtMs === null ? info.absoluteExpiryTimeMs : Math.min(expiresAtMs, info.absoluteExpiryTimeMs);
    }
    return {
      groupId: info.groupId,
      closesGroup: info.closesGroup,
      expiresAtMs,
      deliveryCount: info.deliveryCount,
      durable: info.durable,
      ...(info.priority === null ? {} : { priority: info.priority }),
      deliverAtMs: deliveryTime(info, now),
    };
  }

  /** The queue or topic the message goes to, or why it cannot be taken. */
  private checkedDestination(bytes: Buffer, format: number): ProducerDestination {
    if (format !== 0) {
      throw new RefusedMessageError({ condition: Condition.notImplemented, description: `message-format ${format} is not supported (only 0, AMQP 1.0 2.7.5)` });
    }
    if (!this.blockWhenFull && this.runtime.diskFull()) {
      throw new RefusedMessageError({ condition: Condition.resourceLimitExceeded, description: 'the broker store is full (maxDiskBytes)' });
    }
    return this.fixedDestination ?? this.destinationFromTo(bytes);
  }

  /**
   * ANONYMOUS-RELAY: a link with a null target routes each message by its `to` (AMQP 1.0 3.2.4). Qpid
   * JMS says in `x-opt-jms-dest` whether it sent to a queue or a topic; the name's kind decides as for
   * a link's capability (a contradiction is refused with amqp:not-found).
   */
  private destinationFromTo(bytes: Buffer): ProducerDestination {
    const info = readMessageInfo(bytes, null);
    if (info.to === null) {
      throw new AddressError('message has no "to" address, and its link has no target address to route it by');
    }
    const address = parseTargetAddress(info.to);
    const claim = info.jmsDestinationType === null ? null : (JMS_DESTINATION_KINDS[info.jmsDestinationType] ?? null);
    const kind = this.runtime.topics.resolveKind(address, claim);
    const temporary = info.jmsDestinationType === JMS_TEMPORARY_TOPIC;
    if (temporary && !this.runtime.topics.isTemporary(address)) {
      throw new NodeKindError(`temporary topic "${address}" does not exist (a temporary topic is gone with the connection that created it)`);
    }
    return { address, kind, temporary };
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
    const credit = linkInternals(this.receiver).credit;
    if (credit <= this.creditWindow / 2) this.receiver.add_credit(this.creditWindow - credit);
  }
}

/**
 * Delayed delivery (README "Delayed delivery"): x-opt-delivery-time (absolute, on the broker's clock)
 * wins over x-opt-delivery-delay (from arrival); a time not in the future means at once.
 */
function deliveryTime(info: MessageInfo, nowMs: number): number | null {
  if (info.deliveryTimeMs !== null) return info.deliveryTimeMs > nowMs ? info.deliveryTimeMs : null;
  if (info.deliveryDelayMs !== null && info.deliveryDelayMs > 0) return nowMs + info.deliveryDelayMs;
  return null;
}
