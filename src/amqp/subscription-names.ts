/**
 * A named topic subscription is identified by the receiving link's name (AMQP 1.0 2.6.1: a link name
 * is unique per container pair, so it can stand for a durable terminus), scoped to the client's
 * container-id unless the source has the capability `global`.
 *
 * Qpid JMS (AmqpSubscriptionTracker) names the links of one subscription this way:
 *   unshared durable                  `<name>`                  (needs a client id)
 *   shared durable, client id         `<name>`, `<name>|2`, `<name>|3`...
 *   shared durable, global            `<name>|global`, `<name>|global2`...
 *   shared non-durable, client id     `<name>|volatile1`, `<name>|volatile2`...
 *   shared non-durable, global        `<name>|global-volatile1`...
 * and refuses `|` in subscription names, so the part before such a suffix is the subscription name.
 * Its unsubscribe attaches a receiver without a source, named by the first link name (`<name>`, or
 * `<name>|global` without a client id), and closes it.
 */

/** The numbering Qpid JMS appends to the links of a shared subscription. */
const SHARED_LINK_SUFFIX = /\|(?:\d+|global\d*|volatile\d+|global-volatile\d+)$/;

/** The subscription a link attaches to: its name, without Qpid JMS's per-link numbering of a shared one. */
export function subscriptionNameOf(linkName: string, shared: boolean): string {
  return shared ? linkName.replace(SHARED_LINK_SUFFIX, '') : linkName;
}

/**
 * The subscriptions an unsubscribe link may name, most specific first: the link name scoped to the
 * client, then global (Qpid JMS names a global one `<name>|global`; other clients may use the bare name).
 */
export function unsubscribeCandidates(linkName: string, clientId: string): { clientId: string | null; name: string }[] {
  const candidates: { clientId: string | null; name: string }[] = [{ clientId, name: linkName }];
  if (linkName.endsWith('|global')) candidates.push({ clientId: null, name: linkName.slice(0, -'|global'.length) });
  candidates.push({ clientId: null, name: linkName });
  return candidates;
}
