import type { NodeAddress } from '../../broker/cluster-services';
import { Condition, type AmqpError } from '../conditions';

/**
 * AMQP 1.0 2.8.18 amqp:link:redirect: the queue is served by another node; the error's info names it
 * (network-host, port, and the node's id), so that a node looks again rather than passing the link on.
 */
export function redirectError(queue: string, home: NodeAddress): AmqpError & { info: Record<string, unknown> } {
  return {
    condition: Condition.redirect,
    description: `queue "${queue}" is served by node ${home.nodeId} (${home.host}:${home.port})`,
    info: { 'network-host': home.host, port: home.port, 'convoy-node': home.nodeId },
  };
}
