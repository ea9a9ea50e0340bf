import type { Connection } from 'rhea';
import type { Logger } from '../../broker/logger';
import { Condition, ConnectionViolation, type AmqpError } from '../conditions';
import { nextSerial } from '../serial-numbers';
import { linkKey } from './link-keys';

/** rhea's endpoint state (endpoint.js). */
interface EndpointState {
  local_open: boolean;
  remote_open: boolean;
}

/** rhea's link (link.js), as the checks read it. */
interface CheckedLink {
  state: EndpointState;
  credit: number;
  _incomplete?: { id: number };
  local: { attach: { initial_delivery_count?: number } };
  is_receiver(): boolean;
  close(error?: AmqpError): void;
}

/** rhea's session (session.js), as the checks read it. */
interface CheckedSession {
  state: EndpointState;
  remote: { handles: Record<number, CheckedLink | undefined> };
  links: Record<string, CheckedLink | undefined>;
  incoming: { next_delivery_id: number | undefined; next_transfer_id: number; deliveries: { available(): number } };
  end(error?: AmqpError): void;
  dispatch(event: string, context: unknown): void;
  _context(): unknown;
}

interface Frame<P> {
  channel: number;
  performative: P;
}

interface TransferFields {
  handle: number;
  delivery_id?: number | null;
  delivery_tag?: Buffer | null;
  more?: boolean | null;
}

interface FlowFields {
  handle?: number | null;
  delivery_count?: number | null;
  link_credit?: number | null;
  drain?: boolean | null;
}

type Handler<P> = (frame: Frame<P>) => void;

/** The connection's frame handlers (connection.js on_begin ... delegate_to_session). */
interface CheckedConnection {
  remote_channel_map: Record<number, CheckedSession | undefined>;
  on_begin: Handler<{ remote_channel?: number | null }>;
  on_end: Handler<unknown>;
  on_attach: Handler<{ name: string; handle: number; role: boolean }>;
  on_detach: Handler<{ handle: number }>;
  on_flow: Handler<FlowFields>;
  on_transfer: Handler<TransferFields>;
  on_disposition: Handler<unknown>;
}

/**
 * Every frame that names a session, link or delivery is checked against what is really there before
 * rhea acts on it: rhea throws on most of these cases (and the peer then reads rhea's internal
 * message), and walks, allocates or drifts on the rest. The checks read rhea's own state, so nothing is
 * kept twice. Each violation gets the error the specification gives it, at the scope it gives:
 *
 * - connection (close, thrown as ConnectionViolation to input-guard.ts): a frame on a channel with no
 *   session (framing-error); a begin answering a session the broker never began, or on a channel in
 *   use; a second end (illegal-state); a transfer on a link the broker sends on, or a delivery-id out of
 *   sequence (2.8.8), or a first transfer without delivery-id or delivery-tag (2.7.5) (invalid-field);
 * - session (end with the error, AMQP 1.0 2.7.7): a handle that is not attached (2.7.4, 2.7.5, 2.7.7:
 *   unattached-handle); an attach on a handle in use (handle-in-use); a transfer beyond the session's
 *   incoming window (window-violation). Until the peer's own end arrives, its frames on that session
 *   are dropped (2.5.4), and the broker's links on it are closed at once;
 * - link (detach with the error): a transfer beyond the link's credit (2.6.7: transfer-limit-exceeded).
 *
 * A transfer on a link the broker has already detached (its detach sent, the peer's not yet read) is
 * discarded; it still takes its place in the session's transfer and delivery numbering (2.5.6).
 */
export function checkFramesAgainstState(connection: Connection, logger: Logger): void {
  const checked = connection as unknown as CheckedConnection;
  const endedByUs = new WeakSet<CheckedSession>();
  /** Per link, the id of a delivery being discarded whose remaining transfers are still to come. */
  const discarding = new WeakMap<CheckedLink, number>();

  /**
   * The session on the frame's channel; null when the broker ended it and the frame is dropped. A
   * session the peer ended has no channel any more (rhea removes it a tick later).
   */
  const sessionOf = (frame: Frame<unknown>, performative: string): CheckedSession | null => {
    const session = checked.remote_channel_map[frame.channel];
    if (!session?.state.remote_open) throw violation(Condition.framingError, `${performative} on channel ${frame.channel}, which has no session`);
    return endedByUs.has(session) ? null : session;
  };

  const endSession = (session: CheckedSession, condition: string, description: string): void => {
    logger.warn({ condition, reason: description }, 'ending session: protocol violation');
    endedByUs.add(session);
    session.end({ condition, description });
    // The broker's links on the session are gone now, as when the peer ends a session (rhea's event).
    session.dispatch('session_close', session._context());
  };

  const attachedLink = (session: CheckedSession, handle: number, performative: string): CheckedLink | null => {
    const link = session.remote.handles[handle];
    if (link && link.state.remote_open) return link;
    endSession(session, Condition.unattachedHandle, `${performative} on handle ${handle}, which is not attached`);
    return null;
  };

  const onBegin = checked.on_begin.bind(connection);
  checked.on_begin = (frame) => {
    const remoteChannel = frame.performative.remote_channel;
    if (remoteChannel !== null && remoteChannel !== undefined) {
      throw violation(Condition.invalidField, `begin answers channel ${remoteChannel}, but the broker begins no sessions (AMQP 1.0 2.7.2 remote-channel)`);
    }
    if (checked.remote_channel_map[frame.channel]?.state.remote_open) {
      throw violation(Condition.illegalState, `begin on channel ${frame.channel}, which has a session already`);
    }
    onBegin(frame);
  };

  const onEnd = checked.on_end.bind(connection);
  checked.on_end = (frame) => {
    const session = checked.remote_channel_map[frame.channel];
    if (!session) throw violation(Condition.framingError, `end on channel ${frame.channel}, which has no session`);
    if (!session.state.remote_open) throw violation(Condition.illegalState, `a second end on channel ${frame.channel}`);
    onEnd(frame);
  };

  const onAttach = checked.on_attach.bind(connection);
  checked.on_attach = (frame) => {
    const session = sessionOf(frame, 'attach');
    if (!session) return;
    const { handle, name, role } = frame.performative;
    if (session.remote.handles[handle]?.state.remote_open) {
      endSession(session, Condition.handleInUse, `attach on handle ${handle}, which is in use`);
      return;
    }
    // 2.6.1: a link is named once per direction (role true: the peer receives, the broker sends).
    if (session.links[linkKey(name, role)]?.state.remote_open) {
      throw violation(Condition.invalidField, `attach of link "${name}", which is attached already`);
    }
    onAttach(frame);
  };

  const onDetach = checked.on_detach.bind(connection);
  checked.on_detach = (frame) => {
    const session = sessionOf(frame, 'detach');
    if (!session || !attachedLink(session, frame.performative.handle, 'detach')) return;
    onDetach(frame);
  };

  const onFlow = checked.on_flow.bind(connection);
  checked.on_flow = (frame) => {
    const session = sessionOf(frame, 'flow');
    if (!session) return;
    const flow = frame.performative;
    if (flow.handle !== null && flow.handle !== undefined) {
      const link = attachedLink(session, flow.handle, 'flow');
      if (!link) return;
      if (link.is_receiver()) {
        // 2.6.7: a sender's drain only answers a receiver's; the broker never asks its producers to drain.
        if (flow.drain) flow.drain = false;
      } else {
        // 2.7.4: a receiver that has not seen our attach sends no delivery-count; ours started at the
        // initial delivery-count. A missing link-credit grants none. rhea computes credit from both.
        if (flow.delivery_count === null || flow.delivery_count === undefined) flow.delivery_count = link.local.attach.initial_delivery_count ?? 0;
        if (flow.link_credit === null || flow.link_credit === undefined) flow.link_credit = 0;
      }
    }
    onFlow(frame);
  };

  const onTransfer = checked.on_transfer.bind(connection);
  checked.on_transfer = (frame) => {
    const session = sessionOf(frame, 'transfer');
    if (!session) return;
    const transfer = frame.performative;
    const link = attachedLink(session, transfer.handle, 'transfer');
    if (!link) return;
    if (!link.is_receiver()) throw violation(Condition.invalidField, `transfer on handle ${transfer.handle}, a link on which the broker is the sender`);
    const id = transfer.delivery_id;
    const hasId = id !== null && id !== undefined;
    const incomplete = link._incomplete ?? (discarding.has(link) ? { id: discarding.get(link)! } : undefined);
    if (incomplete) {
      if (hasId && id !== incomplete.id) throw violation(Condition.invalidField, `transfer continues delivery ${incomplete.id} with delivery-id ${id} (AMQP 1.0 2.7.5)`);
      if (!link._incomplete) return discard(session, link, incomplete.id, false, transfer.more === true);
      onTransfer(frame);
      return;
    }
    if (!hasId) throw violation(Condition.invalidField, 'the first transfer of a delivery has no delivery-id (AMQP 1.0 2.7.5)');
    const expected = session.incoming.next_delivery_id;
    if (expected !== undefined && id !== expected) throw violation(Condition.invalidField, `delivery-id ${id}, expected ${expected} (AMQP 1.0 2.8.8)`);
    if (transfer.delivery_tag === null || transfer.delivery_tag === undefined) throw violation(Condition.invalidField, 'the first transfer of a delivery has no delivery-tag (AMQP 1.0 2.7.5)');
    if (!link.state.local_open) return discard(session, link, id, true, transfer.more === true);
    if (session.incoming.deliveries.available() === 0) {
      endSession(session, Condition.windowViolation, 'transfer beyond the session incoming-window (AMQP 1.0 2.5.6)');
      return;
    }
    if (link.credit <= 0) {
      const error = { condition: Condition.transferLimitExceeded, description: 'transfer beyond the link-credit the broker granted (AMQP 1.0 2.6.7)' };
      logger.warn({ condition: error.condition }, 'detaching link: protocol violation');
      link.close(error);
      return discard(session, link, id, true, transfer.more === true);
    }
    onTransfer(frame);
  };

  /** Drops a transfer of a delivery that is not taken, keeping the session's numbering (2.5.6, 2.8.8). */
  function discard(session: CheckedSession, link: CheckedLink, id: number, first: boolean, more: boolean): void {
    session.incoming.next_transfer_id++;
    if (first) session.incoming.next_delivery_id = nextSerial(id);
    if (more) discarding.set(link, id);
    else discarding.delete(link);
  }

  const onDisposition = checked.on_disposition.bind(connection);
  checked.on_disposition = (frame) => {
    if (sessionOf(frame, 'disposition')) onDisposition(frame);
  };
}

function violation(condition: string, description: string): ConnectionViolation {
  return new ConnectionViolation({ condition, description });
}
