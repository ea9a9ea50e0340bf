import type { QueuesSnapshot } from '../amqp';
import type { ClusterSnapshot } from '../broker/cluster-services';
import type { QueueReport } from '../broker/runtime';
import type { TopicReport } from '../broker/topics';
import type { GroupView } from '../core/inspect';

/** Plain-text tables for the operator commands. */
export function renderTable(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((row) => row.map(String))];
  const widths = headers.map((_, column) => Math.max(...cells.map((row) => row[column]!.length)));
  return cells.map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()).join('\n');
}

/**
 * The queues of the node asked, with their consumers (a subscription's queue is named
 * `<topic>::<subscription>`), then topics and their subscriptions. On a cluster node a HOME column names
 * the node serving each queue; queues served by another node are listed with their home only (ask that
 * node for their numbers), and a local queue whose home is elsewhere holds messages on their way there.
 */
export function renderQueues(queues: readonly QueueReport[], topics: readonly TopicReport[], cluster?: QueuesSnapshot['cluster']): string {
  const local = new Set(queues.map((q) => q.name));
  const elsewhere = cluster ? Object.keys(cluster.homes).filter((name) => !local.has(name)).sort() : [];
  if (queues.length === 0 && elsewhere.length === 0 && topics.length === 0) return 'no queues';
  const homeOf = (name: string): string => (cluster ? (cluster.homes[name] ?? '(lost)') : '');
  const rows: (string | number)[][] = queues.map((q) => [q.name, q.queued, q.inFlight, q.enqueuedTotal, q.groups, q.consumers.length]);
  const headers = ['QUEUE', 'QUEUED', 'IN FLIGHT', 'ENQUEUED', 'GROUPS', 'CONSUMERS'];
  if (cluster) {
    headers.push('HOME');
    rows.forEach((row, index) => row.push(homeOf(queues[index]!.name)));
    for (const name of elsewhere) rows.push([name, '-', '-', '-', '-', '-', homeOf(name)]);
  }
  const sections = [`${cluster ? `node ${cluster.node}\n` : ''}${renderTable(headers, rows)}`];
  for (const queue of queues) {
    if (queue.consumers.length === 0) continue;
    sections.push(
      `\n${queue.name}\n` +
        renderTable(
          ['  CONSUMER', 'PRIORITY', 'EXCLUSIVE', 'CREDIT', 'UNSETTLED', 'GROUPS', 'CLIENT'],
          queue.consumers.map((c) => [
            `  ${c.id}`,
            c.priority,
            c.exclusive ? (c.active ? 'active' : 'waiting') : 'no',
            c.credit,
            c.unsettled,
            c.groups,
            c.client,
          ]),
        ),
    );
  }
  if (topics.length > 0) sections.push(`\n${renderTopics(topics)}`);
  return sections.join('\n');
}

function renderTopics(topics: readonly TopicReport[]): string {
  const table = renderTable(
    ['TOPIC', 'PUBLISHED', 'SUBSCRIPTIONS'],
    topics.map((t) => [t.temporary ? `${t.name} (temporary)` : t.name, t.publishedTotal, t.subscriptions.length]),
  );
  const subscriptions = topics.flatMap((t) => t.subscriptions.map((s) => ({ topic: t.name, ...s })));
  if (subscriptions.length === 0) return table;
  return `${table}\n\n${renderTable(
    ['SUBSCRIPTION', 'TOPIC', 'NAME', 'CLIENT', 'DURABLE', 'SHARED', 'CONSUMERS', 'QUEUED'],
    subscriptions.map((s) => [s.queue, s.topic, s.name ?? '-', s.clientId ?? (s.name === null ? '-' : '(global)'), yesNo(s.durable), yesNo(s.shared), s.consumers, s.queued]),
  )}`;
}

function yesNo(value: boolean): string {
  return value ? 'yes' : 'no';
}

export function renderGroups(queue: QueueReport, groups: readonly GroupView[]): string {
  const header = `${queue.name}: ${groups.length} groups, ${queue.queued} queued, ${queue.inFlight} in flight`;
  if (groups.length === 0) return header;
  return `${header}\n${renderTable(
    ['GROUP', 'OWNER', 'QUEUED', 'IN FLIGHT', 'STATE', 'WAITING FOR'],
    groups.map((g) => [g.id, g.owner ?? '-', g.queued, g.inFlight, stateOf(g), g.blockedReason ? `${g.blockedReason} (until ${g.wakesOn})` : '-']),
  )}`;
}

/** The lifecycle state, with the consumer a moving group passes to. */
function stateOf(group: GroupView): string {
  return group.state === 'moving' && group.moveTo ? `moving to ${group.moveTo}` : group.state;
}

/** `convoy cluster`: every node with its state and the queues it is home to. */
export function renderCluster(snapshot: ClusterSnapshot): string {
  const table = renderTable(
    ['NODE', 'STATE', 'ADVERTISE', 'STORES', 'QUEUES'],
    snapshot.nodes.map((node) => [
      node.id === snapshot.node ? `${node.id} *` : node.id,
      node.state,
      node.advertise ?? '-',
      node.stores.map((store) => (store.state === 'serving' ? store.id : `${store.id} (${store.state})`)).join(', ') || '-',
      node.queues.length,
    ]),
  );
  const homes = snapshot.nodes.filter((node) => node.queues.length > 0).map((node) => `${node.id}: ${node.queues.join(', ')}`);
  return [`cluster seen from node ${snapshot.node} (*)`, table, ...(homes.length > 0 ? ['', 'queues by home node', ...homes] : [])].join('\n');
}
