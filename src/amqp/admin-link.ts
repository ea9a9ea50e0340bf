import type { Sender } from 'rhea';
import type { ClusterServices, ClusterSnapshot } from '../broker/cluster-services';
import type { BrokerRuntime, QueueReport } from '../broker/runtime';
import type { TopicReport } from '../broker/topics';
import { AddressError } from './address';
import { connectionInternals } from './rhea';

/**
 * Operator views over AMQP itself: a consumer attaching to `$convoy/queues`, `$convoy/groups/<queue>` or
 * (on a cluster node) `$convoy/cluster` receives one JSON message with the current state; once the
 * client has settled it, the broker detaches the link. Any AMQP client whose user has `manage` can read
 * it (src/amqp/authorization.ts); `convoy queues`, `convoy groups` and `convoy cluster` do.
 */
export const ADMIN_PREFIX = '$convoy/';

/** `$convoy/queues`: this node's queues; on a cluster node also every queue's home. */
export interface QueuesSnapshot {
  readonly queues: readonly QueueReport[];
  readonly topics: readonly TopicReport[];
  /** Cluster nodes only: the node that answered, and each queue's home node (null: its node is lost). */
  readonly cluster?: { readonly node: string; readonly homes: Readonly<Record<string, string | null>> };
}

export function isAdminAddress(address: unknown): address is string {
  return typeof address === 'string' && address.startsWith(ADMIN_PREFIX);
}

export function adminSnapshot(runtime: BrokerRuntime, address: string, cluster: ClusterServices | null): unknown {
  const path = address.slice(ADMIN_PREFIX.length);
  if (path === 'queues') return queuesSnapshot(runtime, cluster);
  if (path === 'cluster') {
    if (!cluster) throw new AddressError('this broker is a single node, not a cluster node (start it with --node-id, --etcd and --advertise)');
    return cluster.snapshot();
  }
  if (path.startsWith('groups/')) {
    const name = path.slice('groups/'.length);
    const report = runtime.groupReport(name);
    if (!report) throw new AddressError(`no queue named "${name}"`);
    return report;
  }
  throw new AddressError(`unknown admin address "${address}" (known: ${ADMIN_PREFIX}queues, ${ADMIN_PREFIX}groups/<queue>, ${ADMIN_PREFIX}cluster)`);
}

function queuesSnapshot(runtime: BrokerRuntime, cluster: ClusterServices | null): QueuesSnapshot {
  const snapshot = { queues: runtime.queueReports(), topics: runtime.topicReports() };
  if (!cluster) return snapshot;
  return { ...snapshot, cluster: { node: cluster.nodeId, homes: queueHomes(cluster.snapshot()) } };
}

/** Every queue the cluster knows, with the node serving it (null while its node is lost). */
function queueHomes(snapshot: ClusterSnapshot): Record<string, string | null> {
  const homes: Record<string, string | null> = {};
  for (const node of snapshot.nodes) for (const queue of node.queues) homes[queue] = node.state === 'live' ? node.id : null;
  return homes;
}

/**
 * Sends the snapshot once the client grants credit, and detaches once the client has settled it. The
 * attach reply is written first: the client's flow often comes in the same read as its attach, and
 * rhea writes a session's transfers before a new link's attach (AMQP 1.0 2.6.3 wants the attach first;
 * Qpid Proton closes the connection with "no such handle"). The detach waits for the settlement, not
 * just the transfer: a detach right behind the transfer reaches a blocking receiver (Qpid Proton's
 * BlockingReceiver) while it is still opening, and it gives up on the link.
 */
export function serveAdminLink(sender: Sender, snapshot: unknown): void {
  connectionInternals(sender.connection)._process();
  let sent = false;
  const send = (): void => {
    if (sent || !sender.sendable()) return;
    sent = true;
    sender.send({ content_type: 'application/json', body: JSON.stringify(snapshot) });
  };
  sender.on('sendable', send);
  sender.on('settled', () => sender.close());
  setImmediate(send);
}
