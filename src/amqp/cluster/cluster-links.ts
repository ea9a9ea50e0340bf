import type { Sender } from 'rhea';
import type { ClusterServices, PeerIdentity } from '../../broker/cluster-services';
import type { Logger } from '../../broker/logger';
import type { BrokerRuntime } from '../../broker/runtime';
import type { ConnectionTransactions } from '../../broker/transactions';
import type { Principal } from '../../security/authenticator';
import type { TlsCredentials } from '../../security/tls-files';
import type { ConnectionContext } from '../connection-context';
import type { ConsumerLink, LinkEnd, ServedConsumer } from '../consumer-link';
import { CoreConsumer, type AttachCommand } from '../core-consumer';
import { InterNodeConnections } from './inter-node-connections';
import { CLIENT_PROPERTY, readPeerIdentity } from './peer-identity';
import { ProducerRelay, type RelayedProducer } from './producer-relay';
import { QueueForwarder } from './queue-forwarder';
import { RoutedConsumer } from './routed-consumer';

/**
 * The AMQP layer of a cluster node (README, "Cluster"): serves every link whatever node is its queue's
 * home, over connections to the other nodes; recognises the connections other nodes open to this one;
 * forwards messages that land in a local queue whose home is elsewhere. A single node has none of this.
 */
export class ClusterLinks {
  readonly connections: InterNodeConnections;
  private readonly forwarders = new Map<string, QueueForwarder>();
  private readonly watched = new Map<string, () => void>();
  private closed = false;

  constructor(
    readonly runtime: BrokerRuntime,
    readonly cluster: ClusterServices,
    tlsCredentials: TlsCredentials | null,
    /** Whether a users file is configured: then only the cluster user may connect as a node. */
    private readonly usersConfigured: boolean,
    private readonly logger: Logger,
  ) {
    this.connections = new InterNodeConnections(cluster, tlsCredentials, usersConfigured, runtime.turn, logger.child({ component: 'inter-node' }));
    runtime.onQueueCreated((queue) => this.watchLocalQueue(queue));
    for (const queue of runtime.state.queues.keys()) this.watchLocalQueue(queue);
  }

  /**
   * A connection's open: if it claims to come from another node, that node's identity (checked), else
   * null. Returns the refusal's description for a connection that claims to be a node but may not.
   */
  admitPeer(properties: unknown, principal: Principal): { peer: PeerIdentity | null; refusal: string | null } {
    const peer = readPeerIdentity(properties);
    if (peer === null) return { peer: null, refusal: null };
    const { user } = this.cluster.interNode;
    if (this.usersConfigured && (user === null || principal.user !== user)) {
      return { peer: null, refusal: `only the cluster user (cluster.user) may connect as a cluster node; "${principal.user}" may not` };
    }
    return { peer, refusal: this.cluster.checkPeer(peer) };
  }

  serveConsumer(context: ConnectionContext, sender: Sender, link: ConsumerLink, command: AttachCommand, client: string, properties: Readonly<Record<string, unknown>>): ServedConsumer {
    const peer = context.peer;
    const described = peer ? `via node ${peer.nodeId}: ${typeof properties[CLIENT_PROPERTY] === 'string' ? properties[CLIENT_PROPERTY] : client}` : client;
    const routed = new RoutedConsumer(this, sender, link, command, described, peer, context.logger, context.transactions);
    routed.start();
    return routed;
  }

  producerRelay(context: ConnectionContext, producer: RelayedProducer, fixedQueue: string | null): ProducerRelay {
    return new ProducerRelay(this, producer, fixedQueue, context.peer, context.logger);
  }

  /**
   * A consumer another node attached for its client. If that node's connection is lost (not when the
   * link is detached), the consumer is kept, with its groups and unsettled messages and no credit, until
   * that node says its client no longer holds them (or that node's lease ends): only then do its
   * messages go back to the queue and its groups to other consumers.
   */
  heldCoreConsumer(consumerId: string, peer: PeerIdentity, logger: Logger, transactions: ConnectionTransactions): CoreConsumer {
    const cluster = this.cluster;
    return new (class extends CoreConsumer {
      override detach(end: LinkEnd): void {
        if (end !== 'connection-lost') {
          super.detach(end);
          return;
        }
        this.credit(0, false);
        logger.info({ consumer: consumerId, node: peer.nodeId }, 'inter-node connection lost: its consumer keeps its groups until that node releases it');
        const release = (): void => {
          cluster.whenReleased(peer).then(
            () => super.detach(end),
            (error: Error) => {
              logger.warn({ consumer: consumerId, error: error.message }, 'cannot read the release of an inter-node connection; asking again');
              setTimeout(release, 1000).unref();
            },
          );
        };
        release();
      }
    })(this.runtime, consumerId, logger, transactions);
  }

  /** A queue of the local core: if its home is another node, its messages are forwarded there. */
  private watchLocalQueue(queue: string): void {
    if (this.closed || this.watched.has(queue)) return;
    const check = (): void => {
      if (this.closed || this.forwarders.has(queue) || !this.runtime.state.queues.has(queue)) return;
      if (this.cluster.homeOf(queue, 'produce').kind !== 'remote') return;
      const forwarder = new QueueForwarder(this, this.runtime, queue, this.logger, () => {
        this.forwarders.delete(queue);
        check();
      });
      this.forwarders.set(queue, forwarder);
      forwarder.start();
    };
    this.watched.set(queue, this.cluster.subscribe(queue, check));
    check();
  }

  close(): void {
    this.closed = true;
    for (const forwarder of [...this.forwarders.values()]) forwarder.close();
    for (const unsubscribe of this.watched.values()) unsubscribe();
    this.connections.close();
  }
}
