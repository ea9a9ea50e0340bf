import type { NodeKind } from '../broker/topics';
import { AddressError } from './address';
import type { RequestedSource, RequestedTerminus } from './attach-request';
import { selectorOf, type SourceSelector } from './source-filters';
import { NotImplementedError } from './termini';

/**
 * What the broker can be at the other end of a link: a queue, consumed or browsed, or a topic (a
 * consumer then gets a subscription), optionally through a selector. A client asking for more (another
 * filter, another distribution mode) is refused with amqp:not-implemented and a description of what it
 * asked for, rather than served something else silently.
 */

/**
 * Terminus capabilities (AMQP 1.0 3.5.3, 3.5.4) the broker serves: the JMS mapping's node types, and
 * `shared` / `global` for subscriptions (Qpid JMS shared subscriptions; `global`: not scoped to the
 * client's container-id).
 */
const SERVED_CAPABILITIES: ReadonlySet<string> = new Set(['queue', 'temporary-queue', 'topic', 'temporary-topic', 'shared', 'global']);

const NODE_KIND_CAPABILITIES: ReadonlyMap<string, NodeKind> = new Map([
  ['queue', 'queue'],
  ['temporary-queue', 'queue'],
  ['topic', 'topic'],
  ['temporary-topic', 'topic'],
]);

/** 3.5.7 std-dist-mode: consumers of a queue take the messages they receive. */
export const DISTRIBUTION_MODE_MOVE = 'move';
/** 3.5.7 std-dist-mode: a browser sees messages and leaves them in the queue. */
export const DISTRIBUTION_MODE_COPY = 'copy';

/**
 * The requested capabilities the broker's terminus has. Capabilities it does not know are left out of
 * the reply (3.5.3: the reply lists what the terminus supports), so a client that needs one can see it
 * is missing.
 */
export function servedCapabilities(terminus: RequestedTerminus): string[] {
  return terminus.capabilities.filter((capability) => SERVED_CAPABILITIES.has(capability));
}

/**
 * The kind of node the client says it attaches to (capability `queue` / `temporary-queue` or `topic` /
 * `temporary-topic`, as Qpid JMS sends them); null when it says neither. Both at once is a contradiction.
 */
export function claimedNodeKind(field: 'source' | 'target', terminus: RequestedTerminus): NodeKind | null {
  const kinds = new Set(terminus.capabilities.map((capability) => NODE_KIND_CAPABILITIES.get(capability)).filter((kind) => kind !== undefined));
  if (kinds.size > 1) throw new AddressError(`the ${field} capabilities say both queue and topic (${terminus.capabilities.join(', ')})`);
  return kinds.values().next().value ?? null;
}

/** 3.5.3, 3.5.4: a dynamic terminus asks the broker to name the node; an address with it contradicts that. */
export function checkDynamic(field: 'source' | 'target', terminus: RequestedTerminus): void {
  if (terminus.dynamic && terminus.address !== null) {
    throw new AddressError(`a dynamic ${field} must not have an address (AMQP 1.0 3.5.3, 3.5.4), got "${terminus.address}"`);
  }
}

/**
 * A consumer's source: the broker moves messages to consumers, or copies them to a browser; it applies a
 * selector filter and no other. Returns the selector, if any.
 */
export function checkSourceServed(source: RequestedSource): SourceSelector | null {
  const mode = source.distributionMode;
  if (mode !== null && mode !== DISTRIBUTION_MODE_MOVE && mode !== DISTRIBUTION_MODE_COPY) {
    throw new NotImplementedError(`distribution-mode "${mode}" is not implemented (only ${DISTRIBUTION_MODE_MOVE} and ${DISTRIBUTION_MODE_COPY})`);
  }
  return selectorOf(source.filters);
}

/** A queue's source with distribution-mode copy browses it (Qpid JMS QueueBrowser; on a topic, copy asks for a durable subscription). */
export function isBrowser(source: RequestedSource): boolean {
  return source.distributionMode === DISTRIBUTION_MODE_COPY;
}
