/**
 * What Convoy keeps in etcd, under the cluster's prefix (README, "Cluster"). No message data: only who
 * is alive, which journal (store) each queue lives in, and which node owns each store.
 *
 *   nodes/<node>                      a live node (attached to its lease: gone when the lease ends)
 *   stores/<store>                    a journal: the data dir it is in, and the node that owns it
 *   queues/<queue>                    the store a queue lives in; written once, by the first node to use it
 *   connections/<incarnation>/<node>/<id>
 *                                     an inter-node connection from <node> to that life of another node,
 *                                     registered before it carries anything (attached to <node>'s lease)
 */

export interface NodeRecord {
  /** The node's lease id: a new one every time the node starts. */
  readonly incarnation: string;
  /** host:port other nodes connect to. */
  readonly advertise: string;
}

export interface StoreRecord {
  /** The node whose data dir holds the journal. */
  readonly origin: string;
  /** The journal's directory (shared storage, reachable from every node); null: an in-memory store. */
  readonly dir: string | null;
  /** The node serving this store's queues, and which life of it. */
  readonly owner: string;
  readonly ownerIncarnation: string;
  /**
   * Lives of earlier owners whose inter-node connections must all be released before this store's
   * queues take consumers: until then other nodes' clients may hold messages those owners sent them.
   */
  readonly pendingReleases: readonly string[];
}

export interface QueueRecord {
  readonly store: string;
}

export class ClusterKeys {
  constructor(readonly prefix: string) {}

  get nodes(): string {
    return `${this.prefix}nodes/`;
  }

  get stores(): string {
    return `${this.prefix}stores/`;
  }

  get queues(): string {
    return `${this.prefix}queues/`;
  }

  get connections(): string {
    return `${this.prefix}connections/`;
  }

  node(nodeId: string): string {
    return `${this.nodes}${nodeId}`;
  }

  store(storeId: string): string {
    return `${this.stores}${storeId}`;
  }

  queue(name: string): string {
    return `${this.queues}${name}`;
  }

  /** Every registered connection to one life of a node. */
  connectionsTo(incarnation: string): string {
    return `${this.connections}${incarnation}/`;
  }

  connection(homeIncarnation: string, nodeId: string, connectionId: string): string {
    return `${this.connectionsTo(homeIncarnation)}${nodeId}/${connectionId}`;
  }
}

export function encodeRecord(record: NodeRecord | StoreRecord | QueueRecord | Record<string, never>): string {
  return JSON.stringify(record);
}

/** A record another node wrote; null when it is not one (a foreign key under our prefix is ignored). */
export function decodeNodeRecord(value: string): NodeRecord | null {
  const parsed = parse(value);
  return parsed && typeof parsed.incarnation === 'string' && typeof parsed.advertise === 'string'
    ? { incarnation: parsed.incarnation, advertise: parsed.advertise }
    : null;
}

export function decodeStoreRecord(value: string): StoreRecord | null {
  const parsed = parse(value);
  if (
    !parsed ||
    typeof parsed.origin !== 'string' ||
    (parsed.dir !== null && typeof parsed.dir !== 'string') ||
    typeof parsed.owner !== 'string' ||
    typeof parsed.ownerIncarnation !== 'string' ||
    !Array.isArray(parsed.pendingReleases) ||
    !parsed.pendingReleases.every((entry) => typeof entry === 'string')
  ) {
    return null;
  }
  return {
    origin: parsed.origin,
    dir: parsed.dir as string | null,
    owner: parsed.owner,
    ownerIncarnation: parsed.ownerIncarnation,
    pendingReleases: parsed.pendingReleases as string[],
  };
}

export function decodeQueueRecord(value: string): QueueRecord | null {
  const parsed = parse(value);
  return parsed && typeof parsed.store === 'string' ? { store: parsed.store } : null;
}

function parse(value: string): Record<string, unknown> | null {
  try {
    const parsed: unknown = JSON.parse(value);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
