import type { Socket } from 'node:net';
import type { Connection } from 'rhea';
import type { Logger } from '../../broker/logger';
import { Condition, type AmqpError } from '../conditions';
import { connectionInternals } from './internals';
import type { SessionPatch } from './sessions';

/** rhea's connection frame handler for begin (connection.js on_begin). */
interface BeginHandler {
  on_begin(frame: { channel: number; performative: unknown }): void;
}

/** After the close frame: the broker ends its side, and drops the socket if the client has not closed by then. */
const SOCKET_GRACE_MS = 2000;

/**
 * channel-max (AMQP 1.0 2.7.1) is the highest channel a peer may begin a session on, so it bounds the
 * sessions of a connection; rhea advertises it but begins a session on any channel it is sent. A begin
 * beyond it closes the connection with amqp:resource-limit-exceeded; the close is written at once, so
 * no later error on the same input replaces its description.
 */
export function limitSessionChannels(connection: Connection, socket: Socket, logger: Logger, channelMax: number): void {
  const handler = connection as unknown as BeginHandler;
  const onBegin = handler.on_begin.bind(connection);
  let refused = false;
  handler.on_begin = (frame) => {
    if (refused) return;
    if (frame.channel <= channelMax) {
      onBegin(frame);
      return;
    }
    refused = true;
    const error: AmqpError = {
      condition: Condition.resourceLimitExceeded,
      description: `begin on channel ${frame.channel}: channel-max is ${channelMax} (AMQP 1.0 2.7.1)`,
    };
    logger.warn({ condition: error.condition, reason: error.description }, 'closing connection: session limit');
    closeNow(connection, socket, error);
  };
}

/**
 * maxLinksPerSession, announced to the peer as the session's handle-max (AMQP 1.0 2.7.2): the highest
 * handle it may use, so at most this many links at once. The broker refuses links beyond it by count
 * (src/amqp/connection-links.ts).
 */
export function announceHandleMax(maxLinksPerSession: number): SessionPatch {
  return (session) => {
    (session as unknown as { local: { begin: { handle_max: number } } }).local.begin.handle_max = maxLinksPerSession - 1;
  };
}

function closeNow(connection: Connection, socket: Socket, error: AmqpError): void {
  const internals = connectionInternals(connection);
  try {
    connection.close(error);
    internals._process();
  } catch {
    // The connection is in no state to write a close frame; dropping it is all that is left.
  }
  internals.input = () => undefined;
  // After the turn's network step has written the close (src/broker/turn.ts): a FIN, not a reset, so
  // that a client still sending reads the close instead of losing it.
  setTimeout(() => socket.end(), 0).unref();
  setTimeout(() => socket.destroy(), SOCKET_GRACE_MS).unref();
}
