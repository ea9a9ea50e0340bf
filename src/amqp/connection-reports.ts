import { TLSSocket } from 'node:tls';
import type { Connection } from 'rhea';
import type { ConnectionContext } from './connection-context';
import { linkInternals } from './rhea';

/** An open AMQP connection as operators see it (`convoy connections`, `/api/connections`). */
export interface ConnectionReport {
  /** The broker's id for it (`c7`); consumers on it are `c7/<n>`. */
  readonly id: string;
  /** The client's address and port. */
  readonly remote: string;
  /** The client's container-id (AMQP 1.0 2.7.1 open); null before its open arrived. */
  readonly container: string | null;
  /** The hostname the client asked for in its open. */
  readonly hostname: string | null;
  /** Who the client logged in as; null before the login completed. */
  readonly user: string | null;
  readonly tls: boolean;
  readonly openedAtMs: number;
  readonly consumers: readonly ConsumerLinkReport[];
  readonly producers: readonly ProducerLinkReport[];
}

export interface ConsumerLinkReport {
  /** The consumer's id in queue views (`c7/3`). */
  readonly consumerId: string;
  readonly link: string;
  /** The source address the client attached with (queue name and options); null for a dynamic source. */
  readonly address: string | null;
}

export interface ProducerLinkReport {
  readonly link: string;
  /** The target address; null for an anonymous-relay link (each message names its queue in `to`). */
  readonly address: string | null;
  /** Credit the broker has granted the link and the client has not used yet. */
  readonly credit: number;
}

export function connectionReport(connection: Connection, context: ConnectionContext): ConnectionReport {
  const opened = connection.is_open();
  return {
    id: context.id,
    remote: `${context.socket.remoteAddress}:${context.socket.remotePort}`,
    container: opened ? (connection.container_id ?? null) : null,
    hostname: opened ? (connection.hostname ?? null) : null,
    user: context.login.principal?.user ?? null,
    tls: context.socket instanceof TLSSocket,
    openedAtMs: context.openedAtMs,
    consumers: [...context.consumers].map(([sender, link]) => ({
      consumerId: link.consumerId,
      link: sender.name,
      address: addressOf(sender.source),
    })),
    producers: [...context.producers.keys()].map((receiver) => ({
      link: receiver.name,
      address: addressOf(receiver.target),
      credit: linkInternals(receiver).credit,
    })),
  };
}

/** A terminus the client sent (AMQP 1.0 3.5.3 source, 3.5.4 target), as rhea decoded it. */
function addressOf(terminus: unknown): string | null {
  const address = (terminus as { address?: unknown } | undefined)?.address;
  return typeof address === 'string' ? address : null;
}
