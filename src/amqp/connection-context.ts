import type { Socket } from 'node:net';
import type { Receiver, Sender } from 'rhea';
import type { PeerIdentity } from '../broker/cluster-services';
import type { Logger } from '../broker/logger';
import type { ConnectionTransactions } from '../broker/transactions';
import type { AddressAccess } from './authorization';
import type { Admission } from './connection-admission';
import type { ConnectionLinks } from './connection-links';
import type { ConnectionLogin } from './connection-login';
import type { ClusterLinks } from './cluster/cluster-links';
import type { ServedConsumer } from './consumer-link';
import type { CoordinatorLink } from './coordinator-link';
import type { HandshakeTimer } from './handshake-timer';
import type { OutputGate } from './output-gate';
import type { QueueProducers } from './queue-producers';
import type { ProducerLink } from './producer-link';
import type { TemporaryQueues } from './temporary-queues';

/** Per-connection bookkeeping; rhea objects never leave src/amqp. */
export interface ConnectionContext {
  readonly id: string;
  readonly logger: Logger;
  readonly socket: Socket;
  /** When the socket was accepted (broker clock). */
  readonly openedAtMs: number;
  readonly consumers: Map<Sender, ServedConsumer>;
  readonly producers: Map<Receiver, ProducerLink>;
  /** Temporary topics this connection created: they go when it closes (or when their creating link does). */
  readonly temporaryTopics: Set<string>;
  /** Transaction controllers' links (AMQP 1.0 4.2). */
  readonly coordinators: Map<Receiver, CoordinatorLink>;
  /** The connection's open transactions: any of its links may work in them (AMQP 1.0 4.4). */
  readonly transactions: ConnectionTransactions;
  /** Who the client logged in as (SASL), and the limits that go with it. */
  readonly login: ConnectionLogin;
  /** What the client may attach to and send to. */
  readonly access: AddressAccess;
  /** Whether the connection was within maxConnections and maxConnectionsPerAddress when it came. */
  readonly admission: Admission;
  /** handshakeTimeoutMs: stopped when the open arrives. */
  readonly handshake: HandshakeTimer;
  /** Every link the client attached, by session (maxLinksPerSession, maxLinksPerConnection). */
  readonly links: ConnectionLinks;
  /** What the client has not read yet (maxOutputBytesPerConnection): its consumers wait while it is above. */
  readonly output: OutputGate;
  /** Deliveries each consumer link may hold unsettled (maxUnsettledPerLink). */
  readonly maxUnsettledPerLink: number;
  /** The temporary queues its links created, deleted with them. */
  readonly temporaryQueues: TemporaryQueues;
  /** Broker-wide: producer links by their queue, detached when it is deleted. */
  readonly queueProducers: QueueProducers;
  /** A broker-wide unique id for a consumer attaching on this connection: `<connection>/<n>`. */
  newConsumerId(): string;
  /** This node's cluster links; null on a single node. */
  readonly cluster: ClusterLinks | null;
  /** Set when the connection comes from another cluster node (its open said so, and it may). */
  peer: PeerIdentity | null;
}

/** `container address:port`, how operators see a client (`convoy queues`). */
export function describeClient(context: ConnectionContext, containerId: string | undefined): string {
  return `${containerId ?? '?'} ${context.socket.remoteAddress}:${context.socket.remotePort}`;
}
