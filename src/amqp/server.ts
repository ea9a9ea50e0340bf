import net, { type AddressInfo, type Server, type Socket } from 'node:net';
import tls from 'node:tls';
import { create_container, type Connection, type Container, type EventContext } from 'rhea';
import type { BrokerOptions } from '../config/options';
import type { TlsOptions } from '../config/security-options';
import type { ClusterServices } from '../broker/cluster-services';
import type { BrokerRuntime } from '../broker/runtime';
import type { Logger } from '../broker/logger';
import { ConnectionTransactions } from '../broker/transactions';
import { secureContextOptions, type TlsCredentials } from '../security/tls-files';
import { AccessRefusedError, AddressAccess } from './authorization';
import { ClusterLinks } from './cluster/cluster-links';
import { Condition } from './conditions';
import { ConnectionAdmission, REFUSALS_UNDER_WAY_MAX } from './connection-admission';
import type { ConnectionContext } from './connection-context';
import { ConnectionLinks, forgetLinks, type Link } from './connection-links';
import { connectionReport, type ConnectionReport } from './connection-reports';
import { ConnectionLogin, type LoginServices } from './connection-login';
import { openConsumerLink } from './consumer-attach';
import { HandshakeTimer } from './handshake-timer';
import { OutputGate } from './output-gate';
import { openProducerLink } from './producer-attach';
import { QueueProducers } from './queue-producers';
import { connectionInternals, offerSaslMechanisms, patchServerConnection, skipDisabledRheaLogging } from './rhea';
import { saslMechanismsFor } from './sasl';
import { TemporaryQueues } from './temporary-queues';
import { refuseLink } from './termini';

export interface AmqpServer {
  /** The plain listener's port; null when it is off (`port: null`). */
  readonly port: number | null;
  /** The TLS listener's port; null without `tls`. */
  readonly tlsPort: number | null;
  readonly host: string;
  /** New TLS connections use these; open ones keep theirs. */
  reloadTls(credentials: TlsCredentials): void;
  /** Every open connection with its links (operators: `convoy connections`). */
  connections(): ConnectionReport[];
  connectionCount(): number;
  /**
   * Closes the connection with amqp:connection:forced and `description` (AMQP 1.0 2.7.9); its consumers'
   * unsettled messages return as on any connection loss. False when there is no such connection.
   */
  closeConnection(id: string, description: string): boolean;
  /** Stops accepting, closes every connection with amqp:connection:forced. */
  close(): Promise<void>;
}

/** Who may log in and do what, and the TLS listener's certificate (null: no TLS listener). */
export interface AmqpSecurity extends LoginServices {
  readonly tls: TlsCredentials | null;
}

const CLOSE_GRACE_MS = 2000;

/**
 * The AMQP listener: accepts connections, and routes rhea's connection, session and link events. On a
 * cluster node (`cluster` given) links are served wherever their queue's home is (README, "Cluster").
 */
export async function startAmqpServer(
  runtime: BrokerRuntime,
  options: BrokerOptions,
  logger: Logger,
  security: AmqpSecurity,
  cluster: ClusterServices | null = null,
): Promise<AmqpServer> {
  skipDisabledRheaLogging();
  const container = create_container({ id: 'convoy' });
  const clusterLinks = cluster && new ClusterLinks(runtime, cluster, security.tls, options.auth.usersFile !== null, logger);
  const queueExists = cluster ? (queue: string) => cluster.queueExists(queue) : undefined;
  const connections = new Map<Connection, ConnectionContext>();
  const admission = new ConnectionAdmission(options);
  const queueProducers = new QueueProducers(runtime);
  let nextConnection = 1;
  let nextConsumer = 1;
  let nextTransaction = 1;

  const contextOf = (connection: Connection): ConnectionContext | undefined => connections.get(connection);

  const accept = (socket: Socket): void => {
    const admitted = admission.admit(socket.remoteAddress ?? '?');
    if (admitted === null) {
      logger.warn({ remote: `${socket.remoteAddress}:${socket.remotePort}` }, 'connection dropped: over the connection limits, and too many refusals under way');
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    const id = `c${nextConnection++}`;
    const connLogger = logger.child({ conn: id, remote: `${socket.remoteAddress}:${socket.remotePort}` });
    const handshake = new HandshakeTimer(socket, options.handshakeTimeoutMs, connLogger);
    const connection = container.create_connection({
      id,
      container_id: 'convoy',
      max_frame_size: options.maxFrameBytes,
      channel_max: options.channelMax,
      // rhea drops a peer after twice its advertised idle-time-out; advertise half of ours (AMQP 1.0 2.4.5).
      idle_time_out: Math.max(1, Math.floor(options.idleTimeoutMs / 2)),
      // ANONYMOUS-RELAY: a sender with a null target routes by `to`; DELAYED_DELIVERY: x-opt-delivery-time /
      // -delay are honoured; SHARED-SUBS: Qpid JMS refuses shared subscriptions to a peer that does not offer it.
      offered_capabilities: ['ANONYMOUS-RELAY', 'DELAYED_DELIVERY', 'SHARED-SUBS'],
      session_buffer_size: 8192,
      receiver_options: { autoaccept: false, credit_window: 0 },
      sender_options: { autosettle: true, treat_modified_as_released: false },
    } as unknown as Parameters<Container['create_connection']>[0]);
    const context: ConnectionContext = {
      id,
      logger: connLogger,
      socket,
      openedAtMs: Date.now(),
      consumers: new Map(),
      producers: new Map(),
      coordinators: new Map(),
      transactions: new ConnectionTransactions(runtime, options, () => nextTransaction++),
      temporaryTopics: new Set(),
      login: new ConnectionLogin(security, socket, connLogger, (waitMs) => handshake.extend(waitMs)),
      access: new AddressAccess(runtime, security.limits, options.maxQueues, queueExists),
      admission: admitted,
      handshake,
      links: new ConnectionLinks(options),
      output: new OutputGate(socket, options.maxOutputBytesPerConnection),
      maxUnsettledPerLink: options.maxUnsettledPerLink,
      temporaryQueues: new TemporaryQueues(runtime),
      queueProducers,
      newConsumerId: () => `${id}/${nextConsumer++}`,
      cluster: clusterLinks,
      peer: null,
    };
    connections.set(connection, context);
    patchServerConnection(connection, {
      socket,
      logger: connLogger,
      maxFrameBytes: options.maxFrameBytes,
      onTransferFrame: (receiver, bytes, more, aborted) =>
        (context.producers.get(receiver) ?? context.coordinators.get(receiver))?.onTransferFrame(bytes, more, aborted),
      turn: runtime.turn,
      channelMax: options.channelMax,
      maxLinksPerSession: options.maxLinksPerSession,
    });
    socket.on('close', () => {
      handshake.stop();
      admitted.release();
      closeAllLinks(context);
      context.login.closed();
      connections.delete(connection);
      connLogger.debug('socket closed');
    });
    connLogger.debug('connection accepted');
    connection.accept(socket);
    offerSaslMechanisms(connection, saslMechanismsFor(context.login), (mechanism) => context.login.unoffered(mechanism));
  };

  container.on('connection_open', (ctx: EventContext) => {
    const context = contextOf(ctx.connection);
    if (!context) return;
    context.handshake.opened();
    if (context.admission.refusal) {
      context.logger.warn({ reason: context.admission.refusal.description }, 'connection refused: connection limit');
      ctx.connection.close(context.admission.refusal);
      return;
    }
    const refusal = context.login.admitOpen();
    if (refusal) {
      const condition = refusal.condition === 'limit' ? Condition.resourceLimitExceeded : Condition.unauthorizedAccess;
      ctx.connection.close({ condition, description: refusal.description });
      return;
    }
    if (clusterLinks) {
      const admission = clusterLinks.admitPeer(connectionInternals(ctx.connection).remote.open?.properties, context.login.principal!);
      if (admission.refusal !== null) {
        context.logger.warn({ reason: admission.refusal }, 'inter-node connection refused');
        ctx.connection.close({ condition: Condition.unauthorizedAccess, description: admission.refusal });
        return;
      }
      context.peer = admission.peer;
    }
    context.access.grant(context.login.principal!);
    context.logger.info(
      { container: ctx.connection.container_id, hostname: ctx.connection.hostname, user: context.login.principal!.user },
      'connection open',
    );
  });
  container.on('connection_close', (ctx: EventContext) => {
    const context = contextOf(ctx.connection);
    if (context) closeAllLinks(context);
  });
  container.on('disconnected', (ctx: EventContext) => {
    const context = contextOf(ctx.connection);
    if (!context) return;
    closeAllLinks(context);
    context.logger.info({ error: ctx.error ? String(ctx.error) : undefined }, 'connection closed');
  });
  container.on('session_close', (ctx: EventContext) => {
    const context = contextOf(ctx.connection);
    if (!context || !ctx.session) return;
    forgetLinks(context, context.links.removeSession(ctx.session), 'connection-lost');
  });
  container.on('protocol_error', (error: Error) => logger.warn({ error: error.message }, 'protocol error'));
  container.on('error', (error: Error) => logger.warn({ error: error.message }, 'connection error'));
  container.on('connection_error', () => undefined);
  container.on('session_error', () => undefined);
  container.on('sender_error', () => undefined);
  container.on('receiver_error', () => undefined);

  // Links a client pipelined behind an open the broker refused (login, connection limit) are left
  // unanswered: the close that is on its way says why.
  container.on('sender_open', (ctx: EventContext) => {
    const context = contextOf(ctx.connection);
    if (context && ctx.connection.is_open() && admitLink(context, ctx.sender!)) openConsumerLink(ctx.sender!, ctx.connection, context, runtime);
  });
  container.on('sender_close', (ctx: EventContext) => {
    const context = contextOf(ctx.connection);
    if (context && context.links.remove(ctx.sender!)) forgetLinks(context, [ctx.sender!]);
  });
  container.on('receiver_open', (ctx: EventContext) => {
    const context = contextOf(ctx.connection);
    if (context && ctx.connection.is_open() && admitLink(context, ctx.receiver!)) openProducerLink(ctx.receiver!, context, runtime, options);
  });
  container.on('receiver_close', (ctx: EventContext) => {
    const context = contextOf(ctx.connection);
    if (context && context.links.remove(ctx.receiver!)) forgetLinks(context, [ctx.receiver!]);
  });

  /** maxLinksPerSession, maxLinksPerConnection: a link beyond them is refused (AMQP 1.0 2.6.3). */
  function admitLink(context: ConnectionContext, link: Link): boolean {
    const refusal = context.links.admit(link);
    if (refusal) refuseLink(link, new AccessRefusedError(refusal), context.logger);
    return refusal === null;
  }

  /**
   * Consumers first: their unsettled messages, transactionally acknowledged ones too, go back with the
   * detach; then every open transaction rolls back (AMQP 1.0 4.2), which leaves nothing else to return.
   */
  function closeAllLinks(context: ConnectionContext): void {
    forgetLinks(context, context.links.removeAll(), 'connection-lost');
    context.transactions.rollbackAll();
    for (const topic of context.temporaryTopics) runtime.topics.deleteTemporary(topic);
    context.temporaryTopics.clear();
  }

  const listeners: Server[] = [];
  const listen = async (listener: Server, port: number): Promise<number> => {
    listeners.push(listener);
    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject);
      listener.listen(port, options.host, () => {
        listener.off('error', reject);
        resolve();
      });
    });
    return (listener.address() as AddressInfo).port;
  };
  const tlsListener =
    options.tls && security.tls
      ? { port: options.tls.port, server: withConnectionCap(createTlsListener(options.tls, security.tls, options.handshakeTimeoutMs, accept, logger), options.maxConnections) }
      : null;
  let port: number | null;
  let tlsPort: number | null;
  try {
    port = options.port === null ? null : await listen(withConnectionCap(net.createServer(accept), options.maxConnections), options.port);
    tlsPort = tlsListener ? await listen(tlsListener.server, tlsListener.port) : null;
  } catch (error) {
    for (const listener of listeners) listener.close();
    throw error;
  }

  return {
    port,
    tlsPort,
    host: options.host,
    reloadTls(credentials: TlsCredentials): void {
      tlsListener?.server.setSecureContext(secureContextOptions(credentials));
    },
    connections(): ConnectionReport[] {
      return [...connections].map(([connection, context]) => connectionReport(connection, context));
    },
    connectionCount(): number {
      return connections.size;
    },
    closeConnection(id: string, description: string): boolean {
      for (const [connection, context] of connections) {
        if (context.id !== id) continue;
        void forceClose(connection, context, description);
        return true;
      }
      return false;
    },
    async close(): Promise<void> {
      for (const listener of listeners) listener.close();
      clusterLinks?.close();
      await Promise.all([...connections].map(([connection, context]) => forceClose(connection, context, 'the broker is shutting down')));
    },
  };
}

/** Closes with amqp:connection:forced; a client that does not answer within CLOSE_GRACE_MS loses its socket. */
function forceClose(connection: Connection, context: ConnectionContext, description: string): Promise<void> {
  return new Promise((resolve) => {
    if (context.socket.destroyed) return resolve();
    context.socket.once('close', () => resolve());
    const timer = setTimeout(() => context.socket.destroy(), CLOSE_GRACE_MS);
    timer.unref();
    try {
      connection.close({ condition: Condition.connectionForced, description });
    } catch {
      context.socket.destroy();
    }
  });
}

/**
 * The amqps listener: TLS first, then the same AMQP connection as on the plain port. With tls.caFile
 * it asks for a client certificate (verified against caFile: SASL EXTERNAL is then offered); with
 * tls.requireClientCert a client without a valid one fails the TLS handshake.
 */
function createTlsListener(options: TlsOptions, credentials: TlsCredentials, handshakeTimeoutMs: number, accept: (socket: Socket) => void, logger: Logger): tls.Server {
  const listener = tls.createServer(
    {
      ...secureContextOptions(credentials),
      handshakeTimeout: handshakeTimeoutMs,
      minVersion: 'TLSv1.2',
      requestCert: options.caFile !== null,
      rejectUnauthorized: options.requireClientCert,
    },
    accept,
  );
  listener.on('tlsClientError', (error: Error, socket: tls.TLSSocket) => {
    logger.warn({ remote: `${socket.remoteAddress}:${socket.remotePort}`, error: error.message }, 'TLS handshake failed');
  });
  return listener;
}

/**
 * A hard cap below the limits of ConnectionAdmission: sockets beyond every connection it counts and
 * every refusal it may answer are closed by Node before any of our code runs (TLS handshakes included).
 */
function withConnectionCap<T extends Server>(listener: T, maxConnections: number): T {
  listener.maxConnections = maxConnections + REFUSALS_UNDER_WAY_MAX;
  return listener;
}
