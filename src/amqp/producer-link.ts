import type { Delivery, Receiver } from 'rhea';
import type { BrokerRuntime } from '../broker/runtime';
import type { Logger } from '../broker/logger';
import { NodeKindError, type NodeKind } from '../broker/topics';
import type { MessageMeta } from '../core/types';
import { AddressError, checkNameLength, parseTargetAddress } from './address';
import type { AddressAccess } from './authorization';
import { Condition, type AmqpError } from './conditions';
import { MalformedMessageError, readMessageInfo, type MessageInfo } from './message-sections';
import { linkInternals } from './rhea';

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

/**
 * The broker's side of a client sender: an incoming link (AMQP 1.0 2.6). Credit is granted in windows
 * (2.6.7); each message is enqueued before its delivery is accepted (3.4.2), so an accepted message is
 * always in a queue.
 */
export class ProducerLink {
  /** The message being received was aborted (2.7.5 transfer.aborted): discard it. */
  aborted = false;
  /** The message being received is over maxMessageBytes: the link is being closed. */
  oversized = false;
  private bytesOfCurrentMessage = 0;
  private waitingForSpace = false;

  constructor(
    private readonly receiver: Receiver,
    /** The link target's queue or topic, or null for an anonymous-relay link (route by `to`). */
    private readonly fixedDestination: ProducerDestination | null,
    private readonly runtime: BrokerRuntime,
    private readonly logger: Logger,
    private readonly creditWindow: number,
    private readonly maxMessageBytes: number,
    /** diskFullPolicy `block`: hold producers back at maxDiskBytes; otherwise refuse their messages. */
    private readonly blockWhenFull: boolean,
    /** Authorisation of the connection: relayed messages and queue creation are checked per message. */
    private readonly access: AddressAccess,
  ) {}

  open(): void {
    this.receiver.add_credit(this.creditWindow);
  }

  /** Called for every transfer frame on this link, before rhea assembles it. */
  onTransferFrame(payloadBytes: number, more: boolean, aborted: boolean): void {
    if (aborted) this.aborted = true;
    this.bytesOfCurrentMessage += payloadBytes;
    if (!this.oversized && this.bytesOfCurrentMessage > this.maxMessageBytes) {
      this.oversized = true;
      this.receiver.close({
        condition: Condition.messageSizeExceeded,
        description: `message exceeds maxMessageBytes (${this.maxMessageBytes} bytes)`,
      });
    }
    if (this.oversized) {
      // Keep nothing of a message we will refuse.
      const incomplete = linkInternals(this.receiver)._incomplete;
      if (incomplete?.frames) incomplete.frames.length = 0;
    }
    if (!more) this.bytesOfCurrentMessage = 0;
  }

  onMessage(bytes: Buffer, format: number | null | undefined, delivery: Delivery): void {
    if (this.aborted || this.oversized) {
      this.aborted = false;
      if (!delivery.remote_settled) delivery.update(true);
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
    try {
      const destination = this.checkedDestination(bytes, format);
      const info = readMessageInfo(bytes, this.runtime.queueOptions(destination.address).groupKey);
      if (info.groupId !== null) checkNameLength('the group id', info.groupId);
      const refusal = this.access.admitMessage(destination.address, this.fixedDestination === null);
      if (refusal) throw new RefusedMessageError(refusal);
      const meta = this.metaOf(info);
      if (destination.kind === 'topic') {
        if (!destination.temporary) this.runtime.topics.declare(destination.address);
        return { error: null, durable: this.runtime.topics.publish(destination.address, meta, bytes).stored };
      }
      this.runtime.execute({ type: 'enqueue', queue: destination.address, meta, body: bytes });
      return { error: null, durable: info.durable };
    } catch (error) {
      if (error instanceof MalformedMessageError) return { error: { condition: Condition.decodeError, description: error.message }, durable: false };
      if (error instanceof AddressError) return { error: { condition: Condition.invalidField, description: error.message }, durable: false };
      if (error instanceof NodeKindError) return { error: { condition: Condition.notFound, description: error.message }, durable: false };
      if (error instanceof RefusedMessageError) return { error: error.amqpError, durable: false };
      throw error;
    }
  }

  private metaOf(info: MessageInfo): MessageMeta {
    const now = this.runtime.now();
    let expiresAtMs = info.ttlMs !== null ? now + info.ttlMs : null;
    if (info.absoluteExpiryTimeMs !== null && info.absoluteExpiryTimeMs > 0) {
      expiresAtMs = expiresAtMs === null ? info.absoluteExpiryTimeMs : Math.min(expiresAtMs, info.absoluteExpiryTimeMs);
    }
    return { groupId: info.groupId, closesGroup: info.closesGroup, expiresAtMs, deliveryCount: info.deliveryCount, durable: info.durable };
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
