import type { Socket } from 'node:net';
import type { Receiver, Sender } from 'rhea';
import type { Logger } from '../broker/logger';
import type { ConnectionTransactions } from '../broker/transactions';
import type { AddressAccess } from './authorization';
import type { ConnectionLogin } from './connection-login';
import type { ConsumerLink } from './consumer-link';
import type { CoordinatorLink } from './coordinator-link';
import type { ProducerLink } from './producer-link';

/** Per-connection bookkeeping; rhea objects never leave src/amqp. */
export interface ConnectionContext {
  readonly id: string;
  readonly logger: Logger;
  readonly socket: Socket;
  /** When the socket was accepted (broker clock). */
  readonly openedAtMs: number;
  readonly consumers: Map<Sender, ConsumerLink>;
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
}

/** `container address:port`, how operators see a client (`convoy queues`). */
export function describeClient(context: ConnectionContext, containerId: string | undefined): string {
  return `${containerId ?? '?'} ${context.socket.remoteAddress}:${context.socket.remotePort}`;
}
