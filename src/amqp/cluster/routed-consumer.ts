import type { Sender } from 'rhea';
import type { NodeAddress, PeerIdentity, QueueHome } from '../../broker/cluster-services';
import type { Logger } from '../../broker/logger';
import type { ConnectionTransactions } from '../../broker/transactions';
import { Condition, type AmqpError } from '../conditions';
import type { ConsumerLink, LinkEnd, ServedConsumer } from '../consumer-link';
import { CoreConsumer, type AttachCommand } from '../core-consumer';
import type { ClusterLinks } from './cluster-links';
import { HomeTracker } from './home-tracker';
import type { InterNodeConnection } from './inter-node-connections';
import { redirectError } from './redirect';
import { UpstreamConsumer } from './upstream-consumer';

/** Messages a client still holds that came through an inter-node connection since lost. */
interface StaleDeliveries {
  readonly connection: InterNodeConnection;
  count: number;
}

/**
 * A consumer link on a cluster node (README, "Cluster"). It is served by the local core when this node
 * is the queue's home, else through an inter-node link to the home; while the home is not known (being
 * claimed, or its node lost and not yet taken over) it waits, attached, with no messages.
 *
 * When the connection to the home is lost, the link stays attached and follows the queue to its new
 * home. The messages the client received from the lost home and has not settled are stale: their
 * outcomes go nowhere (the messages come back from the new home, delivery-count raised), and the
 * connection they came through stays registered in etcd until the client has settled every one of them,
 * so that no node hands their groups to another consumer while this client may still be working on
 * them. A client that does not settle them within cluster.releaseTimeoutMs has its link detached
 * (amqp:link:detach-forced), which ends its hold.
 *
 * On the home, a link opened by another node for its client is served by the core too, never passed
 * on: if this node is not the home (any more), the link is detached with amqp:link:redirect and the
 * other node looks again.
 */
export class RoutedConsumer implements ServedConsumer {
  private state: 'waiting' | 'connecting' | 'local' | 'remote' | 'closed' = 'waiting';
  private readonly home: HomeTracker;
  private readonly stale = new Map<number, StaleDeliveries>();
  private releaseTimer: NodeJS.Timeout | null = null;
  private attempts = 0;

  constructor(
    private readonly links: ClusterLinks,
    private readonly sender: Sender,
    private readonly link: ConsumerLink,
    private readonly command: AttachCommand,
    private readonly client: string,
    /** Set when another node opened this link for its client. */
    private readonly peer: PeerIdentity | null,
    private readonly logger: Logger,
    private readonly transactions: ConnectionTransactions,
  ) {
    link.onStaleSettled = (generation) => this.staleSettled(generation);
    this.home = new HomeTracker(links.cluster, command.queue, 'consume', (home) => this.route(home));
  }

  get consumerId(): string {
    return this.command.consumerId;
  }

  start(): void {
    this.home.look();
  }

  private route(home: QueueHome): void {
    switch (home.kind) {
      case 'local': {
        this.state = 'local';
        this.home.stop();
        const backend = this.peer
          ? this.links.heldCoreConsumer(this.command.consumerId, this.peer, this.logger, this.transactions)
          : new CoreConsumer(this.links.runtime, this.command.consumerId, this.logger, this.transactions);
        backend.serve(this.link, this.command, this.client);
        this.link.onFlow();
        return;
      }
      case 'remote':
        if (this.peer) {
          this.closeClient(redirectError(this.command.queue, home.node));
          return;
        }
        this.connect(home.node);
        return;
      case 'waiting':
        this.state = 'waiting';
        this.logger.debug({ consumer: this.command.consumerId, queue: this.command.queue, reason: home.reason }, 'consumer waits for its queue\'s home');
    }
  }

  private connect(node: NodeAddress): void {
    this.state = 'connecting';
    this.links.connections.to(node).then(
      (connection) => {
        if (this.state !== 'connecting') return connection.unreserveLink();
        this.state = 'remote';
        this.home.reached();
        const upstream = new UpstreamConsumer(connection, this.link, this.command, this.client, `${this.links.cluster.nodeId}.${++this.attempts}`, (error) =>
          this.upstreamEnded(connection, error),
        );
        this.link.serveFrom(upstream);
        this.link.onFlow();
        this.logger.debug({ consumer: this.command.consumerId, queue: this.command.queue, home: node.nodeId }, 'consumer served by the queue\'s home node');
      },
      (error: Error) => {
        if (this.state !== 'connecting') return;
        this.logger.warn({ consumer: this.command.consumerId, home: node.nodeId, error: error.message }, 'cannot reach the queue\'s home node; retrying');
        this.retryLater();
      },
    );
  }

  private retryLater(): void {
    this.state = 'waiting';
    this.home.retryLater();
  }

  /**
   * The upstream link ended without the client asking. Its connection was lost, or the home redirected
   * the link: the link looks for the home again. The home refused or ended it with an error: the
   * client's link ends with the same error.
   */
  private upstreamEnded(connection: InterNodeConnection, error: AmqpError | null): void {
    if (this.state === 'closed') return;
    const generation = this.link.backendGeneration;
    const stale = this.link.serveFrom(null);
    if (connection.isLost) {
      if (stale > 0) this.holdStale(generation, connection, stale);
      this.retryLater();
      return;
    }
    if (error === null || error.condition === Condition.redirect) {
      this.retryLater();
      return;
    }
    this.closeClient(error);
  }

  private holdStale(generation: number, connection: InterNodeConnection, count: number): void {
    connection.holdStale(count);
    this.stale.set(generation, { connection, count });
    this.logger.warn(
      { consumer: this.command.consumerId, queue: this.command.queue, unsettled: count, home: connection.node.nodeId },
      'the queue\'s home was lost while the client held unsettled messages: they come back from the new home once the client has settled these',
    );
    if (this.releaseTimer === null) {
      this.releaseTimer = setTimeout(() => {
        this.releaseTimer = null;
        if (this.stale.size === 0) return;
        this.closeClient({
          condition: Condition.detachForced,
          description: `the home node of queue "${this.command.queue}" was lost while this link held unsettled messages, and they were not settled within ${this.links.cluster.releaseTimeoutMs} ms; they are delivered again`,
        });
      }, this.links.cluster.releaseTimeoutMs);
      this.releaseTimer.unref();
    }
  }

  private staleSettled(generation: number): void {
    const entry = this.stale.get(generation);
    if (!entry) return;
    entry.connection.releaseStale(1);
    if (--entry.count === 0) this.stale.delete(generation);
    if (this.stale.size === 0 && this.releaseTimer !== null) {
      clearTimeout(this.releaseTimer);
      this.releaseTimer = null;
    }
  }

  /** Ends the client's link with `error` (2.6.5 detach): from then on the client holds nothing of it. */
  private closeClient(error: AmqpError): void {
    this.logger.info({ consumer: this.command.consumerId, condition: error.condition, reason: error.description }, 'consumer link ended by the cluster');
    this.sender.close(error);
    this.close('detached');
  }

  close(end: LinkEnd = 'detached'): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.home.stop();
    if (this.releaseTimer !== null) clearTimeout(this.releaseTimer);
    this.link.close(end);
    for (const entry of this.stale.values()) entry.connection.releaseStale(entry.count);
    this.stale.clear();
  }
}
