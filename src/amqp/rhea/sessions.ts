import type { Connection, Receiver, Sender } from 'rhea';
import type { IncomingInternals } from './incoming-deliveries';
import type { OutgoingInternals } from './transfer-encoding';

/** rhea's delivery record as the outcome events need it (session.js). */
export interface DeliveryInternals {
  remote_state?: { constructor: { composite_type?: string } };
  remote_settled: boolean;
  link: { dispatch(event: string, context: unknown): void; _context(context: unknown): unknown };
}

/** rhea's session (session.js): the members the patches in this folder replace or read. */
export interface SessionInternals {
  links: Record<string, Sender | Receiver>;
  remote: { handles: Record<number, Sender | Receiver> };
  local: { handles: Record<number, Sender | Receiver>; channel: number };
  outgoing: OutgoingInternals & { updated: DeliveryInternals[] };
  incoming: IncomingInternals;
  create_sender(name: string): Sender;
  create_receiver(name: string): Receiver;
  on_attach(frame: { performative: { name: string; role: boolean; handle: number } }): void;
  on_disposition(frame: { performative: { role: boolean } }): void;
  remove_link(link: Sender | Receiver): void;
}

export type SessionPatch = (session: SessionInternals) => void;

/**
 * Applies patches to every session rhea creates on this connection. Sessions of a server connection
 * begin from the peer (AMQP 1.0 2.5.2), so rhea creates them inside `create_session`.
 */
export function patchSessions(connection: Connection, patches: readonly SessionPatch[]): void {
  const internals = connection as unknown as { create_session(size?: number): SessionInternals };
  const createSession = internals.create_session.bind(connection);
  internals.create_session = (size?: number) => {
    const session = createSession(size);
    for (const patch of patches) patch(session);
    return session;
  };
}
