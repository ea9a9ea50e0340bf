import type { Socket } from 'node:net';
import type { Connection } from 'rhea';
import type { Logger } from '../../broker/logger';
import { batchSocketWrites, type NetworkTurn } from './batched-writes';
import { keyLinksByRoleAndName } from './link-keys';
import { processOnlyLinksWithWork } from './links-with-work';
import { reportDispositionsInFrameOrder } from './disposition-order';
import { writeDispositionsCorrectly } from './disposition-ranges';
import { buildDeliveriesOnPrototype } from './incoming-deliveries';
import { boundDispositionRanges } from './bounded-dispositions';
import { guardInput } from './input-guard';
import { connectionInternals } from './internals';
import { giveFramesTheirOwnEmptyLists } from './own-empty-lists';
import { deliverRawBytes, type TransferFrameListener } from './raw-message-bytes';
import { recordReceivedTermini } from './received-termini';
import { patchSessions, type SessionPatch } from './sessions';
import { announceHandleMax, limitSessionChannels } from './session-limits';
import { checkFramesAgainstState } from './state-checks';
import { decodeTransfersDirectly } from './transfer-decoding';
import { readTransactionalDispositions } from './transactional-dispositions';
import { shareInputFairly } from './fair-input';
import { encodeTransfersDirectly } from './transfer-encoding';

/**
 * Everything Convoy changes inside rhea lives in this folder; this file is its index.
 *
 * rhea is pinned to one exact version in package.json. Each patch below names the rhea members it
 * replaces or relies on; `test/amqp/rhea-contract.test.ts` checks, against live rhea objects, that every
 * one of them still exists with the type the patch assumes, and that the installed rhea is the pinned
 * version, so an upgrade fails in the tests instead of at runtime. Every patch changes one connection
 * or session instance (or, for rhea's debug loggers, one module's exports), never rhea's prototypes:
 * rhea clients in the same process keep rhea's own behaviour.
 *
 * Members are written `object.path`, where object is one of: connection, session (session.incoming and
 * session.outgoing are rhea's Incoming and Outgoing), sender, receiver (links on the broker's side),
 * `rhea` (the module's exports) or a file of rhea's `lib/` folder.
 */
export interface RheaPatch {
  /** File in this folder that holds the patch. */
  readonly file: string;
  readonly what: string;
  readonly why: string;
  /** rhea members the patch replaces (`replaces`) or reads and calls (`relies on`), with their JS type. */
  readonly replaces: Readonly<Record<string, RheaMemberType>>;
  readonly reliesOn: Readonly<Record<string, RheaMemberType>>;
  /** The tests that fail without the patch. */
  readonly guardedBy: readonly string[];
}

export type RheaMemberType = 'function' | 'object' | 'number' | 'boolean';

/** The exact rhea release these patches were written against and checked on. */
export const PINNED_RHEA_VERSION = '3.0.5';

export const RHEA_PATCHES: readonly RheaPatch[] = [
  {
    file: 'input-guard.ts',
    what: 'hands rhea only checked protocol headers and whole frames, each held to the frame schema, max-frame-size and frame order; ends the connection on the first bad one, and on any error rhea throws while reading, with an error of ours',
    why: 'rhea buffers whatever frame size a peer declares, allocates whatever count a frame declares (2^31 zero-width array elements: out of memory), trusts every field type (a list as max-frame-size aborted the broker), and sends its internal exception text as the close description',
    replaces: { 'connection.input': 'function' },
    reliesOn: { 'connection._process': 'function', 'connection.open': 'function', 'connection.close': 'function', 'connection.remote': 'object' },
    guardedBy: ['test/amqp/connection.test.ts', 'test/amqp/bad-input.test.ts', 'test/amqp/frame-check.test.ts', 'interop/python/garbage.py'],
  },
  {
    file: 'state-checks.ts',
    what: 'checks every frame that names a channel, handle or delivery against the sessions and links rhea holds, and answers each violation with the AMQP error of its scope: close, end or detach',
    why: 'rhea throws on unknown channels and handles (its message went to the client), computes NaN credit from a flow without delivery-count, logs and accepts transfers beyond credit, overflows its ring beyond the incoming window, and re-uses a handle still mapped to a detaching link',
    replaces: {
      'connection.on_begin': 'function',
      'connection.on_end': 'function',
      'connection.on_attach': 'function',
      'connection.on_detach': 'function',
      'connection.on_flow': 'function',
      'connection.on_transfer': 'function',
      'connection.on_disposition': 'function',
    },
    reliesOn: {
      'connection.remote_channel_map': 'object',
      'session.state': 'object',
      'session.remote': 'object',
      'session.links': 'object',
      'session.end': 'function',
      'session.dispatch': 'function',
      'session._context': 'function',
      'session.incoming.next_transfer_id': 'number',
      'session.incoming.deliveries': 'object',
      'sender.state': 'object',
      'sender.local': 'object',
      'receiver.credit': 'number',
      'receiver.close': 'function',
      'receiver.is_receiver': 'function',
    },
    guardedBy: ['test/amqp/bad-input.test.ts', 'test/fuzz/wire-fuzz.test.ts'],
  },
  {
    file: 'bounded-dispositions.ts',
    what: "settles the deliveries of a disposition range by visiting only the session's outstanding deliveries in the range",
    why: 'rhea walks a disposition range id by id: first 0, last 2^32 - 1 froze the broker for about 20 s per frame',
    replaces: { 'session.outgoing.on_disposition': 'function', 'session.incoming.on_disposition': 'function' },
    reliesOn: {
      'session.outgoing.deliveries': 'object',
      'session.outgoing.updated': 'object',
      'session.incoming.deliveries': 'object',
      'rhea.message.unwrap_outcome': 'function',
    },
    guardedBy: ['test/amqp/bad-input.test.ts', 'test/amqp/bounded-dispositions.test.ts'],
  },
  {
    file: 'fair-input.ts',
    what: "hands each socket read to rhea in slices, and leaves the rest of a read to the next turn once the connection has used its time",
    why: 'rhea reads all frames of a read before it returns: during a flood of attaches one client held every other one for up to a second',
    replaces: { 'connection.input': 'function' },
    reliesOn: {},
    guardedBy: ['test/amqp/fair-input.test.ts', 'test/exhaustion/exhaustion.test.ts'],
  },
  {
    file: 'sasl-server.ts',
    what: "rebuilds one server connection's SASL layer with mechanisms made for that connection, looked up without a prototype, and reports a mechanism it did not offer",
    why: "rhea shares one set of SASL mechanisms among a container's connections and creates a mechanism without its connection (who may log in depends on the client's address and TLS certificate); it looks a client's mechanism name up in a plain object (`toString` found a function) and refuses an unknown one silently",
    replaces: { 'connection.sasl_transport.transports.3': 'object', 'lib/sasl.js.Server.prototype.on_sasl_init': 'function' },
    reliesOn: { 'rhea.sasl.Server': 'function', 'lib/sasl.js.Server.prototype.do_step': 'function', 'lib/sasl.js.Server.prototype.on_sasl_response': 'function' },
    guardedBy: ['test/amqp/authentication.test.ts', 'test/amqp/connection.test.ts'],
  },
  {
    file: 'raw-message-bytes.ts',
    what: 'marks format-0 transfers so that rhea hands the message over as raw bytes, and reports every transfer frame first',
    why: 'rhea decodes every message and re-encoding changes AMQP types (byte becomes ubyte); the broker forwards the producer bytes unchanged',
    replaces: { 'connection.on_transfer': 'function' },
    reliesOn: { 'connection.remote_channel_map': 'object', 'session.remote': 'object' },
    guardedBy: ['test/amqp/messages.test.ts'],
  },
  {
    file: 'transfer-decoding.ts',
    what: 'decodes plain transfer frames directly and leaves every other frame to rhea',
    why: 'rhea builds typed wrappers and a composite per transfer; most of what producers send is transfers',
    replaces: { 'connection.amqp_transport.read': 'function' },
    reliesOn: { 'connection.amqp_transport.read_complete': 'boolean' },
    guardedBy: ['test/amqp/transfer-decoding.test.ts', 'test/amqp/messages.test.ts'],
  },
  {
    file: 'incoming-deliveries.ts',
    what: "rhea's incoming-transfer assembly with the delivery methods on a prototype; a delivery's remote_state keeps its descriptor",
    why: "rhea allocates six closures per received delivery; and its transfer state getter strips the descriptor, so a transactional-state (AMQP 1.0 4.5.6) looked like any other list",
    replaces: { 'session.incoming.on_transfer': 'function' },
    reliesOn: {
      'session.incoming.next_transfer_id': 'number',
      'session.incoming.deliveries': 'object',
      'session.incoming.update': 'function',
      'receiver.credit': 'number',
      'receiver.delivery_count': 'number',
      'receiver.is_remote_open': 'function',
      'receiver.dispatch': 'function',
      'receiver._context': 'function',
    },
    guardedBy: ['test/amqp/messages.test.ts', 'test/amqp/flow-settlement.test.ts', 'test/amqp/transactions.test.ts'],
  },
  {
    file: 'batched-writes.ts',
    what: "encodes rhea's frames into a shared buffer and writes them once per broker turn, after the store",
    why: 'rhea writes one socket write per frame; and no transfer may leave before the store has written the records of its turn',
    replaces: {
      'connection._write_frame': 'function',
      'connection.output': 'function',
      'connection.amqp_transport.write': 'function',
      'connection.amqp_transport.has_writes_pending': 'function',
    },
    reliesOn: {},
    guardedBy: ['test/amqp/frame-buffer.test.ts', 'test/amqp/connection.test.ts'],
  },
  {
    file: 'frame-buffer.ts',
    what: "encodes frames with rhea's own value writer into slabs, and transfers directly",
    why: 'rhea allocates a zeroed buffer per frame; the same bytes come out of a shared slab',
    replaces: {},
    reliesOn: { 'rhea.types.Writer': 'function' },
    guardedBy: ['test/amqp/frame-buffer.test.ts'],
  },
  {
    file: 'transfer-encoding.ts',
    what: "encodes the transfers rhea's Outgoing.process would write, with the same bookkeeping, and drops sent payloads",
    why: 'rhea builds a performative object per transfer, and keeps every sent payload until all earlier deliveries settle',
    replaces: { 'session.outgoing.process': 'function' },
    reliesOn: {
      'session.outgoing.next_pending_delivery': 'number',
      'session.outgoing.next_delivery_id': 'number',
      'session.outgoing.next_transfer_id': 'number',
      'session.outgoing.window': 'number',
      'session.outgoing.deliveries': 'object',
      'session.outgoing.transfer_window': 'function',
    },
    guardedBy: ['test/amqp/unsettled-limits.test.ts', 'test/amqp/frame-buffer.test.ts'],
  },
  {
    file: 'sessions.ts',
    what: 'applies the session patches to every session rhea creates on a connection',
    why: 'sessions of a server connection are created by rhea when the peer begins one',
    replaces: { 'connection.create_session': 'function' },
    reliesOn: {},
    guardedBy: ['test/amqp/flow-settlement.test.ts'],
  },
  {
    file: 'link-keys.ts',
    what: "keys a session's links by role and name; a link detached and attached again in one read gets a new link; a link is removed only from where it still is",
    why:
      'rhea keys links by name alone and fails the connection when a sender and a receiver share a name (Qpid Proton does that); it re-opens a ' +
      'link the peer just detached (the new attach was never answered), and its late removal of the old link unmapped the new one; it never ' +
      'recorded the remote handle, so removal left every detached link mapped',
    replaces: { 'session.on_attach': 'function', 'session.remove_link': 'function' },
    reliesOn: { 'session.links': 'object', 'session.create_sender': 'function', 'session.create_receiver': 'function', 'sender.state': 'object', 'sender.remote': 'object' },
    guardedBy: ['test/amqp/flow-settlement.test.ts', 'test/amqp/bad-input.test.ts'],
  },
  {
    file: 'links-with-work.ts',
    what: 'processes only the links of a session that have a frame to write, and reuses freed link handles',
    why:
      'rhea asks every link of a session for frames each time the connection is processed, and walks up from handle 0 for a free handle: ' +
      'attaching was O(links already there), 10,000 attaches on one connection took 49.6 s and stalled every other client',
    replaces: { 'session._process': 'function', 'session.create_link': 'function', 'session.remove_link': 'function' },
    reliesOn: {
      'session.links': 'object',
      'session.local.handles': 'object',
      'session.each_sender': 'function',
      'session.output': 'function',
      'sender.state.open': 'function',
      'sender.state.close': 'function',
      'sender.state.has_settled': 'function',
      'sender.issue_flow': 'boolean',
      'sender._process': 'function',
      'receiver.issue_flow': 'boolean',
    },
    guardedBy: ['test/amqp/link-scaling.test.ts'],
  },
  {
    file: 'session-limits.ts',
    what: 'closes a connection whose peer begins a session on a channel above channel-max, and announces handle-max in every begin',
    why: 'rhea advertises channel-max but begins a session on any channel: 10,000 begins on one connection were all answered although channel-max is 1023',
    replaces: { 'connection.on_begin': 'function' },
    reliesOn: { 'session.local.begin': 'object' },
    guardedBy: ['test/amqp/connection-limits.test.ts'],
  },
  {
    file: 'disposition-order.ts',
    what: "reports a consumer's outcomes as their disposition frame is read",
    why: 'rhea reports dispositions a tick after flow and detach frames, so an accept followed by a detach redelivered the message',
    replaces: { 'session.on_disposition': 'function' },
    reliesOn: { 'session.outgoing.updated': 'object' },
    guardedBy: ['test/amqp/flow-settlement.test.ts'],
  },
  {
    file: 'disposition-ranges.ts',
    what: 'writes pending dispositions as ranges of deliveries with equal outcomes',
    why: 'rhea merged a rejected delivery and the accepted one after it into one "rejected" range',
    replaces: { 'session.incoming.process': 'function', 'session.outgoing.process': 'function' },
    reliesOn: { 'session.incoming.updated': 'object', 'session.outgoing.pending_dispositions': 'object', 'lib/frames.js.disposition': 'function' },
    guardedBy: ['test/amqp/disposition-ranges.test.ts'],
  },
  {
    file: 'transactional-dispositions.ts',
    what: 'reads a disposition whose state is a transactional-state as the outcome inside it, and marks the deliveries it settled with the txn-id',
    why: 'rhea does not know transactional-state (AMQP 1.0 4.5.6): it wrote "unrecognised outcome" to the console and reported no outcome for a transactional acknowledgement',
    replaces: { 'session.on_disposition': 'function' },
    reliesOn: { 'session.outgoing.updated': 'object' },
    guardedBy: ['test/amqp/transactions.test.ts'],
  },
  {
    file: 'drain-answer.ts',
    what: 'answers every drain with a flow (AMQP 1.0 2.6.7)',
    why: 'rhea skips that flow when transfers already used the credit up; Qpid JMS then times out closing a consumer',
    replaces: { 'sender._get_drain': 'function' },
    reliesOn: { 'sender.delivery_count': 'number', 'sender.credit': 'number', 'sender.set_drained': 'function' },
    guardedBy: ['test/amqp/flow-settlement.test.ts'],
  },
  {
    file: 'quiet-logging.ts',
    what: "replaces rhea's disabled debug loggers by a function that does nothing",
    why: 'rhea calls them on every frame and event, paying for the call and its arguments even when DEBUG is off',
    replaces: { 'lib/log.js.frames': 'function', 'lib/log.js.events': 'function' },
    reliesOn: {},
    guardedBy: ['test/amqp/rhea-contract.test.ts'],
  },
  {
    file: 'own-empty-lists.ts',
    what: 'gives every frame whose decoded values rhea keeps (all but flow) its own empty lists before rhea or the broker sees it',
    why:
      'rhea decodes every empty list (0x45) to one array shared by the whole process, and writes into decoded values (set_source / set_target ' +
      'fill in the terminus they are given, link.on_attach sets fields of the attach): one write there changed what every later empty list ' +
      'decodes to, on every connection (a go-amqp sender made every later empty target decode with 11 fields)',
    replaces: {
      'connection.on_open': 'function',
      'connection.on_begin': 'function',
      'connection.on_attach': 'function',
      'connection.on_transfer': 'function',
      'connection.on_disposition': 'function',
      'connection.on_detach': 'function',
      'connection.on_end': 'function',
      'connection.on_close': 'function',
    },
    reliesOn: {},
    guardedBy: ['test/amqp/decoded-values.test.ts'],
  },
  {
    file: 'received-termini.ts',
    what: "records what each attach's source and target fields hold (nothing, a source, a target, a coordinator and its capabilities, something else) before rhea unwraps them",
    why:
      'rhea turns a coordinator target (a transacted session) into null after a console warning, so it looked like a sender without a target; ' +
      'and it accepts a target in the source field',
    replaces: { 'connection.on_attach': 'function' },
    reliesOn: {},
    guardedBy: ['test/amqp/attach-replies.test.ts', 'test/amqp/transactions.test.ts'],
  },
  {
    file: 'internals.ts',
    what: 'typed views of the rhea fields the broker reads and sets outside the patches above',
    why: "rhea's typings do not declare them",
    replaces: {},
    reliesOn: {
      'sender.local': 'object',
      'sender.remote': 'object',
      'sender.set_source': 'function',
      'sender.set_target': 'function',
      'sender.session': 'object',
      'receiver.drain': 'boolean',
      'receiver.issue_flow': 'boolean',
      'session.outgoing.deliveries': 'object',
      'connection._register': 'function',
      'rhea.types.Reader': 'function',
      'rhea.message.are_outcomes_equivalent': 'function',
      'rhea.message.unwrap_outcome': 'function',
      'rhea.message.is_accepted': 'function',
      'rhea.message.is_rejected': 'function',
      'rhea.message.is_released': 'function',
      'rhea.message.is_modified': 'function',
      'rhea.message.is_received': 'function',
    },
    guardedBy: ['test/amqp/links.test.ts', 'test/amqp/unsettled-limits.test.ts'],
  },
];

/** What a patched server connection reports to, and writes through. */
export interface ServerConnectionTargets {
  readonly socket: Socket;
  readonly logger: Logger;
  readonly maxFrameBytes: number;
  readonly onTransferFrame: TransferFrameListener;
  readonly turn: NetworkTurn;
  /** channel-max, enforced on begin; handle-max + 1, announced in every begin (AMQP 1.0 2.7.1, 2.7.2). */
  readonly channelMax: number;
  readonly maxLinksPerSession: number;
}

/** Installs every connection and session patch of this folder on one server-side connection. */
export function patchServerConnection(connection: Connection, targets: ServerConnectionTargets): void {
  guardInput(connection, targets.socket, targets.logger, targets.maxFrameBytes);
  shareInputFairly(connection, targets.socket);
  deliverRawBytes(connection, targets.onTransferFrame);
  checkFramesAgainstState(connection, targets.logger);
  // readTransactionalDispositions before reportDispositionsInFrameOrder: the latter wraps it and reports what it marked.
  patchFramesAndSessions(
    connection,
    targets.socket,
    targets.turn,
    [keyLinksByRoleAndName, processOnlyLinksWithWork, readTransactionalDispositions],
    [announceHandleMax(targets.maxLinksPerSession)],
  );
  limitSessionChannels(connection, targets.channelMax);
  recordReceivedTermini(connection);
  // Last, so that it wraps every other frame handler: they all see frames with their own empty lists.
  giveFramesTheirOwnEmptyLists(connection);
}

/**
 * Installs the patches a broker needs on a connection it opened itself to another cluster node (README,
 * "Cluster"): messages arrive as raw bytes (forwarded unchanged), frames go out in the broker's turn
 * (after its store step, and not at all once the node is fenced), and the session patches. The input
 * checks of a server connection are left out (the peer is another Convoy node), and so are link keys by
 * role and name (this node names every link it opens there, and rhea finds its own links by name) and
 * transactional dispositions (inter-node links carry no transactions).
 */
export function patchInterNodeConnection(connection: Connection, socket: Socket, turn: NetworkTurn): void {
  deliverRawBytes(connection, () => undefined);
  patchFramesAndSessions(connection, socket, turn, [], []);
  giveFramesTheirOwnEmptyLists(connection);
}

/** `serverFirst` and `serverLast`: the session patches of a server connection, before and after the shared ones. */
function patchFramesAndSessions(
  connection: Connection,
  socket: Socket,
  turn: NetworkTurn,
  serverFirst: readonly SessionPatch[],
  serverLast: readonly SessionPatch[],
): void {
  decodeTransfersDirectly(connectionInternals(connection).amqp_transport, connectionInternals(connection));
  const output = batchSocketWrites(connection, socket, turn);
  const encodeTransfers: SessionPatch = (session) => encodeTransfersDirectly(session.outgoing, session, output.frames, output.requestOutput);
  const buildDeliveries: SessionPatch = (session) => buildDeliveriesOnPrototype(session.incoming);
  const fixDispositions: SessionPatch = (session) => {
    writeDispositionsCorrectly(session.incoming as never, 'updated');
    writeDispositionsCorrectly(session.outgoing as never, 'pending_dispositions');
  };
  const boundDispositions: SessionPatch = (session) => boundDispositionRanges(session as never);
  patchSessions(connection, [...serverFirst, reportDispositionsInFrameOrder, encodeTransfers, buildDeliveries, fixDispositions, boundDispositions, ...serverLast]);
}

export { answerDrainWithFlow } from './drain-answer';
export { skipDisabledRheaLogging } from './quiet-logging';
export { offerSaslMechanisms, type SaslServerMechanism, type SaslServerMechanisms } from './sasl-server';
export { connectionInternals, linkInternals, receiverInternals, rheaOutcomes, rheaValueReader, tagOf, unwrapRheaOutcome } from './internals';
export type { LinkInternals, RheaOutcome } from './internals';
export { receivedTermini, type ReceivedTermini, type TerminusKind } from './received-termini';
export { IncomingDelivery } from './incoming-deliveries';
export { readTransactionalState, TRANSACTIONAL_STATE, type TransactionalState } from './transactional-dispositions';
