import { existsSync, readFileSync, writeSync } from 'node:fs';
import type {
  ClusterNodeView,
  ClusterServices,
  ClusterSnapshot,
  ConnectionRegistration,
  LinkPurpose,
  NodeAddress,
  PeerIdentity,
  QueueHome,
} from '../broker/cluster-services';
import type { Logger } from '../broker/logger';
import type { BrokerRuntime } from '../broker/runtime';
import type { ClusterJournal } from '../broker/store-factory';
import type { ClusterOptions } from '../config/cluster-options';
import type { BrokerOptions } from '../config/options';
import { ConfigError } from '../config/validation';
import type { MutableChanges, StoreEntry } from './cluster-state';
import type { StoreRecord } from './etcd-records';
import { EtcdSession, formatAdvertise } from './etcd-session';
import { FencedError } from './lease-guard';
import { fenceStoreDir, removeTakenDir, storeDir, storeDirReachable } from './store-dirs';
import { copyTakenJournal } from './taken-journal';

/** The exit status of a node that fenced itself (EX_TEMPFAIL): a supervisor starts it again. */
export const FENCED_EXIT_CODE = 75;

/**
 * A store this node owns but whose queues are not fully served yet:
 * - recovering: a lost node's messages are being copied in; nothing is served;
 * - opening: producers are served; consumers wait until every connection to the lost owner is released.
 */
type StoreGate = 'recovering' | 'opening';

/**
 * One node of a Convoy cluster (README, "Cluster"): membership and the queues' homes on etcd, taking
 * over the stores of lost nodes, and self-fencing. It answers the AMQP layer's questions
 * (ClusterServices) from its copy of etcd's keys, without a round trip, except for a queue nobody has
 * claimed yet.
 */
export class ClusterNode implements ClusterServices {
  readonly nodeId: string;
  readonly releaseTimeoutMs: number;
  readonly interNode: ClusterServices['interNode'];
  /** The store (journal) this node writes: its own. */
  private ownStoreId!: string;
  /** The journal directory and write check the runtime's store is created with; null for a memory store. */
  journal: ClusterJournal | null = null;
  private runtime: BrokerRuntime | null = null;
  private readonly gates = new Map<string, StoreGate>();
  private readonly claims = new Set<string>();
  private readonly subscribers = new Map<string, Set<() => void>>();
  private readonly nodeDownListeners = new Set<(nodeId: string) => void>();
  private readonly releaseWaiters = new Map<string, Set<() => void>>();
  private takeoversRunning = false;
  private takeoversAgain = false;
  private readonly unreachableStores = new Set<string>();
  private readonly opening = new Set<string>();
  /** Stores of this node's previous life taken back at start, to copy once the runtime is up. */
  private toCopy: { readonly stores: readonly StoreEntry[]; readonly revision: bigint } | null = null;
  private nextConnection = 1;
  private stopped = false;
  /** Fences the node on time even when it writes nothing. */
  private checkTimer: NodeJS.Timeout | null = null;

  private constructor(
    private readonly session: EtcdSession,
    options: ClusterOptions,
    private readonly broker: BrokerOptions,
    private readonly logger: Logger,
    password: string | null,
  ) {
    this.nodeId = options.nodeId;
    this.releaseTimeoutMs = options.releaseTimeoutMs;
    this.interNode = { user: options.user, password, tls: options.tls, linksPerConnection: options.linksPerConnection };
  }

  get incarnation(): string {
    return this.session.incarnation;
  }

  /**
   * Joins the cluster and picks the store this node writes: its own journal from an earlier life, if
   * no other node took it over meanwhile, or a new empty one. Before the runtime recovers it.
   */
  static async join(broker: BrokerOptions, logger: Logger, onFenced: (reason: string) => void = exitFenced(logger)): Promise<ClusterNode> {
    const options = broker.cluster!;
    const log = logger.child({ component: 'cluster' });
    const password = clusterPassword(options);
    const session = await EtcdSession.join(options, log, onFenced);
    const node = new ClusterNode(session, options, broker, log, password);
    try {
      await node.chooseOwnStore();
    } catch (error) {
      await session.leave();
      throw error;
    }
    session.onChange((changes) => node.changed(changes));
    node.checkTimer = setInterval(() => session.guard.fenceIfExpired(), Math.max(50, options.leaseTtlMs / 20));
    node.checkTimer.unref();
    log.info(
      { node: node.nodeId, incarnation: node.incarnation, advertise: formatAdvertise(options.advertise), store: node.ownStoreId, leaseTtlMs: options.leaseTtlMs },
      'joined the cluster',
    );
    return node;
  }

  /** Throws FencedError (after fencing the node) once the lease may have ended: before every write. */
  readonly checkLease = (): void => this.session.guard.check();

  /**
   * This node's own journal from its previous life, if no other node took that life's stores over
   * meanwhile: the node takes them all back (one transaction), resumes its own journal in place, and
   * copies the others (stores that life had taken over) once the runtime is up. Otherwise a new, empty
   * store.
   */
  private async chooseOwnStore(): Promise<void> {
    const state = this.session.state;
    const previousLife = state.allStores().filter((store) => store.record.owner === this.nodeId && state.isOrphaned(store));
    const earlier = previousLife.find(
      (store) =>
        this.broker.store === 'journal' &&
        store.record.origin === this.nodeId &&
        store.record.dir === storeDir(this.broker.dataDir, store.id) &&
        existsSync(store.record.dir),
    );
    if (earlier) {
      const others = previousLife.filter((store) => store !== earlier);
      for (const store of others) this.gates.set(store.id, 'recovering');
      const outcome = await this.claimStores(previousLife);
      if (outcome.succeeded) {
        this.useOwnStore(earlier.id, earlier.record.dir!);
        this.gates.set(earlier.id, 'opening');
        this.toCopy = { stores: others, revision: outcome.revision };
        this.logger.info({ store: earlier.id, takenBack: others.map((store) => store.id) }, 'resuming this node\'s journal from its previous run');
        return;
      }
      for (const store of others) this.gates.delete(store.id);
    }
    const storeId = `${this.nodeId}-${BigInt(this.incarnation).toString(16)}`;
    const dir = this.broker.store === 'journal' ? storeDir(this.broker.dataDir, storeId) : null;
    const record: StoreRecord = { origin: this.nodeId, dir, owner: this.nodeId, ownerIncarnation: this.incarnation, pendingReleases: [] };
    const outcome = await this.session.createStore(storeId, record);
    if (!outcome.succeeded) throw new Error(`cannot register store ${storeId} in etcd: the lease ended while joining`);
    this.useOwnStore(storeId, dir);
  }

  /** Makes this node the owner of all the stores of one lost life at once (a fenced transaction). */
  private claimStores(stores: readonly StoreEntry[]) {
    const { owner, ownerIncarnation } = stores[0]!.record;
    return this.session.takeOverStores(
      stores.map((store) => ({ id: store.id, seenRevision: store.revision, record: this.takenRecord(store) })),
      owner,
      ownerIncarnation,
    );
  }

  private useOwnStore(storeId: string, dir: string | null): void {
    this.ownStoreId = storeId;
    this.journal = dir === null ? null : { dir, beforeWrite: this.checkLease };
  }

  /** The record of a store once this node has taken it over from its (lost) owner. */
  private takenRecord(store: StoreEntry): StoreRecord {
    const pendingReleases = [...new Set([...store.record.pendingReleases, store.record.ownerIncarnation])];
    return { ...store.record, owner: this.nodeId, ownerIncarnation: this.incarnation, pendingReleases };
  }

  /**
   * The runtime has recovered this node's own journal: from now on queues are claimed, lost nodes'
   * stores taken over, and writes checked against the lease.
   */
  attachRuntime(runtime: BrokerRuntime): void {
    this.runtime = runtime;
    runtime.turn.guardWith(this.checkLease);
    runtime.onQueueCreated((queue) => this.claimIfUnknown(queue));
    for (const queue of runtime.state.queues.keys()) this.claimIfUnknown(queue);
    for (const [storeId, gate] of this.gates) if (gate === 'opening') this.open(storeId);
    const toCopy = this.toCopy;
    this.toCopy = null;
    if (toCopy && toCopy.stores.length > 0) {
      this.takeoversRunning = true;
      void this.copyStores(toCopy.stores, toCopy.revision, Date.now())
        .catch((error: unknown) => {
          if (!(error instanceof FencedError)) this.logger.error({ err: error }, 'copying the stores of this node\'s previous run failed');
        })
        .finally(() => {
          this.takeoversRunning = false;
          this.scheduleTakeovers();
        });
    } else {
      this.scheduleTakeovers();
    }
  }

  // ---- ClusterServices ----

  homeOf(queue: string, purpose: LinkPurpose): QueueHome {
    const location = this.session.state.locate(queue);
    switch (location.state) {
      case 'unknown':
        this.claimIfUnknown(queue);
        return { kind: 'waiting', reason: 'claiming the queue in etcd' };
      case 'down':
        return { kind: 'waiting', reason: `the node serving store ${location.store} is lost; waiting for another node to take it over` };
      case 'live': {
        if (location.node.nodeId !== this.nodeId || location.node.incarnation !== this.incarnation) return { kind: 'remote', node: location.node };
        const gate = this.gates.get(location.store.id);
        if (gate === 'recovering') return { kind: 'waiting', reason: 'copying the messages of a lost node' };
        if (gate === 'opening' && purpose === 'consume') {
          return { kind: 'waiting', reason: 'waiting until every node has let go of the messages its clients received from the lost node' };
        }
        return { kind: 'local' };
      }
    }
  }

  subscribe(queue: string, listener: () => void): () => void {
    let listeners = this.subscribers.get(queue);
    if (!listeners) {
      listeners = new Set();
      this.subscribers.set(queue, listeners);
    }
    listeners.add(listener);
    return () => {
      listeners.delete(listener);
      if (listeners.size === 0) this.subscribers.delete(queue);
    };
  }

  queueExists(queue: string): boolean {
    return this.session.state.queueStore(queue) !== null || (this.runtime?.state.queues.has(queue) ?? false);
  }

  async registerConnection(home: NodeAddress): Promise<ConnectionRegistration> {
    const connectionId = String(this.nextConnection++);
    const key = await this.session.registerConnection(home.incarnation, connectionId);
    let released = false;
    return {
      connectionId,
      release: () => {
        if (released) return;
        released = true;
        this.session.deleteKey(key).catch((error: Error) =>
          this.logger.warn({ error: error.message, connection: key }, 'releasing an inter-node connection failed; it is released when this node\'s lease ends'),
        );
      },
    };
  }

  checkPeer(peer: PeerIdentity): string | null {
    if (peer.homeIncarnation !== this.incarnation) {
      return `node ${this.nodeId} is now incarnation ${this.incarnation}, not ${peer.homeIncarnation}: the node you meant is gone`;
    }
    return null;
  }

  async whenReleased(peer: PeerIdentity): Promise<void> {
    const key = this.session.keys.connection(this.incarnation, peer.nodeId, peer.connectionId);
    const read = await this.session.exists(key);
    if (!read.exists || this.session.state.releasedSince(key, read.revision)) return;
    await new Promise<void>((resolve) => {
      let waiters = this.releaseWaiters.get(key);
      if (!waiters) {
        waiters = new Set();
        this.releaseWaiters.set(key, waiters);
      }
      waiters.add(resolve);
    });
  }

  onNodeDown(listener: (nodeId: string) => void): () => void {
    this.nodeDownListeners.add(listener);
    return () => this.nodeDownListeners.delete(listener);
  }

  snapshot(): ClusterSnapshot {
    const state = this.session.state;
    const views = new Map<string, { stores: ClusterNodeView['stores'][number][]; queues: string[] }>();
    const viewOf = (id: string) => {
      let view = views.get(id);
      if (!view) {
        view = { stores: [], queues: [] };
        views.set(id, view);
      }
      return view;
    };
    for (const node of state.liveNodes()) viewOf(node.nodeId);
    const ownerOfStore = new Map<string, string>();
    for (const store of state.allStores()) {
      ownerOfStore.set(store.id, store.record.owner);
      const opening = store.record.pendingReleases.length > 0 || this.gates.has(store.id);
      viewOf(store.record.owner).stores.push({ id: store.id, state: opening ? 'opening' : 'serving' });
    }
    for (const [queue, store] of state.allQueues()) {
      const owner = ownerOfStore.get(store);
      if (owner !== undefined) viewOf(owner).queues.push(queue);
    }
    const nodes = [...views]
      .map(([id, view]): ClusterNodeView => {
        const address = state.node(id);
        return {
          id,
          state: address ? 'live' : 'down',
          advertise: address ? formatAdvertise(address) : null,
          incarnation: address?.incarnation ?? null,
          stores: view.stores.sort((a, b) => a.id.localeCompare(b.id)),
          queues: view.queues.sort(),
        };
      })
      .sort((a, b) => a.id.localeCompare(b.id));
    return { node: this.nodeId, nodes };
  }

  // ---- reacting to etcd ----

  private changed(changes: MutableChanges): void {
    for (const key of changes.connectionsReleased) {
      const waiters = this.releaseWaiters.get(key);
      this.releaseWaiters.delete(key);
      for (const resolve of waiters ?? []) resolve();
    }
    for (const { nodeId, incarnation } of changes.nodesDown) {
      this.logger.warn({ node: nodeId, incarnation }, 'node lost (its etcd lease ended)');
      for (const listener of [...this.nodeDownListeners]) listener(nodeId);
    }
    if (changes.topology || changes.nodesDown.length > 0) {
      this.notifyAll();
      this.scheduleTakeovers();
    } else {
      for (const queue of changes.queues) this.notify(queue);
    }
    if (changes.connectionsReleased.length > 0 || changes.topology) for (const storeId of this.gates.keys()) this.open(storeId);
  }

  private notify(queue: string): void {
    for (const listener of [...(this.subscribers.get(queue) ?? [])]) listener();
  }

  private notifyAll(): void {
    for (const queue of [...this.subscribers.keys()]) this.notify(queue);
  }

  /** A queue this node uses that no node has claimed: it becomes this node's (its own store). */
  private claimIfUnknown(queue: string): void {
    if (this.stopped || this.claims.has(queue) || this.session.state.queueStore(queue) !== null) return;
    this.claims.add(queue);
    this.session.claimQueue(queue, this.ownStoreId).then(
      (store) => {
        this.claims.delete(queue);
        if (store === this.ownStoreId) this.logger.info({ queue }, 'queue claimed: this node is its home');
        this.notify(queue);
      },
      (error: unknown) => {
        this.claims.delete(queue);
        if (error instanceof FencedError || this.stopped) return;
        this.logger.warn({ queue, error: (error as Error).message }, 'claiming a queue failed; retrying');
        setTimeout(() => this.claimIfUnknown(queue), 200).unref();
        this.notify(queue);
      },
    );
  }

  // ---- taking over lost nodes' stores ----

  private scheduleTakeovers(): void {
    if (this.runtime === null || this.stopped) return;
    if (this.takeoversRunning) {
      this.takeoversAgain = true;
      return;
    }
    this.takeoversRunning = true;
    void this.takeOverOrphans().finally(() => {
      this.takeoversRunning = false;
      if (this.takeoversAgain) {
        this.takeoversAgain = false;
        this.scheduleTakeovers();
      }
    });
  }

  /**
   * The stores of every owner whose life has ended, one lost life after the other. A lost life's stores
   * move together: the queues of a store it had taken over earlier live in its own journal now, so they
   * are only complete once all of its stores are copied.
   */
  private async takeOverOrphans(): Promise<void> {
    const state = this.session.state;
    const lives = new Map<string, StoreEntry[]>();
    for (const store of state.allStores()) {
      if (!state.isOrphaned(store)) continue;
      const life = `${store.record.owner}/${store.record.ownerIncarnation}`;
      lives.set(life, [...(lives.get(life) ?? []), store]);
    }
    for (const stores of lives.values()) {
      if (this.stopped) return;
      const unreachable = stores.filter((store) => store.record.dir !== null && !storeDirReachable(store.record.dir));
      if (unreachable.length > 0) {
        for (const store of unreachable) {
          if (this.unreachableStores.has(store.id)) continue;
          this.unreachableStores.add(store.id);
          this.logger.error(
            { store: store.id, dir: store.record.dir },
            'cannot reach the data dir of a lost node\'s store: its queues stay unavailable until a node that can reach it takes it over',
          );
        }
        continue;
      }
      try {
        await this.takeOver(stores);
      } catch (error) {
        if (error instanceof FencedError) return;
        for (const store of stores) this.gates.delete(store.id);
        this.logger.error({ stores: stores.map((store) => store.id), err: error }, 'taking over a lost node\'s stores failed; retrying');
        setTimeout(() => this.scheduleTakeovers(), 1000).unref();
      }
    }
  }

  /**
   * Takes a lost life's stores over: a fenced transaction makes this node their owner (at most one node
   * wins), then they are copied (copyStores). Nothing of theirs is served meanwhile.
   */
  private async takeOver(stores: readonly StoreEntry[]): Promise<void> {
    this.checkLease();
    for (const store of stores) this.gates.set(store.id, 'recovering');
    const outcome = await this.claimStores(stores);
    if (!outcome.succeeded) {
      for (const store of stores) this.gates.delete(store.id);
      return;
    }
    const { owner, ownerIncarnation } = stores[0]!.record;
    this.logger.warn({ stores: stores.map((store) => store.id), from: owner, incarnation: ownerIncarnation }, 'taking over a lost node\'s stores');
    await this.copyStores(stores, outcome.revision, Date.now());
  }

  /**
   * Each store's directory is fenced (renamed) and its durable messages copied into this node's queues
   * and journal, in order; once they are durable here the old files are deleted. Only then do the
   * stores' queues serve producers, and consumers once every node has released its connections to the
   * lost owner (open).
   */
  private async copyStores(stores: readonly StoreEntry[], takeoverRevision: bigint, startedMs: number): Promise<void> {
    const runtime = this.runtime!;
    const dirs = stores.flatMap((store) => (store.record.dir === null ? [] : fenceStoreDir(store.record.dir, takeoverRevision)));
    let copied = { queues: 0, messages: 0 };
    for (const dir of dirs) {
      const result = await copyTakenJournal(dir, runtime, this.logger, this.checkLease);
      copied = { queues: copied.queues + result.queues, messages: copied.messages + result.messages };
    }
    await new Promise<void>((resolve) => runtime.whenDurable(resolve));
    this.checkLease();
    for (const dir of dirs) removeTakenDir(dir);
    for (const store of stores) this.gates.set(store.id, 'opening');
    this.logger.warn({ stores: stores.map((store) => store.id), ...copied, copyMs: Date.now() - startedMs }, 'stores taken over: their queues are served by this node');
    this.notifyAll();
    for (const store of stores) this.open(store.id);
  }

  /**
   * Consumers of a store taken over wait until no connection to any earlier owner's life is registered
   * any more: every other node's clients have settled (or been detached from) the messages those owners
   * sent them, so no group can be held twice. Checked against etcd itself before opening.
   */
  private open(storeId: string): void {
    if (this.opening.has(storeId) || this.gates.get(storeId) !== 'opening') return;
    const store = this.session.state.store(storeId);
    if (!store) return;
    const pending = store.record.pendingReleases;
    if (pending.some((incarnation) => this.session.state.openConnectionsTo(incarnation) > 0)) return;
    this.opening.add(storeId);
    void (async () => {
      try {
        for (const incarnation of pending) if ((await this.session.countConnectionsTo(incarnation)) > 0) return;
        const current = this.session.state.store(storeId);
        if (!current) return;
        const outcome = await this.session.updateOwnStore(storeId, current.revision, { ...current.record, pendingReleases: [] });
        if (!outcome.succeeded) return;
        this.gates.delete(storeId);
        this.logger.info({ store: storeId }, 'store open: consumers are served');
        this.notifyAll();
      } catch (error) {
        if (!(error instanceof FencedError)) this.logger.warn({ store: storeId, error: (error as Error).message }, 'opening a store failed; retrying');
      } finally {
        this.opening.delete(storeId);
        if (this.gates.get(storeId) === 'opening') setTimeout(() => this.open(storeId), 500).unref();
      }
    })();
  }

  /** Leaves the cluster once the store is closed: other nodes take this node's stores over at once. */
  async leave(): Promise<void> {
    this.stopped = true;
    if (this.checkTimer) clearInterval(this.checkTimer);
    await this.session.leave();
  }
}

/** The default reaction to fencing: say why, and exit at once, before anything else is written. */
function exitFenced(logger: Logger): (reason: string) => void {
  return (reason) => {
    const line = JSON.stringify({ level: 60, time: Date.now(), msg: `fenced: ${reason}; exiting so that a supervisor restarts this node as a new member` });
    writeSync(1, `${line}\n`);
    logger.flush();
    process.exit(FENCED_EXIT_CODE);
  };
}

/**
 * The cluster user's password: from cluster.passwordFile, else $CONVOY_CLUSTER_PASSWORD. With cluster.tls
 * a node may have none: it then logs in to the others with its certificate (SASL EXTERNAL).
 */
function clusterPassword(options: ClusterOptions): string | null {
  if (options.user === null) return null;
  if (options.passwordFile !== null) return readFileSync(options.passwordFile, 'utf8').split(/\r?\n/)[0]!;
  const fromEnvironment = process.env.CONVOY_CLUSTER_PASSWORD;
  if (fromEnvironment === undefined && !options.tls) {
    throw new ConfigError('cluster.passwordFile', 'a file holding the password of cluster.user (or set $CONVOY_CLUSTER_PASSWORD, or log in with certificates: cluster.tls)', null);
  }
  return fromEnvironment ?? null;
}
