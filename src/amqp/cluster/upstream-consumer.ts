import type { Delivery, EventContext, Receiver } from 'rhea';
import type { Outcome } from '../../core/types';
import { describedOutcome } from '../attach-reply';
import { Condition, type AmqpError } from '../conditions';
import type { ConsumerBackend, ConsumerLink, LinkEnd } from '../consumer-link';
import type { AttachCommand } from '../core-consumer';
import { connectionInternals, receiverInternals } from '../rhea';
import { UpstreamLink, type InterNodeConnection } from './inter-node-connections';
import { DISTRIBUTION_MODE_COPY } from '../served-termini';
import { appliedFilterSet, SELECTOR_FILTER_SYMBOL } from '../source-filters';
import { CLIENT_PROPERTY } from './peer-identity';

/** AMQP 1.0 2.8.2 sender-settle-mode. */
const SND_SETTLED = 1;
const SND_UNSETTLED = 0;

/**
 * A client's consumer link served by the queue's home node: this node is an ordinary consumer there,
 * through one receiver on an inter-node connection. The client's credit and drain are relayed as they
 * are (AMQP 1.0 2.6.7: the receiver sets link-credit, and the home counts the transfers still on their
 * way), the home's transfers are forwarded with their bytes unchanged (delivery-count included), and
 * the client's outcomes go back to the home. Exclusivity, priority and groups are then decided by the
 * home's core, for every node's consumers alike; so are selectors and browsing, asked of the home on
 * the upstream source as the client asked them here.
 */
export class UpstreamConsumer implements ConsumerBackend {
  private readonly upstream: UpstreamLink<Receiver>;
  private readonly receiver: Receiver;
  private readonly deliveries = new Map<number, Delivery>();
  private nextDeliveryId = 1;
  private ended = false;
  private readonly queue: string;

  constructor(
    connection: InterNodeConnection,
    private readonly link: ConsumerLink,
    command: AttachCommand,
    client: string,
    nodeId: string,
    /** The upstream link ended without this node asking: the connection was lost, or the home detached it. */
    private readonly onEnded: (error: AmqpError | null) => void,
  ) {
    this.queue = command.queue;
    this.receiver = connection.openReceiver({
      name: `${nodeId}:${command.consumerId}`,
      source: upstreamSource(command),
      snd_settle_mode: command.settleOnSend ? SND_SETTLED : SND_UNSETTLED,
      rcv_settle_mode: 0,
      autoaccept: false,
      credit_window: 0,
      properties: { exclusive: command.exclusive, priority: command.priority, [CLIENT_PROPERTY]: client },
    } as never);
    this.receiver.on('message', (ctx: EventContext) => this.onMessage(ctx));
    this.receiver.on('receiver_drained', () => this.onDrained());
    this.receiver.on('receiver_close', () => this.end(this.receiver.error as AmqpError | undefined));
    this.receiver.on('receiver_error', () => this.end(this.receiver.error as AmqpError | undefined));
    this.upstream = new UpstreamLink(connection, this.receiver, () => this.end(undefined));
  }

  private onMessage(ctx: EventContext): void {
    if (this.ended) return;
    const delivery = ctx.delivery!;
    const id = this.nextDeliveryId++;
    if (!delivery.remote_settled) this.deliveries.set(id, delivery);
    this.link.forward((ctx as unknown as { message: Buffer }).message, id, delivery.remote_settled);
  }

  /** The home answered a drain (2.6.7): answer the client's, then give the home the client's credit again. */
  private onDrained(): void {
    receiverInternals(this.receiver).drain = false;
    this.link.drained();
    setImmediate(() => this.link.onFlow());
  }

  credit(credit: number, drain: boolean): void {
    if (this.ended) return;
    const internals = receiverInternals(this.receiver);
    if (internals.credit === credit && internals.drain === drain) return;
    internals.credit = credit;
    internals.drain = drain;
    internals.issue_flow = true;
    connectionInternals(this.receiver.connection)._register();
  }

  settle(deliveryId: number, outcome: Outcome): void {
    const delivery = this.deliveries.get(deliveryId);
    if (!delivery || this.ended) return;
    this.deliveries.delete(deliveryId);
    delivery.update(true, describedOutcome(outcome) as never);
  }

  /**
   * Transactions on a cluster node cover the queues this node serves: an acknowledgement in a
   * transaction of a message from another node ends the link (amqp:not-implemented).
   */
  settleInTransaction(): AmqpError {
    return {
      condition: Condition.notImplemented,
      description: `transactions cover only queues served by the node the client is connected to; "${this.queue}" is served by node ${this.upstream.connection.node.nodeId}`,
    };
  }

  /** The client's link ended: so does the upstream one, and the home takes its unsettled messages back. */
  detach(_end: LinkEnd): void {
    if (this.ended) return;
    this.ended = true;
    this.upstream.end();
  }

  private end(error: AmqpError | undefined): void {
    if (this.ended) return;
    this.ended = true;
    this.upstream.end();
    this.onEnded(error ?? null);
  }
}

/** The source asked of the home: the client's queue, its selector and whether it browses (AMQP 1.0 3.5.3). */
function upstreamSource(command: AttachCommand): Record<string, unknown> {
  return {
    address: command.queue,
    ...(command.filter && { filter: appliedFilterSet({ name: 'selector', descriptor: SELECTOR_FILTER_SYMBOL, text: command.filter.key }) }),
    ...(command.browse && { distribution_mode: DISTRIBUTION_MODE_COPY }),
  };
}
