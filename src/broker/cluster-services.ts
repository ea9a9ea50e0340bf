/**
 * What the AMQP layer needs from the cluster (README, "Cluster"), and nothing of how it is done: the
 * cluster itself (src/cluster, on etcd) implements it, the AMQP layer serves links with it, and a
 * single node has none (every queue is local).
 */

/** Where another node's AMQP listener is, and which life of that node it is. */
export interface NodeAddress {
  readonly nodeId: string;
  /** Changes every time the node starts: a connection to an earlier life is a connection to a dead node. */
  readonly incarnation: string;
  readonly host: string;
  readonly port: number;
}

/** Consumers may have to wait longer than producers: see `waiting`. */
export type LinkPurpose = 'consume' | 'produce';

/**
 * Where a queue's dispatch core runs, for one purpose:
 * - local: this node; serve from the local core.
 * - remote: another node; serve through an inter-node link to it.
 * - waiting: not known yet (being claimed), or its node was lost and no other has taken it over yet, or
 *   this node took it over and consumers wait until every node has let go of the messages its clients
 *   received from the lost one. Links wait, attached; `subscribe` says when to ask again.
 */
export type QueueHome =
  | { readonly kind: 'local' }
  | { readonly kind: 'remote'; readonly node: NodeAddress }
  | { readonly kind: 'waiting'; readonly reason: string };

/**
 * One inter-node connection from this node, registered in etcd before it carries anything. While it is
 * registered, the node at the other end keeps the consumers it served over it (their groups, their
 * unsettled messages) even after the connection is lost: this node's clients may still hold those
 * messages. `release` says they do not any more.
 */
export interface ConnectionRegistration {
  readonly connectionId: string;
  release(): void;
}

/** What another node says about itself when it opens an inter-node connection (open properties). */
export interface PeerIdentity {
  readonly nodeId: string;
  readonly nodeIncarnation: string;
  /** The life of this node it meant to reach. */
  readonly homeIncarnation: string;
  readonly connectionId: string;
}

/** The cluster as `convoy cluster` shows it. */
export interface ClusterSnapshot {
  /** The node that answered. */
  readonly node: string;
  readonly nodes: readonly ClusterNodeView[];
}

export interface ClusterNodeView {
  readonly id: string;
  /** live: its lease holds; down: it has stores (queues) but no lease: they are being taken over. */
  readonly state: 'live' | 'down';
  readonly advertise: string | null;
  readonly incarnation: string | null;
  /** Journals this node owns: its own, and those it took over from lost nodes. */
  readonly stores: readonly ClusterStoreView[];
  /** Queues whose home this node is, sorted. */
  readonly queues: readonly string[];
}

export interface ClusterStoreView {
  readonly id: string;
  /** serving; opening: taken over, consumers wait for other nodes to let go of the lost node's messages. */
  readonly state: 'serving' | 'opening';
}

export interface ClusterServices {
  readonly nodeId: string;
  readonly incarnation: string;
  /** How long to wait for clients to settle the messages of a lost home before detaching their links. */
  readonly releaseTimeoutMs: number;
  /** Credentials and transport of inter-node connections. */
  readonly interNode: { readonly user: string | null; readonly password: string | null; readonly tls: boolean; readonly linksPerConnection: number };
  /** From what this node knows now; an unknown queue is claimed for this node in the background. */
  homeOf(queue: string, purpose: LinkPurpose): QueueHome;
  /** Calls back when `queue`'s home may have changed (ask `homeOf` again); returns the unsubscribe. */
  subscribe(queue: string, listener: () => void): () => void;
  /** The queue exists somewhere in the cluster (or in this node's core). */
  queueExists(queue: string): boolean;
  /** Before an inter-node connection to `home` is opened. */
  registerConnection(home: NodeAddress): Promise<ConnectionRegistration>;
  /** Why a connection claiming to come from another node is refused, or null to accept it. */
  checkPeer(peer: PeerIdentity): string | null;
  /** Home side: resolves once the peer has released its connection (or its node is gone). */
  whenReleased(peer: PeerIdentity): Promise<void>;
  /** Calls back when a node's lease ends; returns the unsubscribe. */
  onNodeDown(listener: (nodeId: string) => void): () => void;
  snapshot(): ClusterSnapshot;
}
