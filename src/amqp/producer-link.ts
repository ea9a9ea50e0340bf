import type { Delivery, Receiver } from 'rhea';
import type { BrokerRuntime, Fullness } from '../broker/runtime';
import type { Logger } from '../broker/logger';
import { AddressError, checkNameLength, parseTargetAddress } from './address';
import type { AddressAccess } from './authorization';
import { Condition, type AmqpError } from './conditions';
import { MalformedMessageError, readMessageInfo } from './message-sections';
import type { QueueProducer, QueueProducers } from './queue-producers';
import { linkInternals } from './rhea';

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

/**
 * The broker's side of a client sender: an incoming link (AMQP 1.0 2.6). Credit is granted in windows
 * (2.6.7); each message is enqueued before its delivery is accepted (3.4.2), so an accepted message is
 * always in a queue. When the store or message memory is full the link is held back: it gets no new
 * credit until there is room (or, with the `fail` policies, its messages are refused).
 */
export class ProducerLink implements QueueProducer {
  /** The message being received was aborted (2.7.5 transfer.aborted): discard it. */
  aborted = false;
  /** The message being received is over maxMessageBytes: the link is being closed. */
  oversized = false;
  private bytesOfCurrentMessage = 0;
  /** Bytes of the message being received counted as arriving in the broker's memory budget. */
  private arrivingBytes = 0;
  /** Held back: no new credit, waiting for room; calling it stops waiting. */
  private stopWaiting: (() => void) | null = null;
  /** Registered for the deletion of the fixed queue; calling it unregisters. */
  private stopWatchingQueue: (() => void) | null = null;
  private closed = false;

  constructor(
    private readonly receiver: Receiver,
    /** Fixed queue of the link's target, or null for an anonymous-relay link (route by `to`). */
    private readonly fixedQueue: string | null,
    private readonly runtime: BrokerRuntime,
    private readonly logger: Logger,
    private readonly creditWindow: number,
    private readonly maxMessageBytes: number,
    private readonly policies: FullPolicies,
    /** Authorisation of the connection: relayed messages and queue creation are checked per message. */
    private readonly access: AddressAccess,
    private readonly queueProducers: QueueProducers,
  ) {}

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
      this.releaseArrivingBytes();
    } else if (more && !aborted) {
      // The frames of a message in several transfers are held in memory until the last one arrives.
      this.arrivingBytes += payloadBytes;
      this.runtime.messageArriving(payloadBytes);
    }
    if (!more || aborted) {
      this.bytesOfCurrentMessage = 0;
      this.releaseArrivingBytes();
    }
  }

  private releaseArrivingBytes(): void {
    if (this.arrivingBytes === 0) return;
    this.runtime.messageArriving(-this.arrivingBytes);
    this.arrivingBytes = 0;
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
      const queue = this.checkedQueue(bytes, format);
      const info = readMessageInfo(bytes, this.runtime.queueOptions(queue).groupKey);
      if (info.groupId !== null) checkNameLength('the group id', info.groupId);
      const refusal = this.access.admitMessage(queue, this.fixedQueue === null);
      if (refusal) throw new RefusedMessageError(refusal);
      const now = this.runtime.now();
      let expiresAtMs = info.ttlMs !== null ? now + info.ttlMs : null;
      if (info.absoluteExpiryTimeMs !== null && info.absoluteExpiryTimeMs > 0) {
        expiresAtMs = expiresAtMs === null ? info.absoluteExpiryTimeMs : Math.min(expiresAtMs, info.absoluteExpiryTimeMs);
      }
      this.runtime.execute({
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
      });
      return { error: null, durable: info.durable };
    } catch (error) {
      if (error instanceof MalformedMessageError) return { error: { condition: Condition.decodeError, description: error.message }, durable: false };
      if (error instanceof AddressError) return { error: { condition: Condition.invalidField, description: error.message }, durable: false };
      if (error instanceof RefusedMessageError) return { error: error.amqpError, durable: false };
      throw error;
    }
  }

  /** The queue the message goes to, or why it cannot be taken. */
  private checkedQueue(bytes: Buffer, format: number): string {
    if (format !== 0) {
      throw new RefusedMessageError({ condition: Condition.notImplemented, description: `message-format ${format} is not supported (only 0, AMQP 1.0 2.7.5)` });
    }
    const queue = this.fixedQueue ?? this.queueFromTo(bytes);
    const full = this.runtime.fullFor(queue);
    if (full !== null && this.refuses(full)) {
      throw new RefusedMessageError({ condition: Condition.resourceLimitExceeded, description: full.description });
    }
    return queue;
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

  /** ANONYMOUS-RELAY: a link with a null target routes each message by its `to` (AMQP 1.0 3.2.4). */
  private queueFromTo(bytes: Buffer): string {
    const info = readMessageInfo(bytes, null);
    if (info.to === null) {
      throw new AddressError('message has no "to" address, and its link has no target address to route it by');
    }
    return parseTargetAddress(info.to);
  }

  /** Credit comes in windows, topped up at half (AMQP 1.0 2.6.7 flow control). */
  private topUpCredit(): void {
    if (this.stopWaiting !== null || this.closed || this.holdBackIfFull()) return;
    const credit = linkInternals(this.receiver).credit;
    if (credit <= this.creditWindow / 2) this.receiver.add_credit(this.creditWindow - credit);
  }

  /**
   * At maxDiskBytes or maxMemoryBytes (or the fixed queue's own maxMemoryBytes) under the `block`
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
