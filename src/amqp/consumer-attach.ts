import type { Connection, EventContext, Sender } from 'rhea';
import type { MessageFilter, Outcome } from '../core/types';
import type { BrokerRuntime } from '../broker/runtime';
import { AddressError, parsePriority, parseSourceAddress } from './address';
import { adminSnapshot, isAdminAddress, serveAdminLink } from './admin-link';
import { consumerAttachReply, writeAttachReply, type ServedTerminus } from './attach-reply';
import { readAttachRequest, type AttachRequest } from './attach-request';
import { topicsNotClustered } from './cluster/unclustered-topics';
import { describeClient, type ConnectionContext } from './connection-context';
import { ConsumerLink } from './consumer-link';
import { CoreConsumer } from './core-consumer';
import { messageFilterOf } from './message-filter';
import { connectionInternals } from './rhea';
import { checkDynamic, checkSourceServed, DISTRIBUTION_MODE_COPY, DISTRIBUTION_MODE_MOVE, isBrowser, servedCapabilities } from './served-termini';
import { attachesToTopic, serveSubscriber } from './subscriber-attach';
import { temporaryQueueName } from './temporary-queues';
import { NotImplementedError, refuseLink } from './termini';

const DEFAULT_OUTCOME_ACCEPTED: Outcome = { type: 'accepted' };
const OUTCOME_EVENTS = ['accepted', 'released', 'rejected', 'modified', 'settled'] as const;

/**
 * A client receiver attached (AMQP 1.0 2.6.3): the broker is the sender. Its source names a queue to
 * consume from or to browse (distribution-mode copy), a topic to subscribe to
 * (src/amqp/subscriber-attach.ts), or an operator view (`$convoy/...`); a selector filter on it is
 * compiled here (message-filter.ts) and handed to the core with the consumer.
 */
export function openConsumerLink(sender: Sender, connection: Connection, context: ConnectionContext, runtime: BrokerRuntime): void {
  try {
    const request = readAttachRequest(sender);
    if (attachesToTopic(request, runtime)) {
      if (context.cluster) throw new NotImplementedError(topicsNotClustered(request.source?.address ?? null));
      // A subscriber consumes from its subscription's queue (null: an unsubscribe, served already).
      const subscriber = serveSubscriber(sender, connection, context, runtime, request);
      // The subscription's selector filters what enters it (src/broker/topics.ts): its consumer takes every message there.
      if (subscriber !== null) startConsumer(sender, connection, context, runtime, { ...consumerTerms(subscriber.address, request), ...subscriber, filter: null, browse: false, properties: request.properties });
      return;
    }
    const source = servedSource(request);
    if (isAdminAddress(source.address)) {
      context.access.checkAdmin(source.address);
      const snapshot = adminSnapshot(runtime, source.address, context.cluster?.cluster ?? null);
      writeAttachReply(sender, consumerAttachReply(request, source, source.defaultOutcome));
      serveAdminLink(sender, snapshot);
      return;
    }
    const { queue, exclusive, priority } = consumerTerms(source.address, request);
    const filter = source.selector ? messageFilterOf(source.selector, runtime) : null;
    context.access.checkConsumer(queue, request.source!);
    // The reply names the filter in place (AMQP 1.0 3.5.3): none for a blank selector.
    writeAttachReply(sender, consumerAttachReply(request, filter === null ? { ...source, selector: null } : source, source.defaultOutcome));
    if (source.dynamic) context.temporaryQueues.own(sender, queue);
    const browse = source.distributionMode === DISTRIBUTION_MODE_COPY;
    startConsumer(sender, connection, context, runtime, { queue, exclusive, priority, consumerId: context.newConsumerId(), defaultOutcome: source.defaultOutcome, filter, browse, properties: request.properties });
  } catch (error) {
    refuseLink(sender, error, context.logger);
  }
}

/** A consumer of `queue` whose attach reply is written: what the core needs to serve it. */
interface ConsumerStart extends ConsumerTerms {
  readonly consumerId: string;
  /** The client's default-outcome (AMQP 1.0 3.5.3), or null for accepted. */
  readonly defaultOutcome: Outcome | null;
  /** Runs once the consumer has left the core (see ConsumerLink). */
  readonly afterClose?: (closed: boolean) => void;
  /** Its selector (README "Selectors"); null: every message. */
  readonly filter: MessageFilter | null;
  /** A browser (distribution-mode copy on a queue): it sees messages without taking them. */
  readonly browse: boolean;
  /** The attach's link properties (a cluster node reads who asks from them). */
  readonly properties: AttachRequest['properties'];
}

/**
 * Serves the consumer's link: from this node's core, or on a cluster node from the queue's home
 * (src/amqp/cluster/cluster-links.ts).
 */
function startConsumer(sender: Sender, connection: Connection, context: ConnectionContext, runtime: BrokerRuntime, start: ConsumerStart): void {
  const { consumerId, queue, exclusive, priority, filter, browse } = start;
  const link = new ConsumerLink(
    consumerId,
    sender,
    runtime,
    start.defaultOutcome ?? DEFAULT_OUTCOME_ACCEPTED,
    context.maxUnsettledPerLink,
    context.output,
    start.afterClose,
  );
  listenToConsumerLink(sender, link);
  // Write the attach reply now: a flow that came in the same read may make the core deliver at
  // once, and rhea writes a session's transfers before its link attaches (AMQP 1.0 2.6.3 order).
  connectionInternals(connection)._process();
  const command = { type: 'attach', consumerId, queue, priority, exclusive, settleOnSend: link.settleOnSend, filter, browse } as const;
  const client = `${describeClient(context, connection.container_id)} link ${sender.name}`;
  if (context.cluster) {
    context.consumers.set(sender, context.cluster.serveConsumer(context, sender, link, command, client, start.properties));
  } else {
    context.consumers.set(sender, link);
    new CoreConsumer(runtime, consumerId, context.logger, context.transactions).serve(link, command, client);
  }
  link.onFlow();
  context.logger.info(
    { consumer: consumerId, queue, exclusive, priority, link: sender.name, ...(browse ? { browse } : {}), ...(filter ? { selector: filter.key } : {}) },
    'consumer attached',
  );
}

interface ServedSource extends ServedTerminus {
  readonly address: string;
  /** The client's default-outcome (AMQP 1.0 3.5.3), applied to deliveries it settles without one. */
  readonly defaultOutcome: Outcome | null;
}

/** The source the broker serves: a named queue (consumed or browsed), a new temporary queue (dynamic), or an operator view. */
function servedSource(request: AttachRequest): ServedSource {
  const source = request.source;
  if (!source) throw new AddressError('a consumer link needs a source naming the queue');
  checkDynamic('source', source);
  const selector = checkSourceServed(source);
  const capabilities = servedCapabilities(source);
  const address = source.dynamic ? temporaryQueueName() : source.address;
  if (address === null || address === '') throw new AddressError('the source address names no queue');
  const distributionMode = isBrowser(source) ? DISTRIBUTION_MODE_COPY : DISTRIBUTION_MODE_MOVE;
  return { address, dynamic: source.dynamic, capabilities, defaultOutcome: source.defaultOutcome, distributionMode, selector };
}

/**
 * The per-message events go to listeners on the link itself: rhea then stops there instead of passing
 * each event up through session, connection and container (a measurable share of broker CPU).
 */
function listenToConsumerLink(sender: Sender, link: ConsumerLink): void {
  sender.on('sendable', () => link.onFlow());
  // 'sendable' covers flows that grant credit; this covers flows that only drain or take credit away.
  sender.on('sender_flow', () => {
    if (!sender.sendable()) link.onFlow();
  });
  for (const event of OUTCOME_EVENTS) sender.on(event, (ctx: EventContext) => link.onOutcome(ctx.delivery!));
}

interface ConsumerTerms {
  readonly queue: string;
  readonly exclusive: boolean;
  readonly priority: number;
}

/** Queue and consumer options: address options, overridden by link properties. */
function consumerTerms(address: string, request: AttachRequest): ConsumerTerms {
  const parsed = parseSourceAddress(address);
  const properties = request.properties;
  let exclusive = parsed.options.exclusive ?? false;
  if (properties.exclusive !== undefined) {
    if (typeof properties.exclusive !== 'boolean') throw new AddressError('link property exclusive must be a boolean');
    exclusive = properties.exclusive;
  }
  let priority = parsed.options.priority ?? 0;
  if (properties.priority !== undefined) priority = parsePriority('link property priority', properties.priority);
  return { queue: parsed.queue, exclusive, priority };
}
