import type { QueueReport } from '../broker/runtime';
import type { TopicReport } from '../broker/topics';
import type { GroupView } from '../core/inspect';

/** Plain-text tables for the operator commands. */
export function renderTable(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((row) => row.map(String))];
  const widths = headers.map((_, column) => Math.max(...cells.map((row) => row[column]!.length)));
  return cells.map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()).join('\n');
}

/** Queues (a subscription's queue is named `<topic>::<subscription>`), then topics and their subscriptions. */
export function renderQueues(queues: readonly QueueReport[], topics: readonly TopicReport[]): string {
  if (queues.length === 0 && topics.length === 0) return 'no queues';
  const sections = [
    renderTable(
      ['QUEUE', 'QUEUED', 'IN FLIGHT', 'ENQUEUED', 'GROUPS', 'CONSUMERS'],
      queues.map((q) => [q.name, q.queued, q.inFlight, q.enqueuedTotal, q.groups, q.consumers.length]),
    ),
  ];
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
