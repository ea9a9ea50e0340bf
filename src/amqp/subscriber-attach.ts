import type { Connection, Sender } from 'rhea';
import type { BrokerRuntime } from '../broker/runtime';
import { NodeKindError, SubscriptionError, type Subscription } from '../broker/topics';
import type { Outcome } from '../core/types';
import { parseSourceAddress } from './address';
import { isAdminAddress } from './admin-link';
import { consumerAttachReply, writeAttachReply, type ServedTerminus } from './attach-reply';
import type { AttachRequest, RequestedSource } from './attach-request';
import type { ConnectionContext } from './connection-context';
import { subscriptionSelectorOf } from './message-filter';
import { linkInternals } from './rhea';
import { checkDynamic, claimedNodeKind, DISTRIBUTION_MODE_MOVE, servedCapabilities } from './served-termini';
import { selectorOf } from './source-filters';
import { subscriptionNameOf, unsubscribeCandidates } from './subscription-names';
import { temporaryQueueName } from './temporary-queues';
import { NotImplementedError, refusalOf } from './termini';

/**
 * A receiver attaching to a topic (README "Topics and subscriptions"): it consumes from a subscription,
 * a queue the topic feeds, which it finds or creates from its attach:
 *
 *   source durable >= 1 and expiry-policy `never`   durable: survives detach and restart (AMQP 1.0 3.5.5, 3.5.6)
 *   source capability `shared`                      several links share it and split its messages
 *   source capability `global`                      named without the client's container-id
 *   durable or shared                               named by the link name (subscription-names.ts)
 *   neither                                         private to this link, gone when it detaches
 *   dynamic, capability `temporary-topic`           a new temporary topic, gone with the connection
 *   filter apache.org:selector-filter:string        only messages the selector selects enter the subscription
 *
 * A receiver without a source looks up the durable subscription its link name names: the reply carries
 * the subscription's source, and closing the link removes the subscription (Qpid JMS unsubscribe).
 */

/** Distribution modes a subscriber may ask for (3.5.7): `copy` is what Qpid JMS sends for a durable subscription. */
const SUBSCRIPTION_DISTRIBUTION_MODES: ReadonlySet<string> = new Set([DISTRIBUTION_MODE_MOVE, 'copy']);
const DISTRIBUTION_MODE_COPY = 'copy';

/** What the consumer of a subscription needs once its attach reply is written. */
export interface Subscriber {
  /** The source address as the client gave it (options after `?` apply to the consumer). */
  readonly address: string;
  /** The subscription's queue: the consumer attaches there. */
  readonly queue: string;
  readonly consumerId: string;
  readonly defaultOutcome: Outcome | null;
  readonly afterClose: (closed: boolean) => void;
}

/**
 * Whether a receiver's attach is for a topic: its source says so (capability), or names a topic (or a
 * name the `topics` option makes one), or it has no source (a subscription lookup). Throws when the
 * source claims a queue that is a topic or the reverse (amqp:not-found).
 */
export function attachesToTopic(request: AttachRequest, runtime: BrokerRuntime): boolean {
  const source = request.source;
  if (source === null) return true;
  if (isAdminAddress(source.address)) return false;
  const claim = claimedNodeKind('source', source);
  if (source.dynamic) return claim === 'topic';
  if (source.address === null || source.address === '') return false;
  return runtime.topics.resolveKind(parseSourceAddress(source.address).queue, claim) === 'topic';
}

/**
 * Finds or creates the subscription and writes the attach reply; returns what the consumer needs, or
 * null for a lookup without a source (served here: it never consumes).
 */
export function serveSubscriber(sender: Sender, connection: Connection, context: ConnectionContext, runtime: BrokerRuntime, request: AttachRequest): Subscriber | null {
  const source = request.source;
  if (source === null) {
    serveSubscriptionLookup(sender, connection, context, runtime, request);
    return null;
  }
  checkDynamic('source', source);
  checkSubscriptionSource(source);
  const requested = selectorOf(source.filters);
  const selector = requested === null ? null : subscriptionSelectorOf(requested.text);
  const capabilities = servedCapabilities(source);
  const shared = capabilities.includes('shared');
  const durable = isDurable(source);
  const name = durable || shared ? subscriptionNameOf(sender.name, shared) : null;
  const clientId = name === null || capabilities.includes('global') ? null : (connection.container_id ?? '');
  const address = source.dynamic ? temporaryTopic(context, runtime, durable) : source.address!;
  const topic = parseSourceAddress(address).queue;
  if (!source.dynamic) {
    if (source.capabilities.includes('temporary-topic') && !runtime.topics.isTemporary(topic)) {
      throw new NodeKindError(`temporary topic "${topic}" does not exist (a temporary topic is gone with the connection that created it)`);
    }
    context.access.checkSubscriber(topic, durable && runtime.topics.findDurable(clientId, name!) === undefined);
    runtime.topics.declare(topic);
  }
  const consumerId = context.newConsumerId();
  const subscription = runtime.topics.subscribe({ topic, name, clientId, durable, shared, consumerId, selector });
  const served: ServedTerminus = {
    address,
    dynamic: source.dynamic,
    capabilities,
    durableSubscription: durable,
    distributionMode: source.distributionMode ?? DISTRIBUTION_MODE_MOVE,
    selector: selector === null ? null : requested,
  };
  writeAttachReply(sender, consumerAttachReply(request, served, source.defaultOutcome));
  return {
    address,
    queue: subscription.queue,
    consumerId,
    defaultOutcome: source.defaultOutcome,
    afterClose: (closed) => subscriberClosed(sender, runtime, subscription, closed),
  };
}

/** 3.5.5, 3.5.6: a terminus that keeps at least its configuration and never expires outlives its link. */
function isDurable(source: RequestedSource): boolean {
  return (source.durable === 1 || source.durable === 2) && source.expiryPolicy === 'never';
}

/** Distribution modes a subscription serves; its filters are checked by selectorOf (the selector, and no other). */
function checkSubscriptionSource(source: RequestedSource): void {
  if (source.distributionMode !== null && !SUBSCRIPTION_DISTRIBUTION_MODES.has(source.distributionMode)) {
    throw new NotImplementedError(`distribution-mode "${source.distributionMode}" is not implemented for a topic subscription (only move and copy)`);
  }
}

/** A dynamic source (3.5.3) with capability `temporary-topic`: a new temporary topic of this connection. */
function temporaryTopic(context: ConnectionContext, runtime: BrokerRuntime, durable: boolean): string {
  if (durable) throw new SubscriptionError('not-allowed', 'a temporary topic cannot have a durable subscription');
  const name = temporaryQueueName();
  context.access.checkSubscriber(name, false, true);
  runtime.topics.declareTemporary(name, context.id);
  context.temporaryTopics.add(name);
  return name;
}

/**
 * The subscriber's link is gone. A durable subscription detached (not closed) by the client keeps its
 * terminus, and the broker answers in kind: detach closed=false (AMQP 1.0 2.6.6), where rhea would
 * answer closed=true.
 */
function subscriberClosed(sender: Sender, runtime: BrokerRuntime, subscription: Subscription, closed: boolean): void {
  if (subscription.durable && !closed && linkInternals(sender).remote.detach !== undefined) sender.detach();
  runtime.topics.consumerLeft(subscription, closed);
}

/**
 * A receiver without a source: the durable subscription its link name names, looked up for the client
 * (Qpid JMS unsubscribe). The reply carries the subscription's source; closing the link (closed=true)
 * removes the subscription with its messages, detaching it leaves it. Refused while it has consumers.
 */
function serveSubscriptionLookup(sender: Sender, connection: Connection, context: ConnectionContext, runtime: BrokerRuntime, request: AttachRequest): void {
  const clientId = connection.container_id ?? '';
  const subscription = unsubscribeCandidates(sender.name, clientId)
    .map((candidate) => runtime.topics.findDurable(candidate.clientId, candidate.name))
    .find((found) => found !== undefined);
  if (subscription === undefined) {
    throw new SubscriptionError(
      'not-found',
      `no durable subscription "${sender.name}" for client "${clientId}" (a receiver without a source looks up the durable subscription its link name names)`,
    );
  }
  context.access.checkUnsubscribe(subscription.topic.name);
  runtime.topics.checkUnsubscribe(subscription);
  const capabilities = ['topic', ...(subscription.shared ? ['shared'] : []), ...(subscription.clientId === null ? ['global'] : [])];
  const served: ServedTerminus = { address: subscription.topic.name, dynamic: false, capabilities, durableSubscription: true, distributionMode: DISTRIBUTION_MODE_COPY };
  writeAttachReply(sender, consumerAttachReply(request, served, null));
  sender.on('sender_close', () => {
    if (linkInternals(sender).remote.detach?.closed !== true) {
      sender.detach();
      return;
    }
    try {
      runtime.topics.unsubscribe(subscription);
      context.logger.info({ subscription: subscription.queue, topic: subscription.topic.name, link: sender.name }, 'subscription removed');
    } catch (error) {
      // A consumer attached since the lookup: the closing detach says why nothing was removed.
      sender.close(refusalOf(error));
    }
  });
}

