import type { Delivery, Receiver } from 'rhea';
import type { MessageMeta } from '../core/types';
import type { BrokerRuntime, Fullness } from '../broker/runtime';
import type { Logger } from '../broker/logger';
import { NodeKindError, type NodeKind } from '../broker/topics';
import { TransactionError, type ConnectionTransactions } from '../broker/transactions';
import { AddressError, checkNameLength, parseTargetAddress } from './address';
import type { AddressAccess } from './authorization';
import type { ProducerRelay, RelayedProducer } from './cluster/producer-relay';
import { topicsNotClustered } from './cluster/unclustered-topics';
import { Condition, type AmqpError } from './conditions';
import { IncomingMessageGuard } from './incoming-message-guard';
import { InvalidAnnotationError, MalformedMessageError, readMessageInfo, type MessageInfo } from './message-sections';
import type { QueueProducer, QueueProducers } from './queue-producers';
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

/** What a producer meets at a full store or full memory: held back by credit, or its messages refused. */
export interface FullPolicies {
  /** diskFullPolicy, at maxDiskBytes. */
  readonly disk: 'block' | 'fail';
  /** memoryFullPolicy, at maxMemoryBytes or the queue's own maxMemoryBytes. */
  readonly memory: 'block' | 'fail';
}

/** A message checked and ready to enter its queue, or its topic's subscriptions. */
interface PreparedMessage {
  readonly destination: ProducerDestination;
  readonly meta: MessageMeta;
  readonly body: Buffer;
}

/** What enqueueing a message here came to: the error to reject it with, or whether it is durable. */
interface EnqueueOutcome {
  readonly error: AmqpError | null;
  readonly durable: boolean;
}

/**
 * The broker's side of a client sender: an incoming link (AMQP 1.0 2.6). Credit is granted in windows
 * (2.6.7); each message is enqueued before its delivery is accepted (3.4.2), so an accepted message is
 * always in a queue. When the store or message memory is full the link is held back: it gets no new
 * credit until there is room (or, with the `fail` policies, its messages are refused). On a cluster
 * node, messages for queues served by another node go through a relay (src/amqp/cluster/producer-relay.ts),
 * which answers their deliveries with the home's outcome.
 */
export class ProducerLink implements QueueProducer, RelayedProducer {
  private readonly guard: IncomingMessageGuard;
  /** Bytes of the message being received counted as arriving in the broker's memory budget. */
  private arrivingBytes = 0;
  /** Held back: no new credit, waiting for room; calling it stops waiting. */
  private stopWaiting: (() => void) | null = null;
  /** Registered for the deletion of the target queue; calling it unregisters. */
  private stopWatchingQueue: (() => void) | null = null;
  private closed = false;
  /** Cluster nodes only. */
  private relay: ProducerRelay | null = null;

  constructor(
    private readonly receiver: Receiver,
    /** The link target's queue or topic, or null for an anonymous-relay link (route by `to`). */
    private readonly fixedDestination: ProducerDestination | null,
    private readonly runtime: BrokerRuntime,
    private readonly logger: Logger,
    private readonly creditWindow: number,
    maxMessageBytes: number,
    private readonly policies: FullPolicies,
    /** Authorisation of the connection: relayed messages and queue creation are checked per message. */
    private readonly access: AddressAccess,
    /** The connection's open transactions, which transactional transfers join (AMQP 1.0 4.4.1). */
    private readonly transactions: ConnectionTransactions,
    /** Producer links by target queue, broker-wide: detached when their queue is deleted. */
    private readonly queueProducers: QueueProducers,
  ) {
    this.guard = new IncomingMessageGuard(receiver, maxMessageBytes, 'maxMessageBytes');
  }

  /** A cluster node relays messages whose queue is served elsewhere. */
  relayWith(relay: ProducerRelay): void {
    this.relay = relay;
  }

  open(): void {
    if (this.fixedQueue !== null) this.stopWatchingQueue = this.queueProducers.add(this.fixedQueue, this);
    if (!this.holdBackIfFull()) this.receiver.add_credit(this.creditWindow);
  }

  /** Detached, its session ended or its connection gone. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopWaiting?.();
    this.stopWaiting = null;
    this.stopWatchingQueue?.();
    this.stopWatchingQueue = null;
    this.releaseArrivingBytes();
    this.relay?.close();
  }

  /** The target queue was deleted: the link is detached with amqp:resource-deleted (AMQP 1.0 2.8.15). */
  queueDeleted(queue: string): void {
    if (this.closed) return;
    this.close();
    this.receiver.close({ condition: Condition.resourceDeleted, description: `queue "${queue}" was deleted` });
    this.logger.info({ queue, link: this.receiver.name }, 'producer detached: its queue was deleted');
  }

  /** Called for every transfer frame on this link, before rhea assembles it. */
  onTransferFrame(payloadBytes: number, more: boolean, aborted: boolean): void {
    this.guard.onTransferFrame(payloadBytes, more, aborted);
    if (more && !aborted && this.guard.keepsFrames) {
      // The frames of a message in several transfers are held in memory until the last one arrives.
      this.arrivingBytes += payloadBytes;
      this.runtime.messageArriving(payloadBytes);
    } else if (!more || aborted || !this.guard.keepsFrames) {
      this.releaseArrivingBytes();
    }
  }

  private releaseArrivingBytes(): void {
    if (this.arrivingBytes === 0) return;
    this.runtime.messageArriving(-this.arrivingBytes);
    this.arrivingBytes = 0;
  }

  /** The queue of the link's target; null for a topic or the anonymous relay. */
  private get fixedQueue(): string | null {
    return this.fixedDestination?.kind === 'queue' ? this.fixedDestination.address : null;
  }

  onMessage(bytes: Buffer, format: number | null | undefined, delivery: Delivery): void {
    if (this.guard.discards(delivery)) return;
    const transactional = readTransactionalState(delivery.remote_state);
    if (transactional) {
      this.enlist(bytes, format ?? 0, delivery, transactional);
      this.topUpCredit();
      return;
    }
    const destination = this.routedDestination(bytes, format ?? 0);
    if ('error' in destination) this.answer(delivery, { error: destination.error, durable: false });
    else if (destination.kind === 'queue' && this.relay?.takes(destination.address)) this.relayed(destination.address, bytes, delivery);
    else this.answer(delivery, this.enqueue(destination, bytes, true));
    this.topUpCredit();
  }

  /** A message the relay held (its queue's home was not known yet) goes into this node's queue after all. */
  enqueueHere(queue: string, bytes: Buffer, delivery: Delivery): void {
    this.answer(delivery, this.enqueue({ address: queue, kind: 'queue', temporary: false }, bytes, false));
  }

  relaySettled(): void {
    this.topUpCredit();
  }

  /** The queue's home refused the link: the client's link ends with its error. */
  fail(error: AmqpError): void {
    this.close();
    if (this.receiver.is_open()) this.receiver.close(error);
  }

  /** The relay takes the message once the client may send to its queue (and create it there). */
  private relayed(queue: string, bytes: Buffer, delivery: Delivery): void {
    const refusal = this.access.admitMessage(queue, this.fixedDestination === null);
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
  private enqueue(destination: ProducerDestination, bytes: Buffer, admit: boolean): EnqueueOutcome {
    const prepared = this.prepare(destination, bytes, admit);
    if ('error' in prepared) return { error: prepared.error, durable: false };
    const { meta, body } = prepared;
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
    const destination = this.routedDestination(bytes, format);
    const prepared =
      'error' in destination ? destination
      : destination.kind === 'queue' && this.relay?.takes(destination.address) ? { error: this.relay.transactionRefusal(destination.address) }
      : this.prepare(destination, bytes, true);
    let error = 'error' in prepared ? prepared.error : null;
    if (!('error' in prepared)) {
      const { destination: { kind, address }, meta, body } = prepared;
      try {
        if (kind === 'queue') {
          this.transactions.send(transaction, { type: 'enqueue', queue: address, meta, body }, bytes.length, meta.durable);
          // The queue is used from now on (created on first use): later messages to it count no new queue.
          this.runtime.execute({ type: 'declare', queue: address });
        } else {
          // A topic's copies are made at commit, for the subscriptions it has then (none if it is gone).
          this.transactions.sendRouted(transaction, () => this.runtime.topics.copiesAtCommit(address, meta, body), bytes.length, meta.durable);
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
   * Checks a message for `destination` (on this node) and what it needs to enter its queue or topic (a
   * topic is created on first use here), or the error to reject it with; `admit` checks the client's
   * rights (a relayed message was checked already).
   */
  private prepare(destination: ProducerDestination, bytes: Buffer, admit: boolean): PreparedMessage | { error: AmqpError } {
    try {
      const full = this.runtime.fullFor(destination.kind === 'queue' ? destination.address : null);
      if (full !== null && this.refuses(full)) {
        throw new RefusedMessageError({ condition: Condition.resourceLimitExceeded, description: full.description });
      }
      const info = readMessageInfo(bytes, this.runtime.queueOptions(destination.address).groupKey);
      if (info.groupId !== null) checkNameLength('the group id', info.groupId);
      const refusal = admit ? this.access.admitMessage(destination.address, this.fixedDestination === null) : null;
      if (refusal) throw new RefusedMessageError(refusal);
      if (destination.kind === 'topic' && !destination.temporary) this.runtime.topics.declare(destination.address);
      return { destination, meta: this.metaOf(info), body: bytes };
    } catch (error) {
      return refusalOf(error);
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

  /** The queue or topic the message goes to, or why it cannot be taken (a topic, on a cluster node). */
  private routedDestination(bytes: Buffer, format: number): ProducerDestination | { error: AmqpError } {
    try {
      if (format !== 0) {
        throw new RefusedMessageError({ condition: Condition.notImplemented, description: `message-format ${format} is not supported (only 0, AMQP 1.0 2.7.5)` });
      }
      const destination = this.fixedDestination ?? this.destinationFromTo(bytes);
      if (destination.kind === 'topic' && this.relay !== null) {
        throw new RefusedMessageError({ condition: Condition.notImplemented, description: topicsNotClustered(destination.address) });
      }
      return destination;
    } catch (error) {
      return refusalOf(error);
    }
  }

  /**
   * Whether a message meeting `full` is refused rather than taken. With the `block` policies a message
   * that arrives anyway was sent on credit granted before, and is taken; a link that routes by `to`
   * cannot be held back for one queue, so its messages to a full queue are refused.
   */
  private refuses(full: Fullness): boolean {
    if (full.resource === 'disk') return this.policies.disk === 'fail';
    if (full.resource === 'queue-memory' && this.fixedQueue === null) return true;
    return this.policies.memory === 'fail';
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

  /** Credit comes in windows, topped up at half (AMQP 1.0 2.6.7 flow control). */
  private topUpCredit(): void {
    if (this.stopWaiting !== null || this.closed || this.holdBackIfFull()) return;
    // Messages the relay holds count against the window: they wait for their home's answer.
    const used = linkInternals(this.receiver).credit + (this.relay?.outstanding ?? 0);
    if (used <= this.creditWindow / 2) this.receiver.add_credit(this.creditWindow - used);
  }

  /**
   * At maxDiskBytes or maxMemoryBytes (or the target queue's own maxMemoryBytes) under the `block`
   * policies, no new credit is granted and the link waits for room. Credit it has already is not taken
   * back: a client may have sent on it already, and rhea clients keep sending when a flow leaves their
   * credit below zero. So a producer may finish its window, at most producerCreditWindow messages.
   */
  private holdBackIfFull(): boolean {
    const full = this.runtime.fullFor(this.fixedQueue);
    if (full === null || this.refuses(full)) return false;
    this.logger.debug({ queue: this.fixedQueue, reason: full.description }, 'producer held back');
    this.stopWaiting = this.runtime.whenRoom(this.fixedQueue, () => {
      this.stopWaiting = null;
      this.topUpCredit();
    });
    return true;
  }
}

/** The AMQP error a message is rejected with, for the errors a client's message can cause. */
function refusalOf(error: unknown): { error: AmqpError } {
  if (error instanceof MalformedMessageError) return { error: { condition: Condition.decodeError, description: error.message } };
  if (error instanceof AddressError || error instanceof InvalidAnnotationError) return { error: { condition: Condition.invalidField, description: error.message } };
  if (error instanceof NodeKindError) return { error: { condition: Condition.notFound, description: error.message } };
  if (error instanceof RefusedMessageError) return { error: error.amqpError };
  throw error;
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
