import { isIP, type Socket } from 'node:net';
import { create_container, type Connection, type ConnectionOptions, type Receiver, type ReceiverOptions, type Sender, type SenderOptions } from 'rhea';
import type { ClusterServices, ConnectionRegistration, NodeAddress } from '../../broker/cluster-services';
import type { Logger } from '../../broker/logger';
import type { BrokerTurn } from '../../broker/turn';
import type { TlsCredentials } from '../../security/tls-files';
import { connectionInternals, patchInterNodeConnection } from '../rhea';
import { scramClientMechanisms } from '../sasl-scram-client';
import { PEER_PROPERTIES } from './peer-identity';

/** An inter-node connection that stopped answering heartbeats is dropped after this (AMQP 1.0 2.4.5). */
const IDLE_TIMEOUT_MS = 10_000;
/** A connection not open this long after it was started is given up (and another one tried). */
const OPEN_TIMEOUT_MS = 10_000;

/**
 * One AMQP connection from this node to another node (the home of some queues), carrying the links this
 * node opens there for its own clients: one session per link. It is registered in etcd before it is
 * opened, and released only when it is gone *and* this node's clients have settled (or lost) every
 * message that came through it: until then the other node keeps the groups of those messages
 * (README, "Cluster: failover").
 */
export class InterNodeConnection {
  private readonly connection: Connection;
  /** Links open on it, and those `to` promised a caller that has not opened them yet. */
  private links = 0;
  /** Messages that came through this connection, still unsettled by clients, after it was lost. */
  private staleDeliveries = 0;
  private lost = false;
  private readonly lostListeners = new Set<() => void>();
  /** Settles once: open, or lost before it was. */
  readonly opened: Promise<void>;
  private failOpening: (error: Error) => void = () => undefined;
  /** cluster.linksPerConnection: one session each, within the other node's channel-max (AMQP 1.0 2.7.1). */
  private readonly maxLinks: number;

  constructor(
    readonly node: NodeAddress,
    private readonly registration: ConnectionRegistration,
    cluster: ClusterServices,
    tlsCredentials: TlsCredentials | null,
    /** A users file is configured: without cluster.user, a node logs in with its certificate. */
    usersConfigured: boolean,
    turn: BrokerTurn,
    private readonly logger: Logger,
    private readonly onGone: (connection: InterNodeConnection) => void,
  ) {
    const { user, password, tls, linksPerConnection } = cluster.interNode;
    this.maxLinks = linksPerConnection;
    const options: Record<string, unknown> = {
      host: node.host,
      port: node.port,
      reconnect: false,
      idle_time_out: IDLE_TIMEOUT_MS,
      container_id: `convoy-node-${cluster.nodeId}`,
      properties: {
        [PEER_PROPERTIES.node]: cluster.nodeId,
        [PEER_PROPERTIES.nodeIncarnation]: cluster.incarnation,
        [PEER_PROPERTIES.homeIncarnation]: node.incarnation,
        [PEER_PROPERTIES.connection]: registration.connectionId,
      },
    };
    if (user !== null && password !== null) options.sasl_mechanisms = scramClientMechanisms(user, password);
    if (tls && tlsCredentials) {
      // The other node's certificate is checked against tls.caFile; this node's own certificate is
      // presented (mutual TLS), and without a password it is what the node logs in with (SASL
      // EXTERNAL): its subject CN is cluster.user.
      Object.assign(options, { transport: 'tls', servername: isIP(node.host) ? '' : node.host, ca: tlsCredentials.ca, cert: tlsCredentials.cert, key: tlsCredentials.key });
      if (password === null && usersConfigured) options.enable_sasl_external = true;
    }
    this.connection = create_container({ id: `convoy-node-${cluster.nodeId}` }).connect(options as unknown as ConnectionOptions);
    patchInterNodeConnection(this.connection, connectionInternals(this.connection).socket as unknown as Socket, turn);
    this.opened = new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.close(`not open within ${OPEN_TIMEOUT_MS} ms`), OPEN_TIMEOUT_MS);
      this.failOpening = (error) => {
        clearTimeout(timer);
        reject(error);
      };
      this.connection.once('connection_open', () => {
        clearTimeout(timer);
        resolve();
      });
      this.connection.once('disconnected', (ctx) => this.failOpening(new Error(`cannot reach node ${node.nodeId} at ${node.host}:${node.port}: ${String(ctx.error ?? 'disconnected')}`)));
      this.connection.once('connection_error', (ctx) => {
        const error = ctx.connection.error as { description?: string } | undefined;
        this.failOpening(new Error(`node ${node.nodeId} refused the connection: ${error?.description ?? 'no reason given'}`));
      });
    });
    this.opened.catch(() => undefined);
    this.connection.on('disconnected', () => this.lose('disconnected'));
    this.connection.on('connection_close', () => this.lose('closed by the other node'));
    this.connection.on('connection_error', () => undefined);
    this.connection.on('error', () => undefined);
    for (const event of ['sender_error', 'receiver_error', 'session_error', 'protocol_error']) this.connection.on(event, () => undefined);
  }

  get hasRoom(): boolean {
    return !this.lost && this.links < this.maxLinks;
  }

  /**
   * Holds a place for a link the caller opens next: callers waiting for one new connection all resume
   * before any of them opens its link, and must not all take it past cluster.linksPerConnection.
   */
  reserveLink(): void {
    this.links++;
  }

  /** A caller that reserved a place no longer needs it (its link went elsewhere meanwhile). */
  unreserveLink(): void {
    this.links--;
  }

  get isLost(): boolean {
    return this.lost;
  }

  /** A receiver (this node consumes there for a client), in its own session, in a place reserved by `to`. */
  openReceiver(options: ReceiverOptions): Receiver {
    const session = this.connection.create_session();
    session.open();
    return session.open_receiver(options);
  }

  /** A sender (this node produces there for a client), in its own session, in a place reserved by `to`. */
  openSender(options: SenderOptions): Sender {
    const session = this.connection.create_session();
    session.open();
    return session.open_sender(options);
  }

  /** Ends a link of this connection, if it still stands, and the link's session with it. */
  closeLink(link: Sender | Receiver): void {
    this.links--;
    if (this.lost) return;
    if (!link.is_closed()) link.close();
    link.session.close();
  }

  /** Calls back once, when the connection is lost (or closed): every link on it is gone. */
  onLost(listener: () => void): () => void {
    if (this.lost) {
      listener();
      return () => undefined;
    }
    this.lostListeners.add(listener);
    return () => this.lostListeners.delete(listener);
  }

  /** `count` messages that came through this connection are still held by clients (called when lost). */
  holdStale(count: number): void {
    this.staleDeliveries += count;
  }

  /** A client settled a stale message, or its link ended (then `count` is all it still held). */
  releaseStale(count = 1): void {
    this.staleDeliveries -= count;
    this.releaseIfDone();
  }

  /** Closes the connection (its node is gone, or this node is stopping). */
  close(reason: string): void {
    if (!this.lost) {
      try {
        this.connection.close();
      } catch {
        // Already failing: the socket goes below.
      }
      (connectionInternals(this.connection).socket as unknown as Socket | undefined)?.destroy();
    }
    this.lose(reason);
  }

  private lose(reason: string): void {
    if (this.lost) return;
    this.lost = true;
    // Closed before it opened (its node is gone): whoever waits for it looks elsewhere.
    this.failOpening(new Error(`connection to node ${this.node.nodeId} lost before it opened: ${reason}`));
    this.logger.info({ node: this.node.nodeId, reason }, 'inter-node connection lost');
    const listeners = [...this.lostListeners];
    this.lostListeners.clear();
    for (const listener of listeners) listener();
    this.onGone(this);
    this.releaseIfDone();
  }

  private releaseIfDone(): void {
    if (this.lost && this.staleDeliveries === 0) this.registration.release();
  }
}

/** A link this node opened on an inter-node connection, told when that connection is lost. */
export class UpstreamLink<L extends Sender | Receiver> {
  private readonly stopListening: () => void;
  private ended = false;

  constructor(
    readonly connection: InterNodeConnection,
    readonly link: L,
    onLost: () => void,
  ) {
    this.stopListening = connection.onLost(onLost);
  }

  /** Ends the link (if its connection still stands); its connection's loss is no longer reported. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.stopListening();
    this.connection.closeLink(this.link);
  }
}

/** This node's connections to the other nodes, opened on demand, several per node when one is full. */
export class InterNodeConnections {
  private readonly byNode = new Map<string, Set<InterNodeConnection>>();
  private readonly pending = new Map<string, Promise<InterNodeConnection>>();
  private closed = false;

  constructor(
    private readonly cluster: ClusterServices,
    private readonly tlsCredentials: TlsCredentials | null,
    private readonly usersConfigured: boolean,
    private readonly turn: BrokerTurn,
    private readonly logger: Logger,
  ) {
    cluster.onNodeDown((nodeId) => this.closeNode(nodeId, 'its etcd lease ended'));
  }

  /**
   * An open connection to that life of `node` with a place reserved for the caller's next link (it opens
   * it there, or gives the place back with unreserveLink).
   */
  async to(node: NodeAddress): Promise<InterNodeConnection> {
    for (;;) {
      if (this.closed) throw new Error('this node is stopping');
      for (const connection of this.byNode.get(node.nodeId) ?? []) {
        if (connection.hasRoom && connection.node.incarnation === node.incarnation) {
          connection.reserveLink();
          return connection;
        }
      }
      const key = `${node.nodeId}/${node.incarnation}`;
      let pending = this.pending.get(key);
      if (!pending) {
        pending = this.open(node).finally(() => this.pending.delete(key));
        this.pending.set(key, pending);
      }
      const connection = await pending;
      if (connection.hasRoom) {
        connection.reserveLink();
        return connection;
      }
      // Callers that waited for the same new connection filled it: look again.
    }
  }

  private async open(node: NodeAddress): Promise<InterNodeConnection> {
    const registration = await this.cluster.registerConnection(node);
    const connection = new InterNodeConnection(node, registration, this.cluster, this.tlsCredentials, this.usersConfigured, this.turn, this.logger, (gone) => this.byNode.get(gone.node.nodeId)?.delete(gone));
    let connections = this.byNode.get(node.nodeId);
    if (!connections) {
      connections = new Set();
      this.byNode.set(node.nodeId, connections);
    }
    connections.add(connection);
    try {
      await connection.opened;
    } catch (error) {
      connection.close('could not open');
      throw error;
    }
    return connection;
  }

  /** Every connection to a node whose lease ended: whatever it still sends is not listened to. */
  closeNode(nodeId: string, reason: string): void {
    for (const connection of [...(this.byNode.get(nodeId) ?? [])]) connection.close(reason);
  }

  close(): void {
    this.closed = true;
    for (const nodeId of [...this.byNode.keys()]) this.closeNode(nodeId, 'this node is stopping');
  }
}
