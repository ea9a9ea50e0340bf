import type { Socket } from 'node:net';
import type { Receiver, Sender } from 'rhea';
import type { PeerIdentity } from '../broker/cluster-services';
import type { Logger } from '../broker/logger';
import type { ConnectionTransactions } from '../broker/transactions';
import type { AddressAccess } from './authorization';
import type { ConnectionLogin } from './connection-login';
import type { ClusterLinks } from './cluster/cluster-links';
import type { ServedConsumer } from './consumer-link';
import type { CoordinatorLink } from './coordinator-link';
import type { ProducerLink } from './producer-link';

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
