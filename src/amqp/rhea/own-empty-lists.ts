import type { Connection } from 'rhea';

/** AMQP 1.0 1.6.22: list0, the empty list in one byte. */
const LIST0 = 0x45;

/**
 * The connection's handlers (rhea's transport calls `on_<name>`) for the performatives of AMQP 1.0 2.7
 * whose decoded values rhea keeps: remote.open, .begin, .attach, .detach, .end, .close, and the
 * delivery states of transfers and dispositions. A flow is read for its numbers and dropped.
 */
const PERFORMATIVE_HANDLERS = [
  'on_open',
  'on_begin',
  'on_attach',
  'on_transfer',
  'on_disposition',
  'on_detach',
  'on_end',
  'on_close',
] as const;

type FrameHandler = (frame: { performative?: unknown }) => void;

/** A value as rhea's decoder returns it (types.js Typed): its type, its value, maybe a descriptor. */
interface DecodedValue {
  type?: { typecode?: number };
  value?: unknown;
  descriptor?: unknown;
}

/**
 * rhea decodes every empty list (0x45) to one array shared by every decoder in the process (types.js
 * `define_type('List0', 0x45, undefined, [])`). Whatever writes into one decoded empty list writes into
 * all of them: rhea's `set_source` did, after a go-amqp sender attached with an empty source, and every
 * later empty terminus on every connection then decoded with eleven fields. Here each frame rhea decoded
 * gets its own arrays before rhea or the broker sees it, so nothing a client sends can reach a value
 * another client's frames are decoded into.
 */
export function giveFramesTheirOwnEmptyLists(connection: Connection): void {
  const handlers = connection as unknown as Record<(typeof PERFORMATIVE_HANDLERS)[number], FrameHandler>;
  for (const name of PERFORMATIVE_HANDLERS) {
    const handle = handlers[name].bind(connection);
    handlers[name] = (frame) => {
      ownEmptyLists(frame.performative);
      handle(frame);
    };
  }
}

/**
 * A decoded performative is a composite over the list of its fields (types.js define_composite); a
 * transfer decoded by transfer-decoding.ts is a plain object and has no list to look at.
 */
function ownEmptyLists(performative: unknown): void {
  const composite = performative as { value?: unknown } | null | undefined;
  if (!composite || !Array.isArray(composite.value)) return;
  if (composite.value.length === 0) {
    composite.value = [];
    return;
  }
  for (const field of composite.value) ownEmptyListsOf(field);
}

function ownEmptyListsOf(decoded: unknown): void {
  if (typeof decoded !== 'object' || decoded === null || Buffer.isBuffer(decoded)) return;
  const value = decoded as DecodedValue;
  if (value.type?.typecode === LIST0) value.value = [];
  else if (Array.isArray(value.value)) for (const item of value.value) ownEmptyListsOf(item);
  if (value.descriptor !== undefined) ownEmptyListsOf(value.descriptor);
}
