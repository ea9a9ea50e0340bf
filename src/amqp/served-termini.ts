import { AddressError } from './address';
import type { RequestedSource, RequestedTerminus } from './attach-request';
import { selectorOf, type SourceSelector } from './source-filters';
import { NotImplementedError } from './termini';

/**
 * What the broker can be at the other end of a link: a queue, consumed or browsed, optionally through a
 * selector. A client asking for more (a topic, another filter) is refused with amqp:not-implemented and
 * a description of what it asked for, rather than served something else silently.
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
/** 3.5.7 std-dist-mode: a browser sees messages and leaves them in the queue. */
export const DISTRIBUTION_MODE_COPY = 'copy';

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

/** A source with distribution-mode copy browses its queue (Qpid JMS QueueBrowser). */
export function isBrowser(source: RequestedSource): boolean {
  return source.distributionMode === DISTRIBUTION_MODE_COPY;
}
