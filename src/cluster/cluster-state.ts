import type { NodeAddress } from '../broker/cluster-services';
import {
  decodeNodeRecord,
  decodeQueueRecord,
  decodeStoreRecord,
  type ClusterKeys,
  type NodeRecord,
  type QueueRecord,
  type StoreRecord,
} from './etcd-records';

/** Deleted connection registrations remembered for releasedSince. */
const MAX_RELEASED_REMEMBERED = 10_000;

/** A key's value and the etcd revision that wrote it (mod_revision); revisions order every change. */
interface Versioned<T> {
  readonly value: T;
  readonly revision: bigint;
}

export interface StoreEntry {
  readonly id: string;
  readonly record: StoreRecord;
  /** mod_revision of the store's key: takeovers compare it (a fenced transaction). */
  readonly revision: bigint;
}

/** Where a queue lives, as far as etcd says. */
export type QueueLocation =
  | { readonly state: 'unknown' }
  /** Its store's owner is alive. */
  | { readonly state: 'live'; readonly store: StoreEntry; readonly node: NodeAddress }
  /** Its store's owner is gone (or its record is missing): the store waits to be taken over. */
  | { readonly state: 'down'; readonly store: string };

/**
 * This node's copy of the cluster's keys in etcd, fed by one watch (and by the answers of its own
 * transactions). Every change carries the revision that made it: an older one never overwrites a newer
 * one, so a transaction's answer and the watch event of the same write can arrive in either order.
 */
export class ClusterState {
  private readonly nodes = new Map<string, Versioned<NodeRecord | null>>();
  private readonly stores = new Map<string, Versioned<StoreRecord | null>>();
  private readonly queues = new Map<string, Versioned<QueueRecord | null>>();
  /** Registered connections (key -> revision of the registration). */
  private readonly connections = new Map<string, bigint>();
  /** Registrations deleted lately (key -> revision of the deletion), the latest MAX_RELEASED_REMEMBERED. */
  private readonly released = new Map<string, bigint>();

  constructor(private readonly keys: ClusterKeys) {}

  /** Applies a put (value) or delete (null) of `key` made at `revision`; returns what it changed. */
  apply(key: string, value: string | null, revision: bigint, changes: MutableChanges): void {
    if (key.startsWith(this.keys.nodes)) {
      const id = key.slice(this.keys.nodes.length);
      const before = this.nodes.get(id);
      if (before && before.revision > revision) return;
      const record = value === null ? null : decodeNodeRecord(value);
      this.nodes.set(id, { value: record, revision });
      if (before?.value && before.value.incarnation !== record?.incarnation) changes.nodesDown.push({ nodeId: id, incarnation: before.value.incarnation });
      changes.topology = true;
    } else if (key.startsWith(this.keys.stores)) {
      const id = key.slice(this.keys.stores.length);
      const before = this.stores.get(id);
      if (before && before.revision > revision) return;
      this.stores.set(id, { value: value === null ? null : decodeStoreRecord(value), revision });
      changes.topology = true;
    } else if (key.startsWith(this.keys.queues)) {
      const name = key.slice(this.keys.queues.length);
      const before = this.queues.get(name);
      if (before && before.revision > revision) return;
      this.queues.set(name, { value: value === null ? null : decodeQueueRecord(value), revision });
      changes.queues.push(name);
    } else if (key.startsWith(this.keys.connections)) {
      const newest = this.connections.get(key) ?? this.released.get(key);
      if (newest !== undefined && newest > revision) return;
      if (value !== null) {
        this.released.delete(key);
        this.connections.set(key, revision);
        return;
      }
      this.connections.delete(key);
      if (!this.released.has(key)) changes.connectionsReleased.push(key);
      this.released.delete(key);
      this.released.set(key, revision);
      if (this.released.size > MAX_RELEASED_REMEMBERED) this.released.delete(this.released.keys().next().value!);
    }
  }

  node(nodeId: string): NodeAddress | null {
    const record = this.nodes.get(nodeId)?.value;
    return record ? nodeAddress(nodeId, record) : null;
  }

  liveNodes(): NodeAddress[] {
    const live: NodeAddress[] = [];
    for (const [id, entry] of this.nodes) if (entry.value) live.push(nodeAddress(id, entry.value));
    return live;
  }

  store(storeId: string): StoreEntry | null {
    const entry = this.stores.get(storeId);
    return entry?.value ? { id: storeId, record: entry.value, revision: entry.revision } : null;
  }

  allStores(): StoreEntry[] {
    const all: StoreEntry[] = [];
    for (const id of this.stores.keys()) {
      const store = this.store(id);
      if (store) all.push(store);
    }
    return all;
  }

  /** The store's owner is not alive in that life: the store is waiting to be taken over. */
  isOrphaned(store: StoreEntry): boolean {
    return this.nodes.get(store.record.owner)?.value?.incarnation !== store.record.ownerIncarnation;
  }

  queueStore(name: string): string | null {
    return this.queues.get(name)?.value?.store ?? null;
  }

  allQueues(): [name: string, store: string][] {
    const all: [string, string][] = [];
    for (const [name, entry] of this.queues) if (entry.value) all.push([name, entry.value.store]);
    return all;
  }

  locate(queue: string): QueueLocation {
    const storeId = this.queueStore(queue);
    if (storeId === null) return { state: 'unknown' };
    const store = this.store(storeId);
    if (!store || this.isOrphaned(store)) return { state: 'down', store: storeId };
    return { state: 'live', store, node: this.node(store.record.owner)! };
  }

  /** Registered connections to one life of a node that are not released yet. */
  openConnectionsTo(incarnation: string): number {
    const prefix = this.keys.connectionsTo(incarnation);
    let open = 0;
    for (const key of this.connections.keys()) if (key.startsWith(prefix)) open++;
    return open;
  }

  /**
   * The registration `key` was deleted at a revision after `revision` (what a read of etcd at `revision`
   * could not see yet). Only the latest deletions are remembered: enough for the moments between a read
   * and the watch event of the deletion.
   */
  releasedSince(key: string, revision: bigint): boolean {
    const deletedAt = this.released.get(key);
    return deletedAt !== undefined && deletedAt > revision;
  }
}

export interface MutableChanges {
  queues: string[];
  topology: boolean;
  nodesDown: { nodeId: string; incarnation: string }[];
  connectionsReleased: string[];
}

export function noChanges(): MutableChanges {
  return { queues: [], topology: false, nodesDown: [], connectionsReleased: [] };
}

function nodeAddress(nodeId: string, record: NodeRecord): NodeAddress {
  const separator = record.advertise.lastIndexOf(':');
  const host = record.advertise.slice(0, separator).replace(/^\[(.*)\]$/, '$1');
  return { nodeId, incarnation: record.incarnation, host, port: Number(record.advertise.slice(separator + 1)) };
}
