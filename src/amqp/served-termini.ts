import { AddressError } from './address';
import type { RequestedSource, RequestedTerminus } from './attach-request';
import { NotImplementedError } from './termini';

/**
 * What the broker can be at the other end of a link: a queue. A client asking for more (a topic, a
 * browser, a selector) is refused with amqp:not-implemented and a description of what it asked for,
 * rather than served something else silently.
 */

/** Terminus capabilities (AMQP 1.0 3.5.3, 3.5.4; the JMS mapping's node types) the broker serves. */
const SERVED_CAPABILITIES: ReadonlySet<string> = new Set(['queue', 'temporary-queue']);

/** Capabilities that ask for a kind of node Convoy does not have. */
const REFUSED_CAPABILITIES: ReadonlyMap<string, string> = new Map([
  ['topic', 'topics are not implemented: every address is a queue'],
  ['temporary-topic', 'temporary topics are not implemented: every address is a queue'],
  ['shared', 'shared subscriptions are not implemented'],
  ['global', 'shared subscriptions are not implemented'],
]);

/** 3.5.7 std-dist-mode: consumers of a queue take the messages they receive. */
export const DISTRIBUTION_MODE_MOVE = 'move';

/**
 * The requested capabilities the broker's terminus has; throws for one that asks for a node kind the
 * broker does not have. Capabilities it does not know are left out of the reply (3.5.3: the reply
 * lists what the terminus supports), so a client that needs one can see it is missing.
 */
export function servedCapabilities(field: 'source' | 'target', terminus: RequestedTerminus): string[] {
  for (const capability of terminus.capabilities) {
    const refusal = REFUSED_CAPABILITIES.get(capability);
    if (refusal) throw new NotImplementedError(`${refusal} (${field} capability "${capability}")`);
  }
  return terminus.capabilities.filter((capability) => SERVED_CAPABILITIES.has(capability));
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
