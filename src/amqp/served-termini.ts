import type { NodeKind } from '../broker/topics';
import { AddressError } from './address';
import type { RequestedSource, RequestedTerminus } from './attach-request';
import { NotImplementedError } from './termini';

/**
 * What the broker can be at the other end of a link: a queue, or a topic (a consumer then gets a
 * subscription). A client asking for more (a browser, a selector) is refused with amqp:not-implemented
 * and a description of what it asked for, rather than served something else silently.
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

/** A consumer's source: the broker moves messages to consumers and applies no filter. */
export function checkSourceServed(source: RequestedSource): void {
  if (source.distributionMode === 'copy') {
    throw new NotImplementedError('distribution-mode copy (browsing a queue without consuming) is not implemented');
  }
  if (source.distributionMode !== null && source.distributionMode !== DISTRIBUTION_MODE_MOVE) {
    throw new NotImplementedError(`distribution-mode "${source.distributionMode}" is not implemented (only ${DISTRIBUTION_MODE_MOVE})`);
  }
  if (source.filters.length > 0) {
    throw new NotImplementedError(`source filters are not implemented: the broker applies none (asked for ${source.filters.join(', ')})`);
  }
}
