import { Etcd3, EtcdLeaseInvalidError, type IKeyValue, type Lease, type Watcher } from 'etcd3';
import type { Logger } from '../broker/logger';
import type { ClusterOptions } from '../config/cluster-options';
import { ClusterState, noChanges, type MutableChanges } from './cluster-state';
import { ClusterKeys, encodeRecord, type NodeRecord, type QueueRecord, type StoreRecord } from './etcd-records';
import { LeaseGuard } from './lease-guard';

/** How long past a lease time a node id may stay registered before it counts as held by a running node. */
const REGISTER_GRACE_MS = 2000;
const REGISTER_RETRY_MS = 250;

/** The node id is taken by a running node: two processes must never be one node. */
export class NodeIdInUseError extends Error {}

/** A transaction that lost: another node changed what it compared first. */
export interface TxnOutcome {
  readonly succeeded: boolean;
  readonly revision: bigint;
}

/**
 * This node's session with etcd: its lease (kept alive on a timer of our own, so that the send time of
 * every keep-alive is known to the LeaseGuard), its `nodes/<id>` key, one watch over the cluster's
 * prefix feeding a ClusterState, and the fenced transactions the cluster is built on. Each transaction
 * also requires this node's own key to still carry its lease: a node whose lease ended changes nothing.
 */
export class EtcdSession {
  readonly keys: ClusterKeys;
  readonly state: ClusterState;
  private watcher: Watcher | null = null;
  private keepAliveTimer: NodeJS.Timeout | null = null;
  private readonly listeners = new Set<(changes: MutableChanges) => void>();
  private closed = false;

  private constructor(
    private readonly client: Etcd3,
    private readonly lease: Lease,
    readonly incarnation: string,
    readonly nodeId: string,
    readonly guard: LeaseGuard,
    private readonly options: ClusterOptions,
    private readonly logger: Logger,
  ) {
    this.keys = new ClusterKeys(options.etcdPrefix);
    this.state = new ClusterState(this.keys);
  }

  /**
   * Grants the lease, registers `nodes/<id>` (refused while another process holds that id), loads the
   * cluster's keys and watches them from the revision read.
   */
  static async join(options: ClusterOptions, logger: Logger, onFenced: (reason: string) => void): Promise<EtcdSession> {
    const client = new Etcd3({ hosts: [...options.etcd], dialTimeout: Math.min(5000, options.leaseTtlMs) });
    try {
      const guard = new LeaseGuard(options.leaseTtlMs, onFenced);
      const lease = client.lease(options.leaseTtlMs / 1000, { autoKeepAlive: false });
      const sentAt = guard.clock();
      const incarnation = await withTimeout(lease.grant(), options.leaseTtlMs, `no etcd member answered at ${options.etcd.join(', ')}`);
      guard.renewed(sentAt);
      const session = new EtcdSession(client, lease, incarnation, options.nodeId, guard, options, logger);
      session.keepAlive();
      try {
        await session.register(options);
        await session.load();
      } catch (error) {
        session.closed = true;
        if (session.keepAliveTimer) clearTimeout(session.keepAliveTimer);
        throw error;
      }
      return session;
    } catch (error) {
      client.close();
      throw error;
    }
  }

  /**
   * Creates `nodes/<id>` with this life's lease. A previous life of this node that died without leaving
   * (kill -9, power cut) still holds the key until its lease ends: the registration waits for that, at
   * most a lease time and a bit; a key held longer belongs to a running node.
   */
  private async register(options: ClusterOptions): Promise<void> {
    const key = this.keys.node(this.nodeId);
    const record: NodeRecord = { incarnation: this.incarnation, advertise: formatAdvertise(options.advertise) };
    const deadline = Date.now() + options.leaseTtlMs + REGISTER_GRACE_MS;
    for (let logged = false; ; logged = true) {
      const result = await this.client
        .if(key, 'Create', '==', 0)
        .then(this.lease.put(key).value(encodeRecord(record)))
        .else(this.client.get(key))
        .commit();
      if (result.succeeded) return;
      const holder = result.responses[0]?.response_range?.kvs?.[0]?.value?.toString();
      if (Date.now() > deadline) {
        await this.lease.revoke().catch(() => undefined);
        throw new NodeIdInUseError(`node id "${this.nodeId}" is in use by a running node (${holder ?? 'unknown'}); each node needs its own --node-id`);
      }
      if (!logged) this.logger.warn({ node: this.nodeId, holder }, 'this node id is still registered (a previous run that did not leave?): waiting for its lease to end');
      await new Promise((resolve) => setTimeout(resolve, REGISTER_RETRY_MS));
    }
  }

  private async load(): Promise<void> {
    const all = await this.client.getAll().prefix(this.options.etcdPrefix).exec();
    const changes = noChanges();
    for (const kv of all.kvs) this.state.apply(kv.key.toString(), kv.value.toString(), BigInt(kv.mod_revision), changes);
    this.watcher = await this.client.watch().prefix(this.options.etcdPrefix).startRevision(String(BigInt(all.header.revision) + 1n)).create();
    this.watcher.on('data', (response) => {
      const batch = noChanges();
      for (const event of response.events) this.applyKv(event.kv, event.type === 'Delete', batch);
      this.emit(batch);
    });
    this.watcher.on('error', (error: Error) => this.logger.warn({ error: error.message }, 'etcd watch error; it reconnects'));
  }

  private applyKv(kv: IKeyValue, deleted: boolean, changes: MutableChanges): void {
    this.state.apply(kv.key.toString(), deleted ? null : kv.value.toString(), BigInt(kv.mod_revision), changes);
  }

  /** Calls back after each batch of changes from etcd (watch events, or this node's own transactions). */
  onChange(listener: (changes: MutableChanges) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(changes: MutableChanges): void {
    if (!changes.topology && changes.queues.length === 0 && changes.nodesDown.length === 0 && changes.connectionsReleased.length === 0) return;
    for (const listener of [...this.listeners]) listener(changes);
  }

  /**
   * Keep-alives on our own timer, four per TTL: the guard's window (nine tenths of the TTL from the last
   * acknowledged send) then survives two lost keep-alives and an etcd leader election. A failed one is
   * retried at once (the client moves on to another etcd member); etcd saying the lease is gone fences
   * the node.
   */
  private keepAlive(): void {
    const intervalMs = this.options.leaseTtlMs / 4;
    const once = (): void => {
      if (this.closed) return;
      const sentAt = this.guard.clock();
      this.lease.keepaliveOnce({ deadline: Date.now() + intervalMs }).then(
        (response) => {
          if (Number(response.TTL) > 0) this.guard.renewed(sentAt);
          this.schedule(once, intervalMs);
        },
        (error: Error) => {
          if (this.closed) return;
          if (error instanceof EtcdLeaseInvalidError) {
            this.guard.fence(`etcd says the lease ${this.incarnation} has ended`);
            return;
          }
          this.logger.warn({ error: error.message }, 'etcd keep-alive failed; retrying');
          this.schedule(once, Math.min(200, intervalMs));
        },
      );
    };
    this.schedule(once, intervalMs);
  }

  private schedule(run: () => void, delayMs: number): void {
    this.keepAliveTimer = setTimeout(run, delayMs);
    this.keepAliveTimer.unref();
  }

  /**
   * queues/<name> -> this node's store, unless some node claimed it first. Returns the store it lives in;
   * throws when the claim could not be made (this node's lease has ended).
   */
  async claimQueue(name: string, storeId: string): Promise<string> {
    const key = this.keys.queue(name);
    const record: QueueRecord = { store: storeId };
    const result = await this.ownTxn()
      .and(key, 'Create', '==', 0)
      .then(this.client.put(key).value(encodeRecord(record)))
      .else(this.client.get(key))
      .commit();
    const changes = noChanges();
    if (result.succeeded) {
      this.state.apply(key, encodeRecord(record), BigInt(result.header.revision), changes);
    } else {
      const kv = result.responses[0]?.response_range?.kvs?.[0];
      if (kv) this.applyKv(kv, false, changes);
    }
    this.emit(changes);
    const store = this.state.queueStore(name);
    if (store === null) throw new Error(`queue "${name}" not claimed: this node's lease has ended`);
    return store;
  }

  /** A new store (journal) owned by this node. */
  async createStore(storeId: string, record: StoreRecord): Promise<TxnOutcome> {
    return this.writeStore(storeId, record, this.ownTxn().and(this.keys.store(storeId), 'Create', '==', 0));
  }

  /**
   * Takes over every store of one owner whose life has ended, in one transaction: it succeeds only if
   * each store's record is still the one read (no other node took any meanwhile) and the owner's key no
   * longer carries that life's lease. A lost life's stores move together: the queues of a store it had
   * taken over earlier live in its own journal now.
   */
  async takeOverStores(stores: readonly { id: string; seenRevision: bigint; record: StoreRecord }[], previousOwner: string, previousIncarnation: string): Promise<TxnOutcome> {
    let txn = this.ownTxn().and(this.keys.node(previousOwner), 'Lease', '!=', previousIncarnation);
    for (const store of stores) txn = txn.and(this.keys.store(store.id), 'Mod', '==', String(store.seenRevision));
    const result = await txn.then(...stores.map((store) => this.client.put(this.keys.store(store.id)).value(encodeRecord(store.record)))).commit();
    const revision = BigInt(result.header.revision);
    if (result.succeeded) {
      const changes = noChanges();
      for (const store of stores) this.state.apply(this.keys.store(store.id), encodeRecord(store.record), revision, changes);
      this.emit(changes);
    }
    return { succeeded: result.succeeded, revision };
  }

  /** Updates a store this node owns, if its record is still the one read. */
  async updateOwnStore(storeId: string, seenRevision: bigint, record: StoreRecord): Promise<TxnOutcome> {
    return this.writeStore(storeId, record, this.ownTxn().and(this.keys.store(storeId), 'Mod', '==', String(seenRevision)));
  }

  private async writeStore(storeId: string, record: StoreRecord, txn: ReturnType<EtcdSession['ownTxn']>): Promise<TxnOutcome> {
    const key = this.keys.store(storeId);
    const result = await txn.then(this.client.put(key).value(encodeRecord(record))).commit();
    const revision = BigInt(result.header.revision);
    if (result.succeeded) {
      const changes = noChanges();
      this.state.apply(key, encodeRecord(record), revision, changes);
      this.emit(changes);
    }
    return { succeeded: result.succeeded, revision };
  }

  /** Registers an inter-node connection, attached to this node's lease. */
  async registerConnection(homeIncarnation: string, connectionId: string): Promise<string> {
    const key = this.keys.connection(homeIncarnation, this.nodeId, connectionId);
    await this.lease.put(key).value(encodeRecord({}));
    return key;
  }

  async deleteKey(key: string): Promise<void> {
    await this.client.delete().key(key);
  }

  /** Whether `key` exists, read from etcd itself (linearizable), with the revision of the read. */
  async exists(key: string): Promise<{ exists: boolean; revision: bigint }> {
    const response = await this.client.get(key).exec();
    return { exists: response.kvs.length > 0, revision: BigInt(response.header.revision) };
  }

  /** Registered connections to one life of a node, read from etcd itself. */
  async countConnectionsTo(incarnation: string): Promise<number> {
    return this.client.getAll().prefix(this.keys.connectionsTo(incarnation)).count();
  }

  /** A transaction that only commits while this node's key still carries its lease. */
  private ownTxn() {
    return this.client.if(this.keys.node(this.nodeId), 'Lease', '==', this.incarnation);
  }

  /** Leaves the cluster: the lease is revoked, so other nodes take this node's stores over at once. */
  async leave(): Promise<void> {
    this.closed = true;
    if (this.keepAliveTimer) clearTimeout(this.keepAliveTimer);
    await this.watcher?.cancel().catch(() => undefined);
    await withTimeout(this.lease.revoke(), this.options.leaseTtlMs, 'etcd did not answer the lease revocation').catch((error: Error) =>
      this.logger.warn({ error: error.message }, 'lease not revoked: it ends at its TTL'),
    );
    this.client.close();
  }

  /** Stops talking to etcd without revoking (the lease ends at its TTL): after fencing. */
  abandon(): void {
    this.closed = true;
    if (this.keepAliveTimer) clearTimeout(this.keepAliveTimer);
    this.lease.release();
    void this.watcher?.cancel().catch(() => undefined);
    this.client.close();
  }
}

export function formatAdvertise(advertise: { host: string; port: number }): string {
  return advertise.host.includes(':') ? `[${advertise.host}]:${advertise.port}` : `${advertise.host}:${advertise.port}`;
}

function withTimeout<T>(promise: Promise<T>, timeoutMs: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(message)), timeoutMs);
    }),
  ]);
}
