import { randomUUID } from 'node:crypto';
import net, { type AddressInfo, type Socket } from 'node:net';
import { create_container, type Connection, type Container, type EventContext, type Receiver, type Sender } from 'rhea';
import type { Outcome } from '../core/types';
import type { BrokerOptions } from '../config/options';
import type { BrokerRuntime } from '../broker/runtime';
import type { Logger } from '../broker/logger';
import { AddressError, parsePriority, parseSourceAddress, parseTargetAddress } from './address';
import { adminSnapshot, isAdminAddress, serveAdminLink } from './admin-link';
import { Condition, type AmqpError } from './conditions';
import { installConnectionHooks } from './connection-hooks';
import { skipDisabledRheaLogging } from './rhea-logging';
import { ConsumerLink, outcomeOf } from './consumer-link';
import { ProducerLink } from './producer-link';
import { connectionInternals, linkInternals } from './rhea-internals';

/** Per-connection bookkeeping; rhea objects never leave src/amqp. */
interface ConnectionContext {
  readonly id: string;
  readonly logger: Logger;
  readonly socket: Socket;
  readonly consumers: Map<Sender, ConsumerLink>;
  readonly producers: Map<Receiver, ProducerLink>;
}

export interface AmqpServer {
  readonly port: number;
  readonly host: string;
  /** Stops accepting, closes every connection with amqp:connection:forced. */
  close(): Promise<void>;
}

const DEFAULT_OUTCOME_ACCEPTED: Outcome = { type: 'accepted' };
const CLOSE_GRACE_MS = 2000;

export async function startAmqpServer(runtime: BrokerRuntime, options: BrokerOptions, logger: Logger): Promise<AmqpServer> {
  skipDisabledRheaLogging();
  const container = createBrokerContainer(logger);
  const connections = new Map<Connection, ConnectionContext>();
  let nextConnection = 1;
  let nextConsumer = 1;

  const contextOf = (connection: Connection): ConnectionContext | undefined => connections.get(connection);

  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    const id = `c${nextConnection++}`;
    const connLogger = logger.child({ conn: id, remote: `${socket.remoteAddress}:${socket.remotePort}` });
    const connection = container.create_connection({
      id,
      container_id: 'convoy',
      max_frame_size: options.maxFrameBytes,
      channel_max: options.channelMax,
      // rhea drops a peer after twice its advertised idle-time-out; advertise half of ours (AMQP 1.0 2.4.5).
      idle_time_out: Math.max(1, Math.floor(options.idleTimeoutMs / 2)),
      offered_capabilities: ['ANONYMOUS-RELAY'],
      session_buffer_size: 8192,
      receiver_options: { autoaccept: false, credit_window: 0 },
      sender_options: { autosettle: true, treat_modified_as_released: false },
    } as unknown as Parameters<Container['create_connection']>[0]);
    const context: ConnectionContext = { id, logger: connLogger, socket, consumers: new Map(), producers: new Map() };
    connections.set(connection, context);
    installConnectionHooks(
      connection,
      {
        socket,
        logger: connLogger,
        onTransferFrame: (receiver, bytes, more, aborted) => context.producers.get(receiver)?.onTransferFrame(bytes, more, aborted),
      },
      options.maxFrameBytes,
    );
    socket.on('close', () => {
      closeAllLinks(context);
      connections.delete(connection);
      connLogger.debug('socket closed');
    });
    connLogger.debug('connection accepted');
    connection.accept(socket);
  });

  container.on('connection_open', (ctx: EventContext) => {
    const context = contextOf(ctx.connection);
    context?.logger.info({ container: ctx.connection.container_id, hostname: ctx.connection.hostname }, 'connection open');
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
    for (const [sender, link] of context.consumers) {
      if (sender.session === ctx.session) {
        link.close();
        context.consumers.delete(sender);
      }
    }
    for (const receiver of context.producers.keys()) if (receiver.session === ctx.session) context.producers.delete(receiver);
  });
  container.on('protocol_error', (error: Error) => logger.warn({ error: error.message }, 'protocol error'));
  container.on('error', (error: Error) => logger.warn({ error: error.message }, 'connection error'));
  container.on('connection_error', () => undefined);
  container.on('session_error', () => undefined);
  container.on('sender_error', () => undefined);
  container.on('receiver_error', () => undefined);

  // A client receiver attached: the broker is the sender (consumer link).
  container.on('sender_open', (ctx: EventContext) => {
    const context = contextOf(ctx.connection);
    const sender = ctx.sender!;
    if (!context) return;
    try {
      const requested = (linkInternals(sender).remote.attach?.source as { address?: unknown } | null | undefined)?.address;
      if (isAdminAddress(requested)) {
        const snapshot = adminSnapshot(runtime, requested);
        setTerminus(sender, 'source', linkInternals(sender).remote.attach?.source);
        setTerminus(sender, 'target', linkInternals(sender).remote.attach?.target);
        serveAdminLink(sender, snapshot);
        return;
      }
      const { queue, exclusive, priority, source } = consumerTerms(sender);
      const internals = linkInternals(sender);
      setTerminus(sender, 'source', sourceReply(source));
      setTerminus(sender, 'target', internals.remote.attach?.target);
      internals.local.attach.snd_settle_mode = internals.remote.attach?.snd_settle_mode ?? 2;
      internals.local.attach.rcv_settle_mode = 0;
      const consumerId = `${context.id}/${nextConsumer++}`;
      const link = new ConsumerLink(consumerId, sender, runtime, context.logger, defaultOutcomeOf(source));
      context.consumers.set(sender, link);
      listenToConsumerLink(sender, link);
      // Write the attach reply now: a flow that came in the same read may make the core deliver at
      // once, and rhea writes a session's transfers before its link attaches (AMQP 1.0 2.6.3 order).
      connectionInternals(ctx.connection)._process();
      runtime.attachConsumer(
        { type: 'attach', consumerId, queue, priority, exclusive, settleOnSend: link.settleOnSend },
        link,
        `${ctx.connection.container_id ?? '?'} ${context.socket.remoteAddress}:${context.socket.remotePort} link ${sender.name}`,
      );
      link.onFlow();
      context.logger.info({ consumer: consumerId, queue, exclusive, priority, link: sender.name }, 'consumer attached');
    } catch (error) {
      refuseLink(sender, error, context.logger);
    }
  });
  container.on('sender_close', (ctx: EventContext) => {
    const context = contextOf(ctx.connection);
    const link = context?.consumers.get(ctx.sender!);
    if (!context || !link) return;
    link.close();
    context.consumers.delete(ctx.sender!);
  });

  // A client sender attached: the broker is the receiver (producer link).
  container.on('receiver_open', (ctx: EventContext) => {
    const context = contextOf(ctx.connection);
    const receiver = ctx.receiver!;
    if (!context) return;
    try {
      const internals = linkInternals(receiver);
      const target = internals.remote.attach?.target as { address?: string | null; dynamic?: boolean } | null | undefined;
      let queue: string | null = null;
      if (target?.dynamic) {
        queue = temporaryQueueName();
        setTerminus(receiver, 'target', { ...target, address: queue });
      } else {
        if (target && typeof target.address === 'string' && target.address !== '') queue = parseTargetAddress(target.address);
        setTerminus(receiver, 'target', target);
      }
      setTerminus(receiver, 'source', internals.remote.attach?.source);
      internals.local.attach.rcv_settle_mode = 0;
      internals.local.attach.max_message_size = options.maxMessageBytes;
      const link = new ProducerLink(
        receiver,
        queue,
        runtime,
        context.logger,
        options.producerCreditWindow,
        options.maxMessageBytes,
        options.diskFullPolicy === 'block',
      );
      context.producers.set(receiver, link);
      receiver.on('message', (ctx: EventContext) => {
        const raw = ctx as unknown as { message: Buffer; format?: number | null };
        link.onMessage(raw.message, raw.format, ctx.delivery!);
      });
      link.open();
      context.logger.info({ queue: queue ?? '(anonymous relay)', link: receiver.name }, 'producer attached');
    } catch (error) {
      refuseLink(receiver, error, context.logger);
    }
  });
  container.on('receiver_close', (ctx: EventContext) => contextOf(ctx.connection)?.producers.delete(ctx.receiver!));

  function closeAllLinks(context: ConnectionContext): void {
    for (const link of context.consumers.values()) link.close();
    context.consumers.clear();
    context.producers.clear();
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;

  return {
    port: address.port,
    host: options.host,
    async close(): Promise<void> {
      server.close();
      const sockets: Promise<void>[] = [];
      for (const [connection, context] of connections) {
        sockets.push(new Promise((resolve) => {
          if (context.socket.destroyed) return resolve();
          context.socket.once('close', () => resolve());
          const timer = setTimeout(() => context.socket.destroy(), CLOSE_GRACE_MS);
          timer.unref();
          try {
            connection.close({ condition: Condition.connectionForced, description: 'the broker is shutting down' });
          } catch {
            context.socket.destroy();
          }
        }));
      }
      await Promise.all(sockets);
    },
  };
}

const OUTCOME_EVENTS = ['accepted', 'released', 'rejected', 'modified', 'settled'] as const;

/**
 * The per-message events go to listeners on the link itself: rhea then stops there instead of passing
 * each event up through session, connection and container (a measurable share of broker CPU).
 */
function listenToConsumerLink(sender: Sender, link: ConsumerLink): void {
  sender.on('sendable', () => link.onFlow());
  // 'sendable' covers flows that grant credit; this covers flows that only drain or take credit away.
  sender.on('sender_flow', () => {
    if (!sender.sendable()) link.onFlow();
  });
  for (const event of OUTCOME_EVENTS) sender.on(event, (ctx: EventContext) => link.onOutcome(ctx.delivery!));
}

function createBrokerContainer(logger: Logger): Container {
  const container = create_container({ id: 'convoy' });
  const mechanisms = container.sasl_server_mechanisms as unknown as {
    enable_anonymous(): void;
    enable_plain(authenticate: (user: string, password: string) => boolean): void;
  };
  mechanisms.enable_anonymous();
  mechanisms.enable_plain(() => true);
  logger.warn('SASL PLAIN accepts any user name and password: authentication is not implemented yet');
  return container;
}

/** A dynamic source or target (AMQP 1.0 3.5.3, 3.5.4) gets a queue with a fresh name. */
function temporaryQueueName(): string {
  return `temp.${randomUUID()}`;
}

interface ConsumerTerms {
  readonly queue: string;
  readonly exclusive: boolean;
  readonly priority: number;
  readonly source: Record<string, unknown>;
}

/** Queue and consumer options from the attach: address options, overridden by link properties (DESIGN §3). */
function consumerTerms(sender: Sender): ConsumerTerms {
  const attach = linkInternals(sender).remote.attach ?? {};
  const source = attach.source as Record<string, unknown> | null | undefined;
  if (!source) throw new AddressError('a consumer link needs a source naming the queue');
  let address = source.address;
  if (source.dynamic === true) address = temporaryQueueName();
  if (typeof address !== 'string' || address === '') throw new AddressError('the source address names no queue');
  const parsed = parseSourceAddress(address);
  const properties = (attach.properties ?? {}) as Record<string, unknown>;
  let exclusive = parsed.options.exclusive ?? false;
  if (properties.exclusive !== undefined) {
    if (typeof properties.exclusive !== 'boolean') throw new AddressError('link property exclusive must be a boolean');
    exclusive = properties.exclusive;
  }
  let priority = parsed.options.priority ?? 0;
  if (properties.priority !== undefined) priority = parsePriority('link property priority', properties.priority);
  return { queue: parsed.queue, exclusive, priority, source: source.dynamic === true ? { ...source, address } : source };
}

/**
 * The attach reply echoes the source the client sent, address unchanged (Qpid Proton's blocking
 * receiver compares it). Filters are left out: we apply none, and a client must be able to see that.
 */
function sourceReply(source: Record<string, unknown>): Record<string, unknown> {
  const { filter: _filter, ...rest } = source;
  return rest;
}

/** Encodes a terminus as rhea does for its own links (described source/target, AMQP 1.0 3.5.3/3.5.4). */
function setTerminus(link: Sender | Receiver, which: 'source' | 'target', fields: unknown): void {
  const settable = link as unknown as { set_source(fields: unknown): void; set_target(fields: unknown): void };
  if (fields === null || fields === undefined) linkInternals(link).local.attach[which] = null;
  else if (which === 'source') settable.set_source(fields);
  else settable.set_target(fields);
}

function defaultOutcomeOf(source: Record<string, unknown>): Outcome {
  return source.default_outcome ? outcomeOf(source.default_outcome, DEFAULT_OUTCOME_ACCEPTED) : DEFAULT_OUTCOME_ACCEPTED;
}

/** Refuses a link: null terminus in the attach reply, then a detach with the error (AMQP 1.0 2.6.3). */
function refuseLink(link: Sender | Receiver, error: unknown, logger: Logger): void {
  const amqpError: AmqpError =
    error instanceof AddressError
      ? { condition: Condition.invalidField, description: error.message }
      : { condition: Condition.internalError, description: (error as Error).message ?? String(error) };
  if (!(error instanceof AddressError)) logger.error({ err: error }, 'link refused after an internal error');
  else logger.info({ link: link.name, reason: amqpError.description }, 'link refused');
  const internals = linkInternals(link);
  internals.local.attach.source = null;
  internals.local.attach.target = null;
  link.close(amqpError);
}
