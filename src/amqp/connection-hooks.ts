import type { Socket } from 'node:net';
import type { Connection, Receiver, Sender } from 'rhea';
import type { Logger } from '../broker/logger';
import { Condition } from './conditions';
import { writeDispositionsCorrectly } from './dispositions';
import { FrameGuard, refuseProtocolHeader } from './connection-guards';
import { connectionInternals, type TransferFrame } from './rhea-internals';
import { decodeTransfersDirectly } from './incoming-frames';
import { buildDeliveriesOnPrototype, type IncomingInternals } from './incoming-transfers';
import { encodeTransfersDirectly, type OutgoingInternals } from './outgoing-transfers';
import { batchSocketWrites } from './write-batching';

/**
 * What a broker needs from rhea's server-side connection that rhea does not do by itself. Everything
 * here patches one connection instance, never rhea's prototypes (clients in the same process, such
 * as tests, keep rhea's normal behaviour).
 */
export interface ConnectionHookTargets {
  readonly socket: Socket;
  readonly logger: Logger;
  /** Called for every transfer frame on an incoming link before rhea assembles the message. */
  onTransferFrame(receiver: Receiver, payloadBytes: number, more: boolean, aborted: boolean): void;
}

export function installConnectionHooks(connection: Connection, targets: ConnectionHookTargets, maxFrameBytes: number): void {
  guardInput(connection, targets, maxFrameBytes);
  deliverRawBytes(connection, targets);
  decodeTransfersDirectly(connectionInternals(connection).amqp_transport, connectionInternals(connection));
  const output = batchSocketWrites(connection, targets.socket);
  const encodeTransfers: SessionPatch = (session) => encodeTransfersDirectly(session.outgoing, session, output.frames, output.requestOutput);
  const buildDeliveries: SessionPatch = (session) => buildDeliveriesOnPrototype(session.incoming);
  const fixDispositions: SessionPatch = (session) => {
    writeDispositionsCorrectly(session.incoming as never, 'updated');
    writeDispositionsCorrectly(session.outgoing as never, 'pending_dispositions');
  };
  patchSessions(connection, [keyLinksByRoleAndName, reportDispositionsInFrameOrder, encodeTransfers, buildDeliveries, fixDispositions]);
  closeOnMalformedInput(connection, targets);
}

/** Header check and max-frame-size enforcement on the raw stream (AMQP 1.0 2.2, 2.7.1). */
function guardInput(connection: Connection, targets: ConnectionHookTargets, maxFrameBytes: number): void {
  const internals = connectionInternals(connection);
  const guard = new FrameGuard(maxFrameBytes);
  const input = internals.input.bind(connection);
  internals.input = (chunk: Buffer) => {
    const verdict = guard.feed(chunk);
    if (verdict.ok) {
      input(chunk);
      return;
    }
    targets.logger.warn({ reason: verdict.reason }, 'closing connection: bad input');
    internals.input = () => undefined;
    if (verdict.badHeader) refuseProtocolHeader(targets.socket);
    else closeWithError(connection, targets.socket, Condition.framingError, verdict.reason);
  };
}

/**
 * rhea decodes every format-0 message, and re-encoding it would change AMQP types. A transfer whose
 * message-format is null reaches the 'message' event as the raw bytes; null means 0 (AMQP 1.0 2.7.5).
 */
function deliverRawBytes(connection: Connection, targets: ConnectionHookTargets): void {
  const internals = connectionInternals(connection);
  const onTransfer = internals.on_transfer.bind(connection);
  internals.on_transfer = (frame: TransferFrame) => {
    const performative = frame.performative;
    if (performative.message_format === 0) performative.message_format = null;
    const session = internals.remote_channel_map[frame.channel];
    const link = session?.remote.handles[performative.handle];
    if (link && link.is_receiver()) {
      targets.onTransferFrame(link as Receiver, frame.payload?.length ?? 0, performative.more === true, performative.aborted === true);
    }
    onTransfer(frame);
  };
}

interface DeliveryInternals {
  remote_state?: { constructor: { composite_type?: string } };
  remote_settled: boolean;
  link: { dispatch(event: string, context: unknown): void; _context(context: unknown): unknown };
}

interface SessionInternals {
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

type SessionPatch = (session: SessionInternals) => void;

/** Applies patches to every session rhea creates on this connection (sessions begin from the peer). */
function patchSessions(connection: Connection, patches: SessionPatch[]): void {
  const internals = connection as unknown as { create_session(size?: number): SessionInternals };
  const createSession = internals.create_session.bind(connection);
  internals.create_session = (size?: number) => {
    const session = createSession(size);
    for (const patch of patches) patch(session);
    return session;
  };
}

/**
 * A link name identifies a link in one direction (AMQP 1.0 2.6.1): Qpid Proton names both its sender
 * and its receiver for a queue `<container>-<address>`. rhea keys a session's links by name alone and
 * fails the connection on the second attach; here sessions key them by role and name.
 */
function keyLinksByRoleAndName(session: SessionInternals): void {
  const keyOf = (name: string, weSend: boolean): string => `${weSend ? 'sender' : 'receiver'}:${name}`;
  session.on_attach = (frame) => {
    const { name, role, handle } = frame.performative;
    // role true: the peer is the receiver, so we are the sender.
    const key = keyOf(name, role);
    let link = session.links[key];
    if (!link) {
      link = role ? session.create_sender(name) : session.create_receiver(name);
      if (session.links[name] === link) delete session.links[name];
      session.links[key] = link;
    }
    session.remote.handles[handle] = link;
    (link as unknown as { on_attach(f: unknown): void }).on_attach(frame);
    (link as unknown as { remote: { attach: unknown } }).remote.attach = frame.performative;
  };
  session.remove_link = (link) => {
    const linkInternals = link as unknown as { name: string; remote: { handle: number }; local: { handle: number } };
    delete session.remote.handles[linkInternals.remote.handle];
    delete session.local.handles[linkInternals.local.handle];
    delete session.links[keyOf(linkInternals.name, link.is_sender())];
  };
}

/**
 * rhea applies flow and detach frames at once but reports a consumer's dispositions on the next tick.
 * A client that accepts and then detaches (or releases and then grants credit) in one read would be seen
 * in the wrong order: an accepted message redelivered, a released one overtaken. Outcomes of outgoing
 * deliveries are reported here as their disposition frame is read, so every frame acts in wire order.
 */
function reportDispositionsInFrameOrder(session: SessionInternals): void {
  const onDisposition = session.on_disposition.bind(session);
  session.on_disposition = (frame) => {
    onDisposition(frame);
    if (!frame.performative.role) return; // role receiver: the disposition is about our outgoing deliveries
    const updated = session.outgoing.updated;
    session.outgoing.updated = [];
    for (const delivery of updated) {
      const outcome = delivery.remote_state?.constructor.composite_type;
      if (outcome) delivery.link.dispatch(outcome, delivery.link._context({ delivery }));
      if (delivery.remote_settled) delivery.link.dispatch('settled', delivery.link._context({ delivery }));
    }
  };
}

/**
 * A frame rhea cannot decode: answer with a close carrying amqp:decode-error (AMQP 1.0 2.8.15) before
 * rhea ends the socket, instead of dropping the connection silently.
 */
function closeOnMalformedInput(connection: Connection, targets: ConnectionHookTargets): void {
  const onError = (error: Error): void => {
    targets.logger.warn({ error: error.message }, 'closing connection: malformed input');
    closeWithError(connection, targets.socket, Condition.decodeError, error.message);
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
