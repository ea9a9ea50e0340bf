import type { Delivery, Sender } from 'rhea';
import type { Outcome } from '../core/types';
import type { BrokerRuntime, ConsumerSink, DeliverEffect } from '../broker/runtime';
import { Condition, type AmqpError } from './conditions';
import { withDeliveryCount } from './message-sections';
import type { OutputGate } from './output-gate';
import { answerDrainWithFlow, linkInternals, tagOf } from './rhea';

const SETTLE_MODE_SETTLED = 1; // AMQP 1.0 2.8.2 sender-settle-mode "settled"

/** Why a link ends: the client detached it, or its session or connection ended (or was lost). */
export type LinkEnd = 'detached' | 'connection-lost';

/**
 * Where a consumer link's messages come from: the local dispatch core, or (in a cluster) the node that
 * is the queue's home, through an inter-node link. The link hands it credit, outcomes and its end.
 */
export interface ConsumerBackend {
  /** AMQP 1.0 2.6.7: what the client may receive from now on, and whether it asks to drain. */
  credit(credit: number, drain: boolean): void;
  settle(deliveryId: number, outcome: Outcome): void;
  /**
   * AMQP 1.0 4.4.2: an acknowledgement in the transaction `txnId`, applied when it commits. Returns the
   * error to end the link with when it cannot be taken (no such transaction), else null.
   */
  settleInTransaction(txnId: unknown, deliveryId: number, outcome: Outcome): AmqpError | null;
  detach(end: LinkEnd): void;
}

/** What a connection keeps for each of its consumer links, to end it with the link. */
export interface ServedConsumer {
  readonly consumerId: string;
  close(end?: LinkEnd): void;
}

/**
 * What a delivery is taken to weigh on a link that has sent none yet, against maxOutputBytesPerConnection:
 * one frame of the default maxFrameBytes. Giving such a link a single delivery instead would make it
 * miss its turn among competing consumers.
 */
const ASSUMED_DELIVERY_BYTES = 64 * 1024;

/** Consumer links per rhea session: they share the session's ring of unsettled deliveries. */
const consumersPerSession = new WeakMap<object, number>();

/**
 * The broker's side of a client receiver: an outgoing link (AMQP 1.0 2.6). Turns flow frames into credit
 * for its backend, the backend's messages into transfers, and dispositions into outcomes for the backend.
 *
 * The backend can change (in a cluster, when a queue's home is lost and another node takes it over):
 * deliveries sent for an earlier backend are then stale. Their outcomes go nowhere (those messages come
 * back from the new home, with their delivery-count raised); `onStaleSettled` hears of each one.
 */
export class ConsumerLink implements ConsumerSink, ServedConsumer {
  /** Deliveries handed to rhea on this link (sent or queued), for the credit formula. */
  private issued = 0;
  /** Deliveries sent unsettled and not settled yet (maxUnsettledPerLink). */
  private unsettled = 0;
  /** Of those, the bytes of paged bodies read back from the store to send them. */
  private unsettledReadBackBytes = 0;
  private closed = false;
  /** Bytes of the deliveries handed to rhea on this link: with `issued`, their average size. */
  private issuedBytes = 0;
  /** The credit given to the core was cut to what the session's ring, maxUnsettledPerLink or the socket backlog leave room for. */
  private limitedByRoom = false;
  private recheckScheduled = false;
  private readonly flowAgain = (): void => this.onFlow();
  private backend: ConsumerBackend | null = null;
  /** Counts backends served from; each delivery is tagged with the one it came from. */
  private generation = 0;
  /** Unsettled deliveries of the current backend. */
  private unsettledOfBackend = 0;
  /** Told of each stale delivery the client settles, with the generation it came from. */
  onStaleSettled: ((generation: number) => void) | null = null;

  constructor(
    readonly consumerId: string,
    private readonly sender: Sender,
    /** Counts this link's unsettled deliveries against the broker's memory (maxMemoryBytes). */
    private readonly runtime: BrokerRuntime,
    private readonly defaultOutcome: Outcome,
    private readonly maxUnsettled: number,
    /** The connection's socket backlog (maxOutputBytesPerConnection). */
    private readonly output: OutputGate,
    /**
     * Runs once the link has ended and its backend let go of it; `closed` is true when the client closed
     * the link (detach closed=true, AMQP 1.0 2.6.6) rather than detaching it or losing its session.
     */
    private readonly afterClose: (closed: boolean) => void = () => undefined,
  ) {
    answerDrainWithFlow(sender);
    consumersPerSession.set(sender.session, (consumersPerSession.get(sender.session) ?? 0) + 1);
  }

  get settleOnSend(): boolean {
    return linkInternals(this.sender).local.attach.snd_settle_mode === SETTLE_MODE_SETTLED;
  }

  /** The generation of the backend now served from. */
  get backendGeneration(): number {
    return this.generation;
  }

  /**
   * Serves the link from `backend` from now on (null: from nothing, while a cluster finds the queue's
   * home). Returns how many deliveries of the previous backend are still unsettled: they are stale now.
   */
  serveFrom(backend: ConsumerBackend | null): number {
    const stale = this.unsettledOfBackend;
    this.backend = backend;
    this.generation++;
    this.unsettledOfBackend = 0;
    return stale;
  }

  /**
   * AMQP 1.0 2.6.7: link-credit(snd) = delivery-count(rcv) + link-credit(rcv) - delivery-count(snd).
   * rhea counts only transfers already written; deliveries queued in rhea count as used too. The core
   * gets at most maxUnsettledPerLink of it at a time (settled deliveries too: the rest follows in later
   * turns, after the socket write), at most what fits under maxOutputBytesPerConnection at this link's
   * average delivery size (ASSUMED_DELIVERY_BYTES before its first), and none while the client is not
   * reading its socket. The backend (the core, or the queue's home) gets the result.
   */
  onFlow(): void {
    if (this.closed || this.backend === null) return;
    const link = linkInternals(this.sender);
    const queuedInRhea = this.issued - link.delivery_count;
    const linkCredit = Math.max(0, link.credit - queuedInRhea);
    const fitsInOutput = this.output.deliveriesThatFit(this.issued === 0 ? ASSUMED_DELIVERY_BYTES : this.issuedBytes / this.issued);
    const room = Math.min(fitsInOutput, this.ringShare(), this.maxUnsettled - this.unsettled);
    if (fitsInOutput === 0 && linkCredit > 0) this.output.whenOpen(this.flowAgain);
    this.limitedByRoom = room < linkCredit;
    this.backend.credit(Math.min(linkCredit, room), link._draining === true);
  }

  /**
   * rhea keeps every unsettled delivery of a session in one fixed ring and throws when it is full, so a
   * consumer may only be given as much credit as its share of the free slots. Slots free up as
   * deliveries are settled (or sent pre-settled); the credit is then recomputed.
   */
  private ringShare(): number {
    const session = this.sender.session;
    const free = linkInternals(this.sender).session.outgoing.deliveries.available();
    return Math.floor(free / (consumersPerSession.get(session) ?? 1));
  }

  /**
   * After rhea has freed ring slots (it does so when it processes the session, on the next tick),
   * settled deliveries made room under maxUnsettledPerLink, or the turn's deliveries went to the socket.
   */
  private recheckRoomLater(): void {
    if (!this.limitedByRoom || this.recheckScheduled) return;
    this.recheckScheduled = true;
    setImmediate(() => {
      this.recheckScheduled = false;
      this.onFlow();
    });
  }

  /** A message from the local core: `stored` as the store keeps it; its header gets the delivery-count. */
  deliver(effect: DeliverEffect, stored: Uint8Array): void {
    let bytes = Buffer.isBuffer(stored) ? stored : Buffer.from(stored.buffer, stored.byteOffset, stored.length);
    if (effect.message.deliveryCount > 0) {
      bytes = withDeliveryCount(bytes, effect.message.deliveryCount);
    }
    // A paged body was read back from the store for this delivery: rhea holds that copy until it is sent.
    this.send(bytes, effect.deliveryId, effect.settled, effect.message.body instanceof Uint8Array ? 0 : bytes.length);
  }

  /** A message from the queue's home node, forwarded as it came (its header is the home's). */
  forward(bytes: Buffer, deliveryId: number, settled: boolean): void {
    this.send(bytes, deliveryId, settled, 0);
  }

  private send(bytes: Buffer, deliveryId: number, settled: boolean, readBack: number): void {
    const delivery = this.sender.send(bytes, undefined, 0);
    this.issued++;
    this.issuedBytes += bytes.length;
    // Ask again next turn: the credit may have been cut to what the socket backlog had room for.
    this.recheckRoomLater();
    const tag = tagOf(delivery);
    tag.convoyDeliveryId = deliveryId;
    tag.convoyGeneration = this.generation;
    if (settled) {
      tag.convoySettled = true;
    } else {
      tag.convoyReadBackBytes = readBack;
      this.unsettled++;
      this.unsettledOfBackend++;
      this.unsettledReadBackBytes += readBack;
      this.runtime.deliveriesInFlight(1, readBack);
    }
  }

  drained(): void {
    // Let rhea write the transfers queued in this turn first, then the drain flow (2.6.7).
    setImmediate(() => {
      if (this.closed) return;
      this.sender.set_drained(true);
      (this.sender.connection as unknown as { _register(): void })._register();
    });
  }

  /** A disposition from the client: its outcome, once, when it settles or states a terminal outcome. */
  onOutcome(delivery: Delivery): void {
    const tag = tagOf(delivery);
    if (tag.convoySettled || tag.convoyDeliveryId === undefined || this.closed) return;
    tag.convoySettled = true;
    const readBack = tag.convoyReadBackBytes ?? 0;
    this.unsettled--;
    this.unsettledReadBackBytes -= readBack;
    this.runtime.deliveriesInFlight(-1, -readBack);
    const outcome = outcomeOf(delivery.remote_state, this.defaultOutcome);
    if (!delivery.remote_settled) delivery.update(true);
    if (tag.convoyGeneration !== this.generation) {
      this.onStaleSettled?.(tag.convoyGeneration!);
    } else if (tag.convoyTxnId !== undefined) {
      this.unsettledOfBackend--;
      const error = this.backend!.settleInTransaction(tag.convoyTxnId, tag.convoyDeliveryId, outcome);
      if (error) {
        // The client has settled the delivery: the refusal can only go on the link.
        this.sender.close(error);
        this.close();
      }
    } else {
      this.unsettledOfBackend--;
      this.backend!.settle(tag.convoyDeliveryId, outcome);
    }
    this.recheckRoomLater();
  }

  /** Detach, session end, connection close or loss: the backend takes its unsettled messages back. */
  close(end: LinkEnd = 'detached'): void {
    if (this.closed) return;
    this.closed = true;
    this.runtime.deliveriesInFlight(-this.unsettled, -this.unsettledReadBackBytes);
    this.unsettled = 0;
    this.unsettledReadBackBytes = 0;
    consumersPerSession.set(this.sender.session, (consumersPerSession.get(this.sender.session) ?? 1) - 1);
    this.backend?.detach(end);
    this.afterClose(linkInternals(this.sender).remote.detach?.closed === true);
  }

  /** The broker ends the link: its node is being deleted (AMQP 1.0 2.8.15 amqp:resource-deleted). */
  end(description: string): void {
    if (this.closed) return;
    this.sender.close({ condition: Condition.resourceDeleted, description });
    this.close();
  }
}

// Outcomes without fields are the same every time: one object each, not one per settlement.
const ACCEPTED: Outcome = Object.freeze({ type: 'accepted' });
const RELEASED: Outcome = Object.freeze({ type: 'released' });
const REJECTED: Outcome = Object.freeze({ type: 'rejected' });

/** AMQP 1.0 3.4 outcomes; a delivery settled without one takes the source's default-outcome (3.5.3). */
export function outcomeOf(state: unknown, defaultOutcome: Outcome): Outcome {
  const described = state as { constructor?: { composite_type?: string }; delivery_failed?: boolean; undeliverable_here?: boolean } | undefined;
  switch (described?.constructor?.composite_type) {
    case 'accepted':
      return ACCEPTED;
    case 'released':
      return RELEASED;
    case 'rejected':
      return REJECTED;
    case 'modified':
      return {
        type: 'modified',
        deliveryFailed: described.delivery_failed === true,
        undeliverableHere: described.undeliverable_here === true,
      };
    default:
      return defaultOutcome;
  }
}
