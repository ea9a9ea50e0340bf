import type { Delivery, EventContext, Sender } from 'rhea';
import type { NodeAddress, PeerIdentity, QueueHome } from '../../broker/cluster-services';
import type { Logger } from '../../broker/logger';
import { Condition, type AmqpError } from '../conditions';
import type { ClusterLinks } from './cluster-links';
import { HomeTracker } from './home-tracker';
import { UpstreamLink, type InterNodeConnection } from './inter-node-connections';
import { redirectError } from './redirect';

/** What a relay needs of the producer link it serves. */
export interface RelayedProducer {
  /** Enqueues a message on this node, and answers its delivery as for any local message. */
  enqueueHere(queue: string, bytes: Buffer, delivery: Delivery): void;
  /** Messages left the relay (answered or dropped): the link may grant more credit. */
  relaySettled(): void;
  /** The home refused the messages: the client's link ends with that error. */
  fail(error: AmqpError): void;
}

/** A message of the client, and its delivery, waiting for its home or for the home's answer. */
interface RelayedMessage {
  readonly bytes: Buffer;
  readonly delivery: Delivery;
}

/** An outbox with nothing to send keeps its upstream link this long, for the next message. */
const IDLE_OUTBOX_MS = 5000;

/**
 * A producer link's messages for queues whose home is another node (README, "Cluster"). Each queue has
 * an outbox: messages wait there in the order they came, go to the home through one upstream link (their
 * bytes unchanged), and the client's delivery is answered with the home's outcome: accepted means the
 * home has it (on disk, if durable). If the home is lost, the messages it had not answered go to the new
 * home first, in order, before any later one (at-least-once: one may arrive twice, none is lost). Once a
 * queue's home is this node, its outbox empties into the local core, in order, and later messages go
 * straight there.
 *
 * On the home, a link another node opened for its client uses an outbox too, only to wait while the
 * queue is being taken over; if this node is not the home, that link ends with amqp:link:redirect.
 */
export class ProducerRelay {
  private readonly outboxes = new Map<string, QueueOutbox>();
  private held = 0;
  private closed = false;

  constructor(
    readonly links: ClusterLinks,
    readonly producer: RelayedProducer,
    /** The link's target queue; null for the anonymous relay. */
    fixedQueue: string | null,
    readonly peer: PeerIdentity | null,
    readonly logger: Logger,
  ) {
    // A queue's home is the node that sees its first attach (README, "Cluster"): a producer's counts.
    if (fixedQueue !== null) links.cluster.homeOf(fixedQueue, 'produce');
  }

  /** The message must go through the relay: its queue's home is not here, or earlier messages still wait. */
  takes(queue: string): boolean {
    if (this.outboxes.has(queue)) return true;
    return this.links.cluster.homeOf(queue, 'produce').kind !== 'local';
  }

  forward(queue: string, bytes: Buffer, delivery: Delivery): void {
    let outbox = this.outboxes.get(queue);
    if (!outbox) {
      outbox = new QueueOutbox(this, queue);
      this.outboxes.set(queue, outbox);
    }
    this.held++;
    outbox.add({ bytes, delivery });
  }

  /** A transactional message for a queue served by another node: transactions cover this node's queues. */
  transactionRefusal(queue: string): AmqpError {
    const home = this.links.cluster.homeOf(queue, 'produce');
    const where = home.kind === 'remote' ? `is served by node ${home.node.nodeId}` : 'has no home on this node';
    return { condition: Condition.notImplemented, description: `transactions cover only queues served by the node the client is connected to; "${queue}" ${where}` };
  }

  /** Messages in the relay: waiting, or sent and not yet answered by the home. */
  get outstanding(): number {
    return this.held;
  }

  /** `count` messages left the relay. */
  released(count: number): void {
    this.held -= count;
    if (!this.closed) this.producer.relaySettled();
  }

  outboxDone(queue: string, outbox: QueueOutbox): void {
    if (this.outboxes.get(queue) === outbox) this.outboxes.delete(queue);
  }

  /** The client's link ended: its outboxes and their upstream links end with it. */
  close(): void {
    this.closed = true;
    for (const outbox of this.outboxes.values()) outbox.close();
    this.outboxes.clear();
  }
}

class QueueOutbox {
  /** Waiting to be sent, in order. */
  private pending: RelayedMessage[] = [];
  /** Sent upstream, not answered yet, in the order sent. */
  private readonly inFlight = new Map<Delivery, RelayedMessage>();
  private upstream: UpstreamLink<Sender> | null = null;
  private state: 'routing' | 'waiting' | 'connecting' | 'sending' | 'closed' = 'routing';
  private readonly home: HomeTracker;
  private idleTimer: NodeJS.Timeout | null = null;
  private attempts = 0;

  constructor(
    private readonly relay: ProducerRelay,
    private readonly queue: string,
  ) {
    this.home = new HomeTracker(relay.links.cluster, queue, 'produce', (home) => this.route(home));
  }

  add(message: RelayedMessage): void {
    this.pending.push(message);
    this.clearIdleTimer();
    if (this.state === 'routing') this.home.look();
    else if (this.state === 'sending') this.pump();
  }

  private route(home: QueueHome): void {
    switch (home.kind) {
      case 'local':
        this.deliverHere();
        return;
      case 'remote':
        if (this.relay.peer) {
          this.relay.producer.fail(redirectError(this.queue, home.node));
          return;
        }
        this.connect(home.node);
        return;
      case 'waiting':
        this.state = 'waiting';
    }
  }

  /** This node is the home now: everything waiting goes into the local core, in order; the outbox ends. */
  private deliverHere(): void {
    const messages = this.pending;
    this.pending = [];
    this.finish();
    for (const message of messages) this.relay.producer.enqueueHere(this.queue, message.bytes, message.delivery);
    this.relay.released(messages.length);
  }

  private connect(node: NodeAddress): void {
    this.state = 'connecting';
    this.relay.links.connections.to(node).then(
      (connection) => {
        if (this.state !== 'connecting') return connection.unreserveLink();
        this.openUpstream(connection);
      },
      (error: Error) => {
        if (this.state !== 'connecting') return;
        this.relay.logger.warn({ queue: this.queue, home: node.nodeId, error: error.message }, 'cannot reach the queue\'s home node; retrying');
        this.retryLater();
      },
    );
  }

  private openUpstream(connection: InterNodeConnection): void {
    const sender = connection.openSender({
      name: `${this.relay.links.cluster.nodeId}:relay:${this.queue}:${++this.attempts}`,
      target: { address: this.queue },
      snd_settle_mode: 2,
      autosettle: true,
    } as never);
    this.upstream = new UpstreamLink(connection, sender, () => this.upstreamEnded(null));
    this.state = 'sending';
    this.home.reached();
    sender.on('sendable', () => this.pump());
    sender.on('accepted', (ctx: EventContext) => this.answered(ctx.delivery!, (client) => client.accept()));
    sender.on('released', (ctx: EventContext) => this.answered(ctx.delivery!, (client) => client.release()));
    sender.on('modified', (ctx: EventContext) => this.answered(ctx.delivery!, (client) => client.modified(outcomeFields(ctx.delivery!))));
    sender.on('rejected', (ctx: EventContext) => this.answered(ctx.delivery!, (client) => client.reject(rejectionOf(ctx.delivery!))));
    sender.on('sender_close', () => this.upstreamEnded((sender.error as AmqpError | undefined) ?? null));
    sender.on('sender_error', () => this.upstreamEnded((sender.error as AmqpError | undefined) ?? null));
    this.pump();
  }

  private pump(): void {
    const sender = this.upstream?.link;
    if (!sender || this.state !== 'sending') return;
    let sent = 0;
    while (sent < this.pending.length && sender.sendable()) {
      const message = this.pending[sent++]!;
      const delivery = sender.send(message.bytes, undefined, 0);
      if (message.delivery.remote_settled) {
        // At-most-once: the client asked for no answer; sent is done.
        (delivery as unknown as { settled: boolean }).settled = true;
        this.relay.released(1);
      } else {
        this.inFlight.set(delivery, message);
      }
    }
    if (sent > 0) this.pending = this.pending.slice(sent);
    this.idleCheck();
  }

  /** The home answered a message: the client's delivery gets the same outcome (AMQP 1.0 3.4). */
  private answered(upstream: Delivery, answer: (client: Delivery) => void): void {
    const message = this.inFlight.get(upstream);
    if (!message) return;
    this.inFlight.delete(upstream);
    if (!message.delivery.remote_settled) answer(message.delivery);
    this.relay.released(1);
    this.idleCheck();
  }

  /**
   * The upstream link ended without this node asking. Connection lost or redirected: unanswered
   * messages go first again, in order, to wherever the queue's home is now. Refused with an error: the
   * client's link ends with it.
   */
  private upstreamEnded(error: AmqpError | null): void {
    if (this.state === 'closed' || this.upstream === null) return;
    const lost = this.upstream.connection.isLost;
    this.upstream.end();
    this.upstream = null;
    this.pending = [...this.inFlight.values(), ...this.pending];
    this.inFlight.clear();
    if (lost || error === null || error.condition === Condition.redirect) {
      this.retryLater();
      return;
    }
    this.relay.producer.fail(error);
  }

  private retryLater(): void {
    this.state = 'waiting';
    this.home.retryLater();
  }

  /** Nothing waiting and nothing unanswered: after a while the upstream link and the outbox end. */
  private idleCheck(): void {
    if (this.pending.length > 0 || this.inFlight.size > 0 || this.idleTimer !== null) return;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      if (this.pending.length === 0 && this.inFlight.size === 0) this.finish();
    }, IDLE_OUTBOX_MS);
    this.idleTimer.unref();
  }

  private clearIdleTimer(): void {
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    this.idleTimer = null;
  }

  /** The outbox is empty and ends; a later message to its queue starts a new one. */
  private finish(): void {
    this.close();
    this.relay.outboxDone(this.queue, this);
  }

  close(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.home.stop();
    this.clearIdleTimer();
    this.upstream?.end();
    this.upstream = null;
  }
}

/** The fields of a modified outcome the home sent (AMQP 1.0 3.4.5), to pass on. */
function outcomeFields(delivery: Delivery): Record<string, unknown> {
  const state = delivery.remote_state as { delivery_failed?: boolean; undeliverable_here?: boolean } | undefined;
  return { delivery_failed: state?.delivery_failed === true, undeliverable_here: state?.undeliverable_here === true };
}

/** The error of a rejected outcome the home sent (AMQP 1.0 3.4.3), to pass on. */
function rejectionOf(delivery: Delivery): AmqpError | undefined {
  return (delivery.remote_state as { error?: AmqpError } | undefined)?.error;
}
