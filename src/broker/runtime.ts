import { apply } from '../core/apply';
import { groupViews, queueView, queueViews, type ConsumerView, type GroupView, type QueueView } from '../core/inspect';
import { nextDueMs } from '../core/schedule';
import { createCoreState } from '../core/state';
import type { Command, ConsumerId, CoreState, Effect, MessageMeta, QueuedMessage, QueueOptions } from '../core/types';
import type { MessageStore } from '../store/types';
import type { Logger } from './logger';
import { QueueCounters } from './queue-counters';
import { topicOfQueue, Topics, type SubscriptionSelectorCompiler, type TopicReport } from './topics';
import { BrokerTurn } from './turn';

export type DeliverEffect = Extract<Effect, { type: 'deliver' }>;

/** Where the runtime sends a consumer's effects: the AMQP link that stands for it. */
export interface ConsumerSink {
  /** `bytes` is the message as stored (read back from the store when it was paged out). */
  deliver(effect: DeliverEffect, bytes: Uint8Array): void;
  drained(): void;
  /** The broker ends the link (its subscription is going away); the sink detaches from the runtime. */
  end(description: string): void;
}

/** A queue as operators see it: each consumer with the client it belongs to. */
export type QueueReport = Omit<QueueView, 'consumers'> & { readonly consumers: readonly (ConsumerView & { readonly client: string })[] };

export interface StorageLimits {
  /** Bodies kept in memory; beyond this, new messages are paged to the store. */
  readonly maxMemoryBytes: number;
  /** Past this, producers are held back or refused (diskFullPolicy). */
  readonly maxDiskBytes: number;
}

const TICK_INTERVAL_MS = 1000;

/** Without the AMQP layer's compiler (a runtime built bare, in tests), a stored selector cannot be served. */
const refuseStoredSelector: SubscriptionSelectorCompiler = (text) => {
  throw new Error(`no selector compiler: the stored subscription selector "${text}" cannot be applied`);
};
/** setTimeout's longest delay (2^31 - 1 ms); a later delivery time is reached in steps of it. */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * Owns the dispatch core's state, the clock and the store. Commands from the AMQP layer are applied
 * one at a time and their effects carried out in order; what they write reaches the disk and then the
 * network at the end of the turn, in that order (src/broker/turn.ts).
 */
export class BrokerRuntime {
  readonly state: CoreState;
  /** The end of every turn: store step, then network step. Connections write through it. */
  readonly turn: BrokerTurn;
  /** What happened to each queue's messages since start (metrics, operator views). */
  readonly counters = new QueueCounters();
  /** Topics and their subscriptions: which queues a message published to a topic enters. */
  readonly topics: Topics;
  private readonly sinks = new Map<ConsumerId, ConsumerSink>();
  /** Who each consumer is, for operators: client container, address, link name. */
  private readonly clients = new Map<ConsumerId, string>();
  private readonly optionsCache = new Map<string, QueueOptions>();
  private readonly spaceWaiters = new Set<() => void>();
  private tickTimer: NodeJS.Timeout | null = null;
  /** The one timer for scheduled messages (README "Delayed delivery"), armed for the earliest due time. */
  private scheduleTimer: NodeJS.Timeout | null = null;
  private scheduleTimerDueMs: number | null = null;
  private memoryBytes = 0;
  /**
   * Bodies that several messages hold (a topic's copies), with how many of them hold it in memory: it
   * counts once against maxMemoryBytes, from the first holder until the last is forgotten.
   */
  private readonly sharedBodies = new Map<Uint8Array, number>();

  constructor(
    private readonly resolveQueueOptions: (queueName: string) => QueueOptions,
    private readonly store: MessageStore,
    private readonly limits: StorageLimits,
    private readonly logger: Logger,
    private readonly clock: () => number = Date.now,
    /** The `topics` option: whether the configuration makes a name a topic. */
    configuredTopic: (name: string) => boolean = () => false,
    /** Compiles the selectors of stored subscriptions at start-up (the AMQP layer's; README "Selectors"). */
    compileSubscriptionSelector: SubscriptionSelectorCompiler = refuseStoredSelector,
  ) {
    this.state = createCoreState((name) => this.queueOptions(name));
    this.turn = new BrokerTurn(store);
    this.topics = new Topics(this, store, configuredTopic, compileSubscriptionSelector);
  }

  now(): number {
    return this.clock();
  }

  /**
   * A queue's options (from the configuration), whether or not the queue exists yet. A topic's name
   * resolves like a queue's, and each of its subscriptions (`<topic>::<subscription>`) takes its topic's.
   */
  queueOptions(queueName: string): QueueOptions {
    const existing = this.state.queues.get(queueName);
    if (existing) return existing.options;
    let options = this.optionsCache.get(queueName);
    if (!options) {
      options = this.resolveQueueOptions(topicOfQueue(queueName) ?? queueName);
      if (this.optionsCache.size > 10_000) this.optionsCache.clear();
      this.optionsCache.set(queueName, options);
    }
    return options;
  }

  /** Loads what the store kept: queues and their messages, in order. Before any client connects. */
  recover(): { queues: number; messages: number; topics: number; subscriptions: number } {
    const recovered = this.store.open(this.limits.maxMemoryBytes);
    this.topics.recover(recovered);
    for (const subscription of recovered.subscriptions) this.execute({ type: 'declare', queue: subscription.queue });
    let messages = 0;
    for (const queue of recovered.queues) {
      this.execute({ type: 'declare', queue: queue.name });
      for (const message of queue.messages) {
        if (message.body instanceof Uint8Array) this.memoryBytes += message.body.length;
        this.execute({ type: 'recover', queue: queue.name, message });
        messages++;
      }
    }
    for (const queue of recovered.queues) {
      if (topicOfQueue(queue.name) === null && !this.topics.isTopic(queue.name) && this.topics.isConfiguredTopic(queue.name)) {
        this.logger.warn({ queue: queue.name }, 'a stored queue matches the "topics" option: it stays a queue while it exists, and topic clients are refused');
      }
    }
    return { queues: recovered.queues.length, messages, topics: recovered.topics.length, subscriptions: recovered.subscriptions.length };
  }

  start(): void {
    this.tickTimer = setInterval(() => this.tick(), TICK_INTERVAL_MS);
    this.tickTimer.unref();
  }

  stop(): void {
    if (this.tickTimer) clearInterval(this.tickTimer);
    this.tickTimer = null;
    if (this.scheduleTimer) clearTimeout(this.scheduleTimer);
    this.scheduleTimer = null;
    this.store.close();
  }

  attachConsumer(command: Extract<Command, { type: 'attach' }>, sink: ConsumerSink, client: string): void {
    this.sinks.set(command.consumerId, sink);
    this.clients.set(command.consumerId, client);
    this.execute(command);
  }

  detachConsumer(consumerId: ConsumerId): void {
    if (!this.sinks.delete(consumerId)) return;
    this.clients.delete(consumerId);
    this.execute({ type: 'detach', consumerId });
  }

  /** The broker ends a consumer's link (its sink detaches it, as a client's detach would). */
  endConsumer(consumerId: ConsumerId, description: string): void {
    this.sinks.get(consumerId)?.end(description);
  }

  /** Every queue with its consumers (`convoy queues`); subscription queues are named `<topic>::<subscription>`. */
  queueReports(): QueueReport[] {
    return queueViews(this.state).map((view) => this.withClients(view));
  }

  /** Every topic with its subscriptions (`convoy queues`). */
  topicReports(): TopicReport[] {
    return this.topics.reports();
  }

  /** One queue with its groups (`convoy groups`); null when there is no such queue. */
  groupReport(queueName: string): { queue: QueueReport; groups: GroupView[] } | null {
    const queue = this.state.queues.get(queueName);
    return queue ? { queue: this.withClients(queueView(queue)), groups: groupViews(queue) } : null;
  }

  /** Names each consumer's client: container id, address, link name. */
  private withClients(view: QueueView): QueueReport {
    return { ...view, consumers: view.consumers.map((consumer) => ({ ...consumer, client: this.clients.get(consumer.id) ?? '' })) };
  }

  /** A message published to a topic: one enqueue per subscription queue, every copy holding the same bytes. */
  enqueueCopies(copies: readonly { readonly queue: string; readonly meta: MessageMeta }[], body: Uint8Array): void {
    if (copies.length > 1) this.sharedBodies.set(body, 0);
    for (const { queue, meta } of copies) this.execute({ type: 'enqueue', queue, meta, body });
    if (this.sharedBodies.get(body) === 0) this.sharedBodies.delete(body);
  }

  execute(command: Command): readonly Effect[] {
    const effects = apply(this.state, command, this.clock());
    for (const effect of effects) {
      this.counters.count(effect);
      this.perform(effect);
    }
    if (effects.length > 0) this.turn.request();
    this.armScheduleTimer();
    return effects;
  }

  /** The message's bytes as stored: in memory, or read back from the store when it was paged out. */
  messageBytes(message: QueuedMessage): Uint8Array {
    return message.body instanceof Uint8Array ? message.body : this.store.readBody(message.body);
  }

  /** One timer for the earliest scheduled message; when it fires, the core lets due messages in. */
  private armScheduleTimer(): void {
    const dueMs = nextDueMs(this.state);
    if (dueMs === this.scheduleTimerDueMs) return;
    if (this.scheduleTimer) clearTimeout(this.scheduleTimer);
    this.scheduleTimer = null;
    this.scheduleTimerDueMs = dueMs;
    if (dueMs === null) return;
    const delayMs = Math.min(MAX_TIMER_MS, Math.max(0, dueMs - this.clock()));
    this.scheduleTimer = setTimeout(() => {
      this.scheduleTimer = null;
      this.scheduleTimerDueMs = null;
      this.execute({ type: 'clock' });
    }, delayMs);
    this.scheduleTimer.unref();
  }

  /** Bytes of message bodies held in memory (the rest are paged to the store). */
  memoryBytesInUse(): number {
    return this.memoryBytes;
  }

  /** Bytes the store occupies on disk. */
  diskBytes(): number {
    return this.store.diskBytes();
  }

  /**
   * Applies the commands one after another, their store records forming one atomic unit: after a crash
   * all of them are recovered or none (a committed transaction, src/broker/transactions.ts). They run
   * in this one call, so no other client's command falls between them.
   */
  executeAtomically(commands: readonly Command[]): void {
    this.store.beginAtomic();
    try {
      for (const command of commands) this.execute(command);
    } finally {
      this.store.endAtomic();
    }
  }

  /** Calls back once everything stored so far is durable (fsync policy): producers are accepted then. */
  whenDurable(callback: () => void): void {
    this.store.whenDurable(callback);
    this.turn.request();
  }

  /** The store has reached maxDiskBytes. */
  diskFull(): boolean {
    return this.store.diskBytes() >= this.limits.maxDiskBytes;
  }

  /** Calls back once when disk space is available again. */
  onSpaceAvailable(callback: () => void): void {
    this.spaceWaiters.add(callback);
  }

  private tick(): void {
    this.execute({ type: 'tick' });
    this.store.reclaim();
    this.turn.request();
    if (this.spaceWaiters.size > 0 && !this.diskFull()) {
      const waiters = [...this.spaceWaiters];
      this.spaceWaiters.clear();
      for (const waiter of waiters) waiter();
    }
  }

  private perform(effect: Effect): void {
    switch (effect.type) {
      case 'deliver': {
        const message = effect.message;
        const bytes = this.messageBytes(message);
        // The turn's store step writes this record before its network step sends the transfer.
        if (message.durable && !effect.settled) this.store.markDelivered(message.id);
        this.sinks.get(effect.consumerId)?.deliver(effect, bytes);
        break;
      }
      case 'drained':
        this.sinks.get(effect.consumerId)?.drained();
        break;
      case 'enqueued':
        this.stored(effect.queue, effect.message);
        break;
      case 'scheduled-due':
        if (effect.message.durable) this.store.setPosition(effect.message.id, effect.message.seq);
        break;
      case 'removed':
        this.forget(effect.message);
        if (effect.reason === 'expired') this.logger.debug({ queue: effect.queue, messageId: effect.message.id }, 'message expired');
        if (effect.reason === 'dead-letter-loop') {
          this.logger.warn({ queue: effect.queue, messageId: effect.message.id }, 'message dropped: it failed in its own dead-letter queue');
        }
        break;
      case 'dead-lettered':
        this.forget(effect.message);
        this.logger.info(
          { queue: effect.queue, deadLetterQueue: effect.deadLetterQueue, reason: effect.reason, deliveryCount: effect.message.deliveryCount },
          'message dead-lettered',
        );
        break;
      case 'retried':
        this.forget(effect.message);
        break;
      case 'delivery-count':
        if (effect.message.durable) this.store.setDeliveryCount(effect.message.id, effect.message.deliveryCount);
        break;
      case 'queue-created':
        // A non-durable subscription's queue is never stored: after a restart it must not come back.
        if (!this.topics.isVolatileQueue(effect.queue)) this.store.declareQueue(effect.queue);
        this.logger.info({ queue: effect.queue, options: effect.options }, 'queue created');
        break;
      case 'queue-deleted':
        this.store.deleteQueue(effect.queue);
        this.logger.info({ queue: effect.queue }, 'queue deleted');
        break;
      case 'exclusive-active':
        this.logger.info({ queue: effect.queue, consumer: effect.consumerId }, 'active exclusive consumer');
        break;
      case 'group-owner':
        this.logger.debug({ queue: effect.queue, group: effect.groupId, consumer: effect.consumerId }, 'group owner');
        break;
    }
  }

  /**
   * A new message in a queue: durable ones are written to the store; beyond the memory budget any
   * message's body moves to the store (paging) and only a reference stays in memory.
   */
  private stored(queue: string, message: QueuedMessage): void {
    const bytes = this.messageBytes(message);
    const holders = this.sharedBodies.get(bytes);
    // Another copy holds these bytes in memory already: this one costs no memory, and paging it saves none.
    const page = (holders === undefined || holders === 0) && this.memoryBytes + bytes.length > this.limits.maxMemoryBytes;
    if (message.durable || page) {
      message.body = this.store.add(
        {
          id: message.id,
          queue,
          seq: message.seq,
          meta: {
            groupId: message.groupId,
            closesGroup: message.closesGroup,
            expiresAtMs: message.expiresAtMs,
            deliveryCount: message.deliveryCount,
            durable: message.durable,
            priority: message.priority,
            deliverAtMs: message.deliverAtMs,
          },
          deadLetteredFrom: message.deadLetteredFrom,
        },
        bytes,
        page,
      );
    }
    if (!(message.body instanceof Uint8Array)) return;
    if (holders !== undefined) this.sharedBodies.set(bytes, holders + 1);
    if (!holders) this.memoryBytes += message.body.length;
  }

  /** A message left the broker (consumed, expired, dead-lettered away from its queue). */
  private forget(message: QueuedMessage): void {
    if (message.body instanceof Uint8Array) this.release(message.body);
    if (message.durable || !(message.body instanceof Uint8Array)) this.store.remove(message.id);
  }

  /** One holder fewer of `body` in memory; its bytes stop counting when the last one goes. */
  private release(body: Uint8Array): void {
    const holders = this.sharedBodies.get(body);
    if (holders !== undefined && holders > 1) {
      this.sharedBodies.set(body, holders - 1);
      return;
    }
    this.sharedBodies.delete(body);
    this.memoryBytes -= body.length;
  }
}
