import net, { type AddressInfo } from 'node:net';
import { create_container, type Connection, type Container, type EventContext } from 'rhea';
import type { BrokerOptions } from '../config/options';
import type { BrokerRuntime } from '../broker/runtime';
import type { Logger } from '../broker/logger';
import { Condition } from './conditions';
import type { ConnectionContext } from './connection-context';
import { openConsumerLink } from './consumer-attach';
import { openProducerLink } from './producer-attach';
import { patchServerConnection, skipDisabledRheaLogging } from './rhea';
import { configureSasl } from './sasl';

export interface AmqpServer {
  readonly port: number;
  readonly host: string;
  /** Stops accepting, closes every connection with amqp:connection:forced. */
  close(): Promise<void>;
}

const CLOSE_GRACE_MS = 2000;

/** The AMQP listener: accepts connections, and routes rhea's connection, session and link events. */
export async function startAmqpServer(runtime: BrokerRuntime, options: BrokerOptions, logger: Logger): Promise<AmqpServer> {
  skipDisabledRheaLogging();
  const container = create_container({ id: 'convoy' });
  configureSasl(container, logger);
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
    const context: ConnectionContext = {
      id,
      logger: connLogger,
      socket,
      consumers: new Map(),
      producers: new Map(),
      newConsumerId: () => `${id}/${nextConsumer++}`,
    };
    connections.set(connection, context);
    patchServerConnection(connection, {
      socket,
      logger: connLogger,
      maxFrameBytes: options.maxFrameBytes,
      onTransferFrame: (receiver, bytes, more, aborted) => context.producers.get(receiver)?.onTransferFrame(bytes, more, aborted),
      turn: runtime.turn,
    });
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

  container.on('sender_open', (ctx: EventContext) => {
    const context = contextOf(ctx.connection);
    if (context) openConsumerLink(ctx.sender!, ctx.connection, context, runtime);
  });
  container.on('sender_close', (ctx: EventContext) => {
    const context = contextOf(ctx.connection);
    const link = context?.consumers.get(ctx.sender!);
    if (!context || !link) return;
    link.close();
    context.consumers.delete(ctx.sender!);
  });
  container.on('receiver_open', (ctx: EventContext) => {
    const context = contextOf(ctx.connection);
    if (context) openProducerLink(ctx.receiver!, context, runtime, options);
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
