import type { Socket } from 'node:net';
import type { Connection } from 'rhea';
import type { Logger } from '../../broker/logger';
import { Condition, ConnectionViolation, type AmqpError } from '../conditions';
import { endSaslExchange, FrameGuard, refuseProtocolHeader } from '../connection-guards';
import { connectionInternals } from './internals';

/**
 * How long a connection closed for bad input may take to read our close before its socket is destroyed.
 * Destroying it with the client's frames still unread resets the connection, and the client loses our
 * close with it: a client busy writing (a rhea client beginning 10,000 sessions in one go blocks for
 * seconds on a loaded machine) would never learn why. Meanwhile its input is read and dropped.
 */
const CLOSE_GRACE_MS = 2000;

/**
 * rhea reads the raw stream only through the frame guard (connection-guards.ts): protocol headers and
 * whole frames, each checked against the frame schema (AMQP 1.0 2.2, 2.3, 2.7, 5.3) and held to the
 * advertised max-frame-size (2.7.1). rhea itself buffers whatever frame size a peer declares and trusts
 * every count it reads. The first bad unit ends the connection: a bad protocol header is answered with
 * the header we support, a bad SASL frame with the sasl-outcome sys-perm, a bad AMQP frame with a close
 * carrying the error; nothing after it is read.
 *
 * A frame that passes the guard but breaks the protocol state (state-checks.ts throws a
 * ConnectionViolation) ends the same way, with that violation's error. Anything else rhea throws while
 * reading is the broker's own failure: amqp:internal-error, with a description of ours, never rhea's
 * message (which is logged).
 */
export function guardInput(connection: Connection, socket: Socket, logger: Logger, maxFrameBytes: number): void {
  const internals = connectionInternals(connection);
  const guard = new FrameGuard(maxFrameBytes);
  const input = internals.input.bind(connection);
  let stopped = false;

  internals.input = (chunk: Buffer) => {
    if (stopped) return;
    const verdict = guard.feed(chunk, input);
    if (verdict.ok || stopped) return;
    stopped = true;
    logger.warn({ condition: verdict.error.condition, reason: verdict.error.description }, 'closing connection: bad input');
    if (verdict.problem === 'protocol-header') refuseProtocolHeader(socket);
    else if (verdict.problem === 'sasl') endSaslExchange(socket, guard.saslInitTaken);
    else closeWithError(connection, socket, verdict.error);
  };

  const onError = (error: Error): void => {
    if (stopped) return;
    stopped = true;
    if (error instanceof ConnectionViolation) {
      logger.warn({ condition: error.amqpError.condition, reason: error.message }, 'closing connection: protocol violation');
      closeWithError(connection, socket, error.amqpError);
      return;
    }
    logger.error({ err: error }, 'closing connection: failed to process its input');
    closeWithError(connection, socket, { condition: Condition.internalError, description: 'the broker failed to process a frame of this connection' });
  };
  connection.on('protocol_error', onError);
  connection.on('error', onError);
}

/**
 * Writes a close with the error (AMQP 1.0 2.7.9), preceded by our open if the connection was not open
 * yet (2.4.1: a close always follows an open), ends the socket, and destroys it shortly after.
 */
function closeWithError(connection: Connection, socket: Socket, error: AmqpError): void {
  const internals = connectionInternals(connection);
  try {
    if (!internals.remote.open) connection.open(); // rhea opens on the peer's open; without one, we open here
    connection.close(error);
    internals._process();
  } catch {
    // The connection is in no state to write a close frame; dropping it is all that is left.
  }
  socket.end();
  setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref();
}
