import type { IncomingMessage } from 'node:http';
import { AdminActionError, deleteQueue, purgeQueue, releaseGroup, retryDeadLetters } from '../broker/admin-actions';
import type { Logger } from '../broker/logger';
import type { BrokerRuntime } from '../broker/runtime';
import type { QueueCounts } from '../broker/queue-counters';
import { findGroup, groupPage, queueView, type ConsumerView, type GroupView } from '../core/inspect';
import type { Queue } from '../core/types';
import type { ConnectionReport, ConsumerLinkReport } from '../amqp';
import { HttpError, optionalCount, optionalString, readJsonBody } from './http-error';

/** The AMQP connections, listed and closed through the AMQP layer's public surface. */
export interface ConnectionDirectory {
  connections(): ConnectionReport[];
  closeConnection(id: string, description: string): boolean;
  connectionCount(): number;
}

export interface ApiServices {
  readonly runtime: BrokerRuntime;
  readonly connections: ConnectionDirectory;
  readonly logger: Logger;
  readonly maxRequestBytes: number;
  readonly maxGroupsPerPage: number;
  readonly maxGroupsScannedPerPage: number;
}

export interface ApiRequest {
  readonly request: IncomingMessage;
  readonly url: URL;
  /** The path's `:name` segments, decoded. */
  readonly params: Readonly<Record<string, string>>;
  /** Who acts ('anonymous' without users). */
  readonly user: string;
}

interface Route {
  readonly method: 'GET' | 'POST' | 'DELETE';
  /** Path segments after /api/; `:name` matches one segment. */
  readonly path: readonly string[];
  handle(services: ApiServices, request: ApiRequest): unknown;
}

/** A consumer as `/api/queues` shows it: the core's view with the client it belongs to (null: not an AMQP link). */
export type ConsumerEntry = ConsumerView & {
  readonly connection: string | null;
  readonly container: string | null;
  readonly remote: string | null;
  readonly user: string | null;
  readonly link: string | null;
  readonly address: string | null;
};

export interface QueueEntry {
  readonly name: string;
  readonly messages: number;
  readonly inFlight: number;
  readonly exclusive: boolean;
  readonly deadLetterQueue: string;
  /** Some queue names this one as its dead-letter queue. */
  readonly isDeadLetterQueue: boolean;
  readonly groups: { readonly total: number; readonly owned: number; readonly unassigned: number; readonly blocked: number };
  readonly counters: QueueCounts;
  readonly consumers: readonly ConsumerEntry[];
}

const DEFAULT_GROUPS_PER_PAGE = 100;

const ROUTES: readonly Route[] = [
  { method: 'GET', path: ['overview'], handle: overview },
  { method: 'GET', path: ['queues'], handle: (services) => ({ queues: queueEntries(services) }) },
  { method: 'GET', path: ['queues', ':queue'], handle: (services, { params }) => queueEntries(services, existingQueue(services, params.queue!))[0] },
  { method: 'DELETE', path: ['queues', ':queue'], handle: removeQueue },
  { method: 'GET', path: ['queues', ':queue', 'groups'], handle: groups },
  { method: 'GET', path: ['queues', ':queue', 'groups', ':group'], handle: group },
  { method: 'POST', path: ['queues', ':queue', 'purge'], handle: purge },
  { method: 'POST', path: ['queues', ':queue', 'dlq-retry'], handle: dlqRetry },
  { method: 'POST', path: ['queues', ':queue', 'groups', ':group', 'release'], handle: release },
  { method: 'GET', path: ['connections'], handle: (services) => ({ connections: services.connections.connections() }) },
  { method: 'DELETE', path: ['connections', ':connection'], handle: closeConnection },
];

/** Finds the route for `/api/<segments>`; a known path with another method is 405. */
export function findRoute(method: string, segments: readonly string[]): { route: Route; params: Record<string, string> } {
  let pathKnown = false;
  for (const route of ROUTES) {
    const params = match(route.path, segments);
    if (params === null) continue;
    pathKnown = true;
    if (route.method === method) return { route, params };
  }
  if (pathKnown) throw new HttpError(405, `${method} is not allowed here`);
  throw new HttpError(404, `no such API path: /api/${segments.join('/')}`);
}

export async function handleApi(services: ApiServices, route: Route, request: ApiRequest): Promise<unknown> {
  try {
    return await route.handle(services, request);
  } catch (error) {
    if (error instanceof AdminActionError) throw new HttpError(error.kind === 'not-found' ? 404 : 409, error.message);
    throw error;
  }
}

function match(pattern: readonly string[], segments: readonly string[]): Record<string, string> | null {
  if (pattern.length !== segments.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const part = pattern[i]!;
    if (part.startsWith(':')) params[part.slice(1)] = segments[i]!;
    else if (part !== segments[i]) return null;
  }
  return params;
}

function overview(services: ApiServices, { user }: ApiRequest): unknown {
  const { runtime } = services;
  return {
    user,
    queues: runtime.state.queues.size,
    consumers: runtime.state.consumers.size,
    connections: services.connections.connectionCount(),
    journalBytes: runtime.diskBytes(),
    messageMemoryBytes: runtime.memoryBytesInUse(),
  };
}

/** Every queue (or the given ones), by name, with counters and consumers. */
function queueEntries(services: ApiServices, only?: Queue): QueueEntry[] {
  const { runtime } = services;
  const consumerLinks = new Map<string, { connection: ConnectionReport; link: ConsumerLinkReport }>();
  for (const connection of services.connections.connections()) {
    for (const link of connection.consumers) consumerLinks.set(link.consumerId, { connection, link });
  }
  const deadLetterQueues = new Set<string>();
  for (const queue of runtime.state.queues.values()) deadLetterQueues.add(queue.options.deadLetterQueue);
  const queues = only ? [only] : [...runtime.state.queues.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return queues.map((queue) => {
    const view = queueView(queue);
    return {
      name: queue.name,
      messages: view.queued,
      inFlight: view.inFlight,
      exclusive: queue.options.exclusive,
      deadLetterQueue: queue.options.deadLetterQueue,
      isDeadLetterQueue: deadLetterQueues.has(queue.name),
      groups: { total: view.groups, owned: view.groupsOwned, unassigned: view.groups - view.groupsOwned, blocked: view.groupsBlocked },
      counters: { ...runtime.counters.of(queue.name) },
      consumers: view.consumers.map((consumer) => {
        const known = consumerLinks.get(consumer.id);
        return {
          ...consumer,
          connection: known?.connection.id ?? null,
          container: known?.connection.container ?? null,
          remote: known?.connection.remote ?? null,
          user: known?.connection.user ?? null,
          link: known?.link.link ?? null,
          address: known?.link.address ?? null,
        };
      }),
    };
  });
}

function groups(services: ApiServices, { params, url }: ApiRequest): unknown {
  const queue = existingQueue(services, params.queue!);
  const limit = optionalCount(url.searchParams.get('limit'), 'limit') ?? DEFAULT_GROUPS_PER_PAGE;
  if (limit < 1 || limit > services.maxGroupsPerPage) throw new HttpError(400, `limit must be from 1 to ${services.maxGroupsPerPage} (http.maxGroupsPerPage)`);
  const after = url.searchParams.get('after') || null;
  const page = groupPage(queue, { prefix: url.searchParams.get('prefix') ?? '', after, limit, maxScanned: services.maxGroupsScannedPerPage });
  if ('afterGone' in page) throw new HttpError(410, `group "${after}" is no longer known (forgotten): start again without after`);
  return { queue: queue.name, total: queue.groups.size, groups: page.groups, next: page.next, scanned: page.scanned };
}

function group(services: ApiServices, { params }: ApiRequest): GroupView {
  const queue = existingQueue(services, params.queue!);
  const view = findGroup(queue, params.group!);
  if (view === null) throw new HttpError(404, `queue "${queue.name}" has no group "${params.group}" (a group is forgotten once it has no owner and nothing queued)`);
  return view;
}

async function purge(services: ApiServices, request: ApiRequest): Promise<unknown> {
  await readJsonBody(request.request, services.maxRequestBytes);
  const result = purgeQueue(services.runtime, request.params.queue!);
  logAction(services, request, 'purge', { queue: request.params.queue, ...result });
  return { queue: request.params.queue, ...result };
}

async function dlqRetry(services: ApiServices, request: ApiRequest): Promise<unknown> {
  const body = await readJsonBody(request.request, services.maxRequestBytes);
  const from = optionalString(body.from, 'from');
  const limit = optionalCount(body.limit, 'limit');
  const result = retryDeadLetters(services.runtime, request.params.queue!, from, limit);
  logAction(services, request, 'dlq-retry', { queue: request.params.queue, from, limit, ...result });
  return { queue: request.params.queue, ...result };
}

async function release(services: ApiServices, request: ApiRequest): Promise<unknown> {
  await readJsonBody(request.request, services.maxRequestBytes);
  const { queue, group: groupId } = request.params;
  const result = releaseGroup(services.runtime, queue!, groupId!);
  logAction(services, request, 'release-group', { queue, group: groupId, released: result.released });
  return { queue, ...result };
}

async function removeQueue(services: ApiServices, request: ApiRequest): Promise<unknown> {
  await readJsonBody(request.request, services.maxRequestBytes);
  const result = deleteQueue(services.runtime, request.params.queue!);
  logAction(services, request, 'delete-queue', { queue: request.params.queue, messages: result.messages });
  return { queue: request.params.queue, ...result };
}

function closeConnection(services: ApiServices, request: ApiRequest): unknown {
  const id = request.params.connection!;
  if (!services.connections.closeConnection(id, `closed by operator ${request.user}`)) throw new HttpError(404, `no open connection "${id}"`);
  logAction(services, request, 'close-connection', { connection: id });
  return { connection: id, closed: true };
}

function existingQueue(services: ApiServices, name: string): Queue {
  const queue = services.runtime.state.queues.get(name);
  if (queue === undefined) throw new HttpError(404, `no queue named "${name}"`);
  return queue;
}

function logAction(services: ApiServices, request: ApiRequest, action: string, details: Record<string, unknown>): void {
  services.logger.info({ user: request.user, remote: request.request.socket.remoteAddress, action, ...details }, 'operator action');
}
