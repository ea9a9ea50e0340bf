import type { Delivery, EventContext, Sender } from 'rhea';
import type { NodeAddress, QueueHome } from '../../broker/cluster-services';
import type { Logger } from '../../broker/logger';
import type { BrokerRuntime, ConsumerSink, DeliverEffect } from '../../broker/runtime';
import type { Outcome } from '../../core/types';
import { withDeliveryCount } from '../message-sections';
import type { ClusterLinks } from './cluster-links';
import { HomeTracker } from './home-tracker';
import { UpstreamLink } from './inter-node-connections';

const RELEASED: Outcome = { type: 'released' };
const ACCEPTED: Outcome = { type: 'accepted' };
const REJECTED: Outcome = { type: 'rejected' };
/** At most this many messages on their way to the home at once. */
const WINDOW = 500;

/**
 * Messages that land in a queue of this node's core whose home is another node: dead-lettered here into
 * a dead-letter queue served elsewhere, or copied from a lost node's journal. A consumer of that local
 * queue sends each one to the home (with its delivery-count) and takes it out of the local queue once the
 * home has accepted it; if the home is lost meanwhile, the message is released (back to its place, its
 * count unchanged) and sent to the new home. In order, one queue at a time.
 */
export class QueueForwarder implements ConsumerSink {
  private readonly consumerId: string;
  private upstream: UpstreamLink<Sender> | null = null;
  private readonly inFlight = new Map<Delivery, number>();
  private state: 'routing' | 'connecting' | 'forwarding' | 'closed' = 'routing';
  private readonly home: HomeTracker;

  constructor(
    private readonly links: ClusterLinks,
    private readonly runtime: BrokerRuntime,
    private readonly queue: string,
    private readonly logger: Logger,
    private readonly onDone: () => void,
  ) {
    this.consumerId = `cluster/forward/${queue}`;
    this.home = new HomeTracker(links.cluster, queue, 'produce', (home) => this.route(home));
    runtime.attachConsumer({ type: 'attach', consumerId: this.consumerId, queue, priority: 0, exclusive: false, settleOnSend: false, filter: null, browse: false }, this, 'cluster: forwards to the queue\'s home');
  }

  start(): void {
    this.home.look();
  }

  private route(home: QueueHome): void {
    if (home.kind === 'local') this.close();
    else if (home.kind === 'remote') this.connect(home.node);
    else this.state = 'routing';
  }

  private connect(node: NodeAddress): void {
    this.state = 'connecting';
    this.links.connections.to(node).then(
      (connection) => {
        if (this.state !== 'connecting') return connection.unreserveLink();
        const sender = connection.openSender({ name: `${this.links.cluster.nodeId}:forward:${this.queue}:${Date.now()}`, target: { address: this.queue }, autosettle: true } as never);
        this.upstream = new UpstreamLink(connection, sender, () => this.upstreamEnded());
        this.state = 'forwarding';
        this.home.reached();
        sender.on('sendable', () => this.grantCredit());
        sender.on('accepted', (ctx: EventContext) => this.answered(ctx.delivery!, ACCEPTED));
        sender.on('rejected', (ctx: EventContext) => this.answered(ctx.delivery!, REJECTED));
        for (const event of ['released', 'modified']) sender.on(event, (ctx: EventContext) => this.answered(ctx.delivery!, RELEASED));
        sender.on('sender_close', () => this.upstreamEnded());
        sender.on('sender_error', () => this.upstreamEnded());
        this.logger.info({ queue: this.queue, home: node.nodeId }, 'forwarding a queue\'s messages to its home node');
      },
      () => this.retryLater(),
    );
  }

  /** The core may hand over as many messages as fit in the window. */
  private grantCredit(): void {
    if (this.state !== 'forwarding') return;
    this.runtime.execute({ type: 'credit', consumerId: this.consumerId, credit: Math.max(0, WINDOW - this.inFlight.size), drain: false });
  }

  deliver(effect: DeliverEffect, stored: Uint8Array): void {
    const sender = this.upstream?.link;
    if (!sender) {
      this.runtime.execute({ type: 'settle', consumerId: this.consumerId, deliveryId: effect.deliveryId, outcome: RELEASED });
      return;
    }
    let bytes = Buffer.isBuffer(stored) ? stored : Buffer.from(stored.buffer, stored.byteOffset, stored.length);
    if (effect.message.deliveryCount > 0) bytes = withDeliveryCount(bytes, effect.message.deliveryCount);
    this.inFlight.set(sender.send(bytes, undefined, 0), effect.deliveryId);
  }

  drained(): void {
    // The forwarder never drains.
  }

  /**
   * Accepted by the home: the message leaves this node. Rejected (the home will never take it): it is
   * dead-lettered here, as any rejected message. Released: it stays, and is sent again.
   */
  private answered(delivery: Delivery, outcome: Outcome): void {
    const deliveryId = this.inFlight.get(delivery);
    if (deliveryId === undefined) return;
    this.inFlight.delete(delivery);
    this.runtime.execute({ type: 'settle', consumerId: this.consumerId, deliveryId, outcome });
    if (outcome.type === 'released') {
      this.retryLater();
      return;
    }
    this.grantCredit();
  }

  private upstreamEnded(): void {
    if (this.upstream === null) return;
    this.dropUpstream();
    this.retryLater();
  }

  /** Messages on their way go back to their place in the local queue, counts unchanged. */
  private dropUpstream(): void {
    if (this.upstream === null) return;
    this.upstream.end();
    this.upstream = null;
    this.runtime.execute({ type: 'credit', consumerId: this.consumerId, credit: 0, drain: false });
    for (const deliveryId of this.inFlight.values()) this.runtime.execute({ type: 'settle', consumerId: this.consumerId, deliveryId, outcome: RELEASED });
    this.inFlight.clear();
  }

  private retryLater(): void {
    if (this.state === 'closed') return;
    this.dropUpstream();
    this.state = 'routing';
    this.home.retryLater();
  }

  /** The queue's home is this node now (or this node stops): the local queue keeps what is left. */
  /** The local queue is being deleted: nothing is left to forward. */
  end(_description: string): void {
    this.close();
  }

  close(): void {
    if (this.state === 'closed') return;
    this.dropUpstream();
    this.state = 'closed';
    this.home.stop();
    this.runtime.detachConsumer(this.consumerId);
    this.onDone();
  }
}
