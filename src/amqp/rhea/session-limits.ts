import type { Connection } from 'rhea';
import { Condition, ConnectionViolation } from '../conditions';
import type { SessionPatch } from './sessions';

/** rhea's connection frame handler for begin (connection.js on_begin). */
interface BeginHandler {
  on_begin(frame: { channel: number; performative: unknown }): void;
}

/**
 * channel-max (AMQP 1.0 2.7.1) is the highest channel a peer may begin a session on, so it bounds the
 * sessions of a connection; rhea advertises it but begins a session on any channel it is sent. A begin
 * beyond it closes the connection with amqp:resource-limit-exceeded (input-guard.ts ends it, as for
 * every ConnectionViolation).
 */
export function limitSessionChannels(connection: Connection, channelMax: number): void {
  const handler = connection as unknown as BeginHandler;
  const onBegin = handler.on_begin.bind(connection);
  handler.on_begin = (frame) => {
    if (frame.channel > channelMax) {
      throw new ConnectionViolation({
        condition: Condition.resourceLimitExceeded,
        description: `begin on channel ${frame.channel}: channel-max is ${channelMax} (AMQP 1.0 2.7.1)`,
      });
    }
    onBegin(frame);
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
