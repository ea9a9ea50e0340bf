import type { PeerIdentity } from '../../broker/cluster-services';

/**
 * The open properties (AMQP 1.0 2.7.1 open.properties) with which a cluster node says who it is when it
 * connects to another node: its id and life, the life of the node it means to reach, and the id under
 * which it registered the connection in etcd.
 */
export const PEER_PROPERTIES = {
  node: 'convoy-node',
  nodeIncarnation: 'convoy-node-incarnation',
  homeIncarnation: 'convoy-home-incarnation',
  connection: 'convoy-connection',
} as const;

/** Link property (2.7.3 attach.properties) naming the client a node serves through an inter-node link. */
export const CLIENT_PROPERTY = 'convoy-client';

/** The identity a connection's open claims; null for an ordinary client. */
export function readPeerIdentity(properties: unknown): PeerIdentity | null {
  if (typeof properties !== 'object' || properties === null) return null;
  const fields = properties as Record<string, unknown>;
  const nodeId = fields[PEER_PROPERTIES.node];
  if (nodeId === undefined) return null;
  const values = [nodeId, fields[PEER_PROPERTIES.nodeIncarnation], fields[PEER_PROPERTIES.homeIncarnation], fields[PEER_PROPERTIES.connection]];
  if (!values.every((value) => typeof value === 'string' && value.length > 0)) return null;
  const [node, nodeIncarnation, homeIncarnation, connectionId] = values as string[];
  return { nodeId: node!, nodeIncarnation: nodeIncarnation!, homeIncarnation: homeIncarnation!, connectionId: connectionId! };
}
