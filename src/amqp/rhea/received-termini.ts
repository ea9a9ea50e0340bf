import { types as rheaTypes, type Connection } from 'rhea';

/**
 * What a peer put in an attach's source or target field (AMQP 1.0 2.7.3): nothing (absent or null), a
 * source (3.5.3), a target (3.5.4), a transaction coordinator (4.5.1), or something else.
 */
export type TerminusKind = 'none' | 'source' | 'target' | 'coordinator' | 'other';

export interface ReceivedTermini {
  readonly source: TerminusKind;
  readonly target: TerminusKind;
  /** A coordinator target's capabilities field (4.5.1) as decoded: a symbol, symbols, or null; null for any other target. */
  readonly coordinatorCapabilities: unknown;
}

/** Descriptors by code and by name (AMQP 1.0 3.5.3, 3.5.4, 4.5.1). */
const KINDS: Readonly<Record<string, TerminusKind>> = {
  40: 'source',
  'amqp:source:list': 'source',
  41: 'target',
  'amqp:target:list': 'target',
  48: 'coordinator',
  'amqp:coordinator:list': 'coordinator',
};

const NULL_TYPECODE = 0x40;

interface DecodedAttach {
  source: unknown;
  target: unknown;
}

const received = new WeakMap<object, ReceivedTermini>();

/**
 * rhea unwraps an attach's termini in place (link.js on_attach): a source or target descriptor becomes
 * its terminus object whichever field it is in, and anything else becomes null after a console warning.
 * A coordinator target (a transacted session) and a null target (no terminus) then look alike. Here,
 * before rhea sees the attach, the kind of each terminus is recorded for the broker, and one rhea cannot
 * represent is replaced by null so that rhea neither warns nor guesses.
 */
export function recordReceivedTermini(connection: Connection): void {
  const internals = connection as unknown as { on_attach(frame: { performative: DecodedAttach }): void };
  const onAttach = internals.on_attach.bind(connection);
  internals.on_attach = (frame) => {
    const attach = frame.performative;
    const target = kindOf(attach.target);
    const termini = { source: kindOf(attach.source), target, coordinatorCapabilities: target === 'coordinator' ? capabilitiesOf(attach.target) : null };
    if (termini.source === 'coordinator' || termini.source === 'other') attach.source = null;
    if (termini.target === 'coordinator' || termini.target === 'other') attach.target = null;
    received.set(attach, termini);
    onAttach(frame);
  };
}

/** The termini kinds of an attach a patched connection received: pass the link's `remote.attach`. */
export function receivedTermini(attach: object | undefined): ReceivedTermini {
  const termini = attach && received.get(attach);
  if (!termini) throw new Error('the attach did not pass through recordReceivedTermini');
  return termini;
}

/** 4.5.1 coordinator: its one field, capabilities. */
function capabilitiesOf(coordinator: unknown): unknown {
  const fields = (coordinator as { value?: unknown }).value;
  return Array.isArray(fields) && fields.length > 0 ? rheaTypes.unwrap(fields[0]) : null;
}

function kindOf(field: unknown): TerminusKind {
  if (field === undefined || field === null) return 'none';
  const decoded = field as { type?: { typecode?: number }; descriptor?: { value?: unknown } };
  if (decoded.type?.typecode === NULL_TYPECODE) return 'none';
  const descriptor = decoded.descriptor?.value;
  if (typeof descriptor !== 'number' && typeof descriptor !== 'string') return 'other';
  return KINDS[String(descriptor)] ?? 'other';
}
