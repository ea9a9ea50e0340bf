/**
 * Why a cluster node refuses a topic (amqp:not-implemented, README "Cluster"): a topic is fanned out to
 * its subscriptions by the node its publisher is connected to, and a subscription's queue lives where its
 * subscriber attached, so a message published on one node would miss the subscribers of the others.
 * `address` is null for a receiver without a source (a durable subscription lookup).
 */
export function topicsNotClustered(address: string | null): string {
  const which = address === null ? '' : ` ("${address}" is a topic)`;
  return `topics and subscriptions are not served by a cluster node yet, only queues${which}`;
}
