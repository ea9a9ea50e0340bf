import type { Command, ConsumerId, CoreState, MessageMeta } from '../core/types';
import type { MessageStore, RecoveredStore, StoredSubscription } from '../store/types';

/**
 * Topics and their subscriptions (README "Topics and subscriptions"): the routing layer above the
 * dispatch core.
 *
 * A subscription *is* a queue, fed by its topic: the core dispatches inside it exactly as in any queue
 * (groups, exclusive consumers, outcomes, dead-lettering, durability), and knows nothing of topics.
 * Routing lives here, in the runtime, rather than in the core, because it is a decision about addresses
 * (which queues a message enters), not about consumers: publishing applies one `enqueue` per
 * subscription, in the order the subscriptions were made, all within one call, so nothing can come
 * between a message's copies, and a subscription made after a message was published never sees it.
 * Every copy carries the same body (the producer's bytes, one buffer): fan-out costs a queue entry per
 * subscription, not a copy of the message.
 *
 * A subscription with a selector (README "Selectors") takes only the messages its selector is TRUE for:
 * the selector is asked when a message is published (once per such subscription), so what it does not
 * select never enters the subscription's queue. The selector is part of a named subscription: asked for
 * with another one, the subscription is replaced while it has no consumer (JMS: a new subscription),
 * refused while it has.
 *
 * A name is a queue or a topic, never both at once (`resolveKind`). Subscription queues are named
 * `<topic>::<subscription>` (`::` is reserved: no client address contains it), take the queue options
 * of their topic's name, and are deleted (core `delete-queue`) with their messages when the
 * subscription ends.
 */

export type NodeKind = 'queue' | 'topic';

/** Separates a topic from its subscription in a subscription queue's name (`prices::app.audit`). */
export const SUBSCRIPTION_SEPARATOR = '::';

/** The topic a subscription queue belongs to, by its name; null for any other queue. */
export function topicOfQueue(queue: string): string | null {
  const at = queue.indexOf(SUBSCRIPTION_SEPARATOR);
  return at < 0 ? null : queue.slice(0, at);
}

/** A name asked for as one kind of node while it is the other; refused with amqp:not-found. */
export class NodeKindError extends Error {}

/** Why a subscription cannot be served (mapped to an AMQP condition by the AMQP layer). */
export type SubscriptionRefusal =
  /** No subscription by that name (unsubscribe, or attach by link name only). */
  | 'not-found'
  /** It has consumers, and what was asked needs it to have none (or an unshared one already has its one). */
  | 'in-use'
  /** Asked as shared while it is not, or the reverse; or durable on a temporary topic. */
  | 'not-allowed';

export class SubscriptionError extends Error {
  constructor(
    readonly refusal: SubscriptionRefusal,
    message: string,
  ) {
    super(message);
  }
}

export interface Topic {
  readonly name: string;
  /** A temporary topic lives as long as this owner (a connection); null for a topic. */
  readonly owner: string | null;
  /** By queue name, in the order they were made (the order copies are enqueued). */
  readonly subscriptions: Map<string, Subscription>;
  publishedTotal: number;
}

/** A subscription's JMS message selector, compiled (by the AMQP layer; opaque here). */
export interface SubscriptionSelector {
  readonly text: string;
  /** Whether the selector is TRUE for a message about to be published, by its bytes and metadata. */
  matches(body: Uint8Array, meta: MessageMeta): boolean;
}

/** Compiles a stored subscription's selector at start-up (the AMQP layer's compiler, handed in by the composition root). */
export type SubscriptionSelectorCompiler = (text: string) => SubscriptionSelector;

export interface Subscription {
  /** The queue holding its messages. */
  readonly queue: string;
  readonly topic: Topic;
  /** Only messages it selects enter the queue; null: every message of the topic. */
  readonly selector: SubscriptionSelector | null;
  /** The subscription name; null for a private one (one consumer link, JMS createConsumer on a topic). */
  readonly name: string | null;
  /** The client id (AMQP container-id) it belongs to; null when global or private. */
  readonly clientId: string | null;
  readonly durable: boolean;
  readonly shared: boolean;
}

/** What a consumer asks for when it attaches to a topic. */
export interface SubscriptionRequest {
  readonly topic: string;
  /** null: a private, non-durable subscription for this one consumer, gone when it detaches. */
  readonly name: string | null;
  /** The container-id for a subscription scoped to its client; null for a global one. */
  readonly clientId: string | null;
  readonly durable: boolean;
  readonly shared: boolean;
  /** The consumer that will attach (names a private subscription's queue). */
  readonly consumerId: ConsumerId;
  /** The consumer's selector: the subscription's (null: every message). */
  readonly selector: SubscriptionSelector | null;
}

/** A topic with its subscriptions, for operators (`convoy queues`). */
export interface TopicReport {
  readonly name: string;
  readonly temporary: boolean;
  readonly publishedTotal: number;
  readonly subscriptions: readonly SubscriptionReport[];
}

export interface SubscriptionReport {
  readonly queue: string;
  readonly name: string | null;
  readonly clientId: string | null;
  readonly durable: boolean;
  readonly shared: boolean;
  readonly selector: string | null;
  readonly consumers: number;
  readonly queued: number;
}

/** What topics need of the runtime that owns them. */
export interface TopicHost {
  readonly state: CoreState;
  execute(command: Command): void;
  /** Enqueues one message into several queues, all sharing `body` (counted once in memory while any holds it). */
  enqueueCopies(copies: readonly { readonly queue: string; readonly meta: MessageMeta }[], body: Uint8Array): void;
  /** Ends a consumer's link from the broker's side (its subscription is going away). */
  endConsumer(consumerId: ConsumerId, description: string): void;
}

export class Topics {
  private readonly topics = new Map<string, Topic>();
  /** Named subscriptions by identity (`subscriptionKey`). */
  private readonly named = new Map<string, Subscription>();
  /** Every subscription by its queue's name. */
  private readonly byQueue = new Map<string, Subscription>();

  constructor(
    private readonly host: TopicHost,
    private readonly store: MessageStore,
    /** The `topics` option: names that are topics before any client says so. */
    private readonly configuredTopic: (name: string) => boolean,
    private readonly compileSelector: SubscriptionSelectorCompiler,
  ) {}

  /** The kind of node `name` is now: a topic, a queue, or (null) nothing yet. */
  kindOf(name: string): NodeKind | null {
    if (this.topics.has(name)) return 'topic';
    if (this.host.state.queues.has(name)) return 'queue';
    return null;
  }

  /**
   * The kind of node a link or message addresses. `claim` is what the client said (a terminus
   * capability, or Qpid JMS's `x-opt-jms-dest` annotation), null when it said nothing. An existing node
   * keeps its kind, a name not used yet follows the configuration, else the claim, else it is a queue.
   * A claim that contradicts the existing node or the configuration is refused: one name is never a
   * queue and a topic at once.
   */
  resolveKind(name: string, claim: NodeKind | null): NodeKind {
    const existing = this.kindOf(name);
    if (existing !== null) {
      if (claim !== null && claim !== existing) throw new NodeKindError(`"${name}" is a ${existing}, not a ${claim}: a name is a queue or a topic, never both`);
      return existing;
    }
    if (this.configuredTopic(name)) {
      if (claim === 'queue') throw new NodeKindError(`"${name}" is configured as a topic (option "topics"), not a queue`);
      return 'topic';
    }
    return claim ?? 'queue';
  }

  /** Whether the `topics` option names `name`. */
  isConfiguredTopic(name: string): boolean {
    return this.configuredTopic(name);
  }

  /** Whether `name` is a topic now. */
  isTopic(name: string): boolean {
    return this.topics.has(name);
  }

  /** Whether `name` is a temporary topic now. */
  isTemporary(name: string): boolean {
    return (this.topics.get(name)?.owner ?? null) !== null;
  }

  /** Creates the topic on first use (it is stored, so the name stays a topic after a restart). */
  declare(name: string): void {
    if (this.topics.has(name)) return;
    this.resolveKind(name, 'topic');
    this.topics.set(name, { name, owner: null, subscriptions: new Map(), publishedTotal: 0 });
    this.store.declareTopic(name);
  }

  /** A temporary topic (AMQP 1.0 3.5.4 dynamic target or 3.5.3 dynamic source): kept in memory only, gone with its owner. */
  declareTemporary(name: string, owner: string): void {
    if (this.kindOf(name) !== null) throw new Error(`temporary topic name ${name} is taken`);
    this.topics.set(name, { name, owner, subscriptions: new Map(), publishedTotal: 0 });
  }

  /**
   * Enqueues the message into every subscription of the topic, sharing its bytes. A non-durable
   * subscription keeps a durable message in memory only (it does not outlive the broker either).
   * Returns whether anything was stored durably: the producer waits for the fsync only then.
   */
  publish(topicName: string, meta: MessageMeta, body: Uint8Array): { readonly stored: boolean } {
    const topic = this.topics.get(topicName);
    if (!topic) throw new NodeKindError(`topic "${topicName}" does not exist (a temporary topic is gone with its connection)`);
    const copies = this.copiesOf(topic, meta, body);
    this.host.enqueueCopies(copies, body);
    return { stored: copies.some((copy) => copy.meta.durable) };
  }

  /**
   * A message published in a transaction, at its commit: the enqueue commands for the subscriptions the
   * topic has now, sharing the bytes; none if the topic is gone (a temporary topic deleted meanwhile).
   */
  copiesAtCommit(topicName: string, meta: MessageMeta, body: Uint8Array): Command[] {
    const topic = this.topics.get(topicName);
    return topic ? this.copiesOf(topic, meta, body).map(({ queue, meta: copyMeta }) => ({ type: 'enqueue', queue, meta: copyMeta, body })) : [];
  }

  /**
   * One copy per subscription whose selector (if any) selects the message, in the order they were made;
   * a non-durable subscription keeps a durable message in memory only.
   */
  private copiesOf(topic: Topic, meta: MessageMeta, body: Uint8Array): { queue: string; meta: MessageMeta }[] {
    topic.publishedTotal++;
    const volatileMeta = meta.durable ? { ...meta, durable: false } : meta;
    const copies: { queue: string; meta: MessageMeta }[] = [];
    for (const subscription of topic.subscriptions.values()) {
      if (subscription.selector !== null && !subscription.selector.matches(body, meta)) continue;
      copies.push({ queue: subscription.queue, meta: subscription.durable ? meta : volatileMeta });
    }
    return copies;
  }

  /**
   * The subscription a consumer attaches to: an existing named one, or a new one (its queue created,
   * a durable one stored). A durable or shared subscription asked for with another topic or another
   * selector is replaced while it has no consumer (JMS: unsubscribe and subscribe anew), refused while
   * it has; an unshared one takes one consumer at a time; shared and unshared do not mix.
   */
  subscribe(request: SubscriptionRequest): Subscription {
    const topic = this.topics.get(request.topic);
    if (!topic) throw new NodeKindError(`topic "${request.topic}" does not exist`);
    if (request.durable && topic.owner !== null) {
      throw new SubscriptionError('not-allowed', `a temporary topic ("${topic.name}") cannot have a durable subscription`);
    }
    if (request.name === null) {
      return this.create(topic, request, `${topic.name}${SUBSCRIPTION_SEPARATOR}${request.consumerId}`);
    }
    const key = subscriptionKey(request.durable, request.clientId, request.name);
    const existing = this.named.get(key);
    if (existing) {
      const consumers = this.consumerCount(existing);
      const selector = request.selector?.text ?? null;
      if (existing.topic !== topic) {
        if (consumers > 0) {
          throw new SubscriptionError('in-use', `${describe(existing)} is on topic "${existing.topic.name}" and has ${consumers} consumer(s); it cannot move to "${topic.name}"`);
        }
        this.remove(existing);
      } else if ((existing.selector?.text ?? null) !== selector) {
        if (consumers > 0) {
          throw new SubscriptionError(
            'in-use',
            `${describe(existing)} has ${existing.selector === null ? 'no selector' : `selector "${existing.selector.text}"`} and ${consumers} consumer(s); it cannot take ${selector === null ? 'no selector' : `selector "${selector}"`}`,
          );
        }
        this.remove(existing);
      } else if (existing.shared !== request.shared) {
        throw new SubscriptionError('not-allowed', `${describe(existing)} is ${existing.shared ? '' : 'not '}shared; it cannot be attached as ${request.shared ? '' : 'not '}shared`);
      } else if (!existing.shared && consumers > 0) {
        throw new SubscriptionError('in-use', `${describe(existing)} is not shared and already has a consumer`);
      } else {
        return existing;
      }
    }
    const scope = request.clientId === null ? '' : `${request.clientId}.`;
    const subscription = this.create(topic, request, `${topic.name}${SUBSCRIPTION_SEPARATOR}${scope}${request.name}`);
    this.named.set(key, subscription);
    return subscription;
  }

  /** A durable subscription by name (unsubscribe looks it up), or undefined. */
  findDurable(clientId: string | null, name: string): Subscription | undefined {
    return this.named.get(subscriptionKey(true, clientId, name));
  }

  /**
   * A consumer of the subscription has detached (its unsettled messages are back in the queue). A
   * non-durable subscription ends with its last consumer; a durable one when its last consumer closes
   * the link rather than detaching it (AMQP 1.0 2.6.6 closed, 3.5.5: closing ends a durable terminus).
   */
  consumerLeft(subscription: Subscription, closed: boolean): void {
    if (this.byQueue.get(subscription.queue) !== subscription || this.consumerCount(subscription) > 0) return;
    if (!subscription.durable || closed) this.remove(subscription);
  }

  /** JMS unsubscribe: the subscription and its messages go; refused while it has consumers. */
  unsubscribe(subscription: Subscription): void {
    this.checkUnsubscribe(subscription);
    this.remove(subscription);
  }

  /** Throws unless the subscription could be removed now (it has no consumer). */
  checkUnsubscribe(subscription: Subscription): void {
    const consumers = this.consumerCount(subscription);
    if (consumers > 0) throw new SubscriptionError('in-use', `${describe(subscription)} has ${consumers} consumer(s); it cannot be removed while they are attached`);
  }

  /**
   * A temporary topic goes: the consumers of its subscriptions (their own connections, if any other
   * than the owner's) are ended, then every subscription is deleted with its messages.
   */
  deleteTemporary(name: string): void {
    const topic = this.topics.get(name);
    if (!topic || topic.owner === null) return;
    for (const subscription of [...topic.subscriptions.values()]) {
      for (const consumer of [...(this.host.state.queues.get(subscription.queue)?.consumers ?? [])]) {
        this.host.endConsumer(consumer.id, `the temporary topic "${name}" was deleted`);
      }
      if (this.byQueue.get(subscription.queue) === subscription) this.remove(subscription);
    }
    this.topics.delete(name);
  }

  /** Start-up: topics and durable subscriptions the store kept, before their queues' messages are recovered. */
  recover(stored: Pick<RecoveredStore, 'topics' | 'subscriptions'>): void {
    for (const name of stored.topics) this.topics.set(name, { name, owner: null, subscriptions: new Map(), publishedTotal: 0 });
    for (const record of stored.subscriptions) {
      let topic = this.topics.get(record.topic);
      if (!topic) {
        topic = { name: record.topic, owner: null, subscriptions: new Map(), publishedTotal: 0 };
        this.topics.set(record.topic, topic);
      }
      const selector = record.selector === undefined || record.selector === null ? null : this.compileSelector(record.selector);
      const subscription: Subscription = { queue: record.queue, topic, name: record.name, clientId: record.clientId, durable: true, shared: record.shared, selector };
      topic.subscriptions.set(record.queue, subscription);
      this.byQueue.set(record.queue, subscription);
      this.named.set(subscriptionKey(true, record.clientId, record.name), subscription);
    }
  }

  /** Whether a queue is kept in memory only (a non-durable subscription's): the store never hears of it. */
  isVolatileQueue(queue: string): boolean {
    const subscription = this.byQueue.get(queue);
    return subscription !== undefined && !subscription.durable;
  }

  reports(): TopicReport[] {
    return [...this.topics.values()]
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((topic) => ({
        name: topic.name,
        temporary: topic.owner !== null,
        publishedTotal: topic.publishedTotal,
        subscriptions: [...topic.subscriptions.values()].map((subscription) => {
          const queue = this.host.state.queues.get(subscription.queue);
          return {
            queue: subscription.queue,
            name: subscription.name,
            clientId: subscription.clientId,
            durable: subscription.durable,
            shared: subscription.shared,
            selector: subscription.selector?.text ?? null,
            consumers: queue?.consumers.length ?? 0,
            queued: queue?.queuedCount ?? 0,
          };
        }),
      }));
  }

  private create(topic: Topic, request: SubscriptionRequest, queueName: string): Subscription {
    const queue = this.unusedQueueName(queueName);
    const subscription: Subscription = {
      queue,
      topic,
      name: request.name,
      clientId: request.clientId,
      durable: request.durable,
      shared: request.shared,
      selector: request.selector,
    };
    topic.subscriptions.set(queue, subscription);
    this.byQueue.set(queue, subscription);
    if (subscription.durable) {
      const record: StoredSubscription = {
        queue,
        topic: topic.name,
        name: request.name!,
        clientId: request.clientId,
        shared: request.shared,
        ...(request.selector === null ? {} : { selector: request.selector.text }),
      };
      this.store.declareSubscription(record);
    }
    this.host.execute({ type: 'declare', queue });
    return subscription;
  }

  /** The subscription's consumers are gone; it goes with its queue and every message in it. */
  private remove(subscription: Subscription): void {
    subscription.topic.subscriptions.delete(subscription.queue);
    if (subscription.name !== null) this.named.delete(subscriptionKey(subscription.durable, subscription.clientId, subscription.name));
    this.host.execute({ type: 'delete-queue', queue: subscription.queue });
    this.byQueue.delete(subscription.queue);
  }

  /** `base`, or `base~2`, `base~3`...: subscription names are free text, so two may read the same. */
  private unusedQueueName(base: string): string {
    const taken = (name: string) => this.host.state.queues.has(name) || this.byQueue.has(name);
    if (!taken(base)) return base;
    let n = 2;
    while (taken(`${base}~${n}`)) n++;
    return `${base}~${n}`;
  }

  private consumerCount(subscription: Subscription): number {
    return this.host.state.queues.get(subscription.queue)?.consumers.length ?? 0;
  }
}

/**
 * A named subscription's identity: durable and non-durable names are separate namespaces (as Qpid JMS
 * keeps them), and a name is scoped to its client id unless it is global.
 */
function subscriptionKey(durable: boolean, clientId: string | null, name: string): string {
  return JSON.stringify([durable, clientId, name]);
}

function describe(subscription: Subscription): string {
  const kind = `${subscription.durable ? 'durable' : 'non-durable'}${subscription.shared ? ' shared' : ''} subscription`;
  const owner = subscription.clientId === null ? '' : ` of client "${subscription.clientId}"`;
  return `${kind} "${subscription.name}"${owner}`;
}
