import type { Socket } from 'node:net';
import type { Connection } from 'rhea';
import type { Logger } from '../../broker/logger';
import { Condition } from '../conditions';
import { FrameGuard, refuseProtocolHeader } from '../connection-guards';
import { connectionInternals } from './internals';

/**
 * Header check and max-frame-size enforcement on the raw stream (AMQP 1.0 2.2, 2.7.1), before rhea
 * reads a byte: rhea itself buffers whatever frame size a peer declares.
 */
export function guardInput(connection: Connection, socket: Socket, logger: Logger, maxFrameBytes: number): void {
  const internals = connectionInternals(connection);
  const guard = new FrameGuard(maxFrameBytes);
  const input = internals.input.bind(connection);
  internals.input = (chunk: Buffer) => {
    const verdict = guard.feed(chunk);
    if (verdict.ok) {
      input(chunk);
      return;
    }
    logger.warn({ reason: verdict.reason }, 'closing connection: bad input');
    internals.input = () => undefined;
    if (verdict.badHeader) refuseProtocolHeader(socket);
    else closeWithError(connection, socket, Condition.framingError, verdict.reason);
  };
}

/**
 * A frame rhea cannot decode: answer with a close carrying amqp:decode-error (AMQP 1.0 2.8.15) before
 * rhea ends the socket, instead of dropping the connection silently.
 */
export function closeOnMalformedInput(connection: Connection, socket: Socket, logger: Logger): void {
  const onError = (error: Error): void => {
    logger.warn({ error: error.message }, 'closing connection: malformed input');
    closeWithError(connection, socket, Condition.decodeError, error.message);
  };
  connection.on('protocol_error', onError);
  connection.on('error', onError);
}

function closeWithError(connection: Connection, socket: Socket, condition: string, description: string): void {
  const internals = connectionInternals(connection);
  try {
    connection.close({ condition, description });
    internals._process();
  } catch {
    // The connection is in no state to write a close frame; dropping it is all that is left.
  }
  setTimeout(() => socket.destroy(), 100).unref();
}
