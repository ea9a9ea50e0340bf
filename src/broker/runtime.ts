import { apply } from '../core/apply';
import { groupViews, queueView, queueViews, type ConsumerView, type GroupView, type QueueView } from '../core/inspect';
import { nextDueMs } from '../core/schedule';
import { createCoreState } from '../core/state';
import type { Command, ConsumerId, CoreState, Effect, MessageMeta, QueuedMessage, QueueOptions } from '../core/types';
import type { MessageStore } from '../store/types';
import type { Logger } from './logger';
import { MemoryBudget, type MemoryLimits } from './memory-budget';
import { QueueCounters } from './queue-counters';
import { RoomForMessages, type Fullness } from './room-for-messages';
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

export type { Fullness } from './room-for-messages';

export interface StorageLimits extends MemoryLimits {
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
  private readonly memory: MemoryBudget;
  private readonly room: RoomForMessages;
  private readonly queueDeletedListeners = new Set<(queue: string) => void>();
  private readonly queueCreatedListeners: ((queue: string) => void)[] = [];
  private tickTimer: NodeJS.Timeout | null = null;
  /** The one timer for scheduled messages (README "Delayed delivery"), armed for the earliest due time. */
  private scheduleTimer: NodeJS.Timeout | null = null;
  private scheduleTimerDueMs: number | null = null;
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
    this.memory = new MemoryBudget(limits);
    this.room = new RoomForMessages(this.memory, { full: () => this.diskFull(), maxBytes: limits.maxDiskBytes }, (queue) => this.queueOptions(queue).maxMemoryBytes);
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
      const topic = topicOfQueue(queueName);
      options = this.resolveQueueOptions(topic ?? queueName);
      // A subscription's queue lives as long as its subscription (topics.ts), whatever its topic's options say.
      if (topic !== null && options.autoDelete) options = Object.freeze({ ...options, autoDelete: false });
      if (this.optionsCache.size > 10_000) this.optionsCache.clear();
      this.optionsCache.set(queueName, options);
    }
    return options;
  }

  /** Loads what the store kept: queues and their messages, in order. Before any client connects. */
  recover(): { queues: number; messages: number; topics: number; subscriptions: number } {
    const recovered = this.store.open(this.limits.maxMemoryBytes * this.limits.memoryPagingRatio);
    this.topics.recover(recovered);
    for (const subscription of recovered.subscriptions) this.execute({ type: 'declare', queue: subscription.queue });
    let messages = 0;
    for (const queue of recovered.queues) {
      this.execute({ type: 'declare', queue: queue.name });
      for (const message of queue.messages) {
        this.memory.add(queue.name, bytesInMemory(message.body));
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

  /** Calls back whenever the core creates a queue (first use, dead-lettering, recovery). */
  onQueueCreated(listener: (queue: string) => void): void {
    this.queueCreatedListeners.push(listener);
  }

  /** Every queue with its consumers (`convoy queues`). */
  /** The broker ends a consumer's link (its sink detaches it, as a client's detach would). */
  endConsumer(consumerId: ConsumerId, description: string): void {
    this.sinks.get(consumerId)?.end(description);
  }

  /**
   * Deletes a queue with its messages (README "Queue lifetime"): its consumers and browsers are detached
   * first with amqp:resource-deleted (their unsettled messages return to it, and go with it). Returns how
   * many messages went with it; null when there is no such queue.
   */
  deleteQueue(queueName: string): { messages: number } | null {
    const queue = this.state.queues.get(queueName);
    if (!queue) return null;
    const description = `queue "${queueName}" was deleted`;
    for (const consumer of [...queue.consumers]) this.endConsumer(consumer.id, description);
    for (const browser of [...this.state.browsers.values()]) if (browser.queue === queue) this.endConsumer(browser.id, description);
    const effects = this.execute({ type: 'delete-queue', queue: queueName });
    return { messages: effects.filter((effect) => effect.type === 'removed' && effect.reason === 'queue-deleted').length };
  }

  /** Told of every queue deleted (here, by an operator, with its subscription, or auto-deleted); returns how to stop listening. */
  onQueueDeleted(listener: (queue: string) => void): () => void {
    this.queueDeletedListeners.add(listener);
    return () => this.queueDeletedListeners.delete(listener);
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
  enqueueCopies(copies: readonly { readonly queue: string; readonly meta: MessageMeta }[], received: Uint8Array): void {
    // The copies keep the bytes: one buffer of their own for all of them (see ownBodiesKept).
    const body = copies.length > 1 ? ownBuffer(received) : received;
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
    if (command.type === 'enqueue') ownBodiesKept(effects);
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

  /**
   * Message memory in use (README "Limits"): bodies held in memory (the rest are paged to the store),
   * and the bookkeeping of every message and unsettled delivery; with `queue`, that queue's share.
   */
  memoryBytesInUse(queue?: string): number {
    return queue === undefined ? this.memory.used : this.memory.queueBytes(queue);
  }

  /** Why a message to `queue` (null: to no queue in particular) cannot be taken now (store, memory); null when it can. */
  fullFor(queue: string | null): Fullness | null {
    return this.room.fullFor(queue);
  }

  /** Calls back once when there is room for messages to `queue` again; returns how to stop waiting. */
  whenRoom(queue: string | null, callback: () => void): () => void {
    return this.room.whenRoom(queue, callback);
  }

  /** Bytes of messages still arriving in several frames: in memory already (negative once done). */
  messageArriving(deltaBytes: number): void {
    this.memory.arriving(deltaBytes);
    if (deltaBytes < 0) this.room.freed();
  }

  /**
   * Deliveries sent unsettled and not settled yet, each costing DELIVERY_BOOKKEEPING_BYTES, plus the
   * bodies read back from the store to send them (negative: settled or returned).
   */
  deliveriesInFlight(count: number, readBackBytes: number): void {
    this.memory.deliveries(count, readBackBytes);
    if (count < 0) this.room.freed();
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

  private tick(): void {
    this.execute({ type: 'tick' });
    this.store.reclaim();
    this.turn.request();
    this.room.freed();
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
        this.forget(effect.queue, effect.message);
        if (effect.reason === 'expired') this.logger.debug({ queue: effect.queue, messageId: effect.message.id }, 'message expired');
        if (effect.reason === 'dead-letter-loop') {
          this.logger.warn({ queue: effect.queue, messageId: effect.message.id }, 'message dropped: it failed in its own dead-letter queue');
        }
        break;
      case 'dead-lettered':
        this.forget(effect.queue, effect.message);
        this.logger.info(
          { queue: effect.queue, deadLetterQueue: effect.deadLetterQueue, reason: effect.reason, deliveryCount: effect.message.deliveryCount },
          'message dead-lettered',
        );
        break;
      case 'retried':
        this.forget(effect.queue, effect.message);
        break;
      case 'delivery-count':
        if (effect.message.durable) this.store.setDeliveryCount(effect.message.id, effect.message.deliveryCount);
        break;
      case 'queue-created':
        // A non-durable subscription's queue is never stored: after a restart it must not come back.
        if (!this.topics.isVolatileQueue(effect.queue)) this.store.declareQueue(effect.queue);
        this.logger.info({ queue: effect.queue, options: effect.options }, 'queue created');
        for (const listener of this.queueCreatedListeners) listener(effect.queue);
        break;
      case 'queue-deleted':
        this.store.deleteQueue(effect.queue);
        this.optionsCache.delete(effect.queue);
        for (const listener of this.queueDeletedListeners) listener(effect.queue);
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
   * A new message in a queue: durable ones are written to the store; past the paging threshold any
   * message's body moves to the store (paging) and only a reference stays in memory. Its memory is
   * counted either way (README "Limits").
   */
  private stored(queue: string, message: QueuedMessage): void {
    const bytes = this.messageBytes(message);
    const holders = this.sharedBodies.get(bytes);
    // Another copy holds these bytes in memory already: this one costs no memory, and paging it saves none.
    const page = (holders === undefined || holders === 0) && !this.store.keepsBodiesInMemory && this.memory.shouldPage(bytes.length);
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
    const inMemory = bytesInMemory(message.body);
    if (inMemory > 0 && holders !== undefined) this.sharedBodies.set(bytes, holders + 1);
    this.memory.add(queue, inMemory, inMemory > 0 && holders !== undefined && holders > 0);
  }

  /** A message left `queue` (consumed, expired, dead-lettered away, deleted with the queue). */
  private forget(queue: string, message: QueuedMessage): void {
    const inMemory = bytesInMemory(message.body);
    this.memory.remove(queue, inMemory, inMemory > 0 && this.release(message.body as Uint8Array));
    if (message.durable || inMemory === 0) this.store.remove(message.id);
    this.room.freed();
  }

  /** One holder fewer of `body` in memory; true while other holders keep it (its bytes still count). */
  private release(body: Uint8Array): boolean {
    const holders = this.sharedBodies.get(body);
    if (holders !== undefined && holders > 1) {
      this.sharedBodies.set(body, holders - 1);
      return true;
    }
    this.sharedBodies.delete(body);
    return false;
  }
}

/**
 * A body read from the socket is a view into the buffer it arrived in, and keeps all of that buffer
 * alive (other messages, frame headers, bytes rhea copied when a frame spanned two reads): a message
 * kept among many gone would hold more memory than it is counted for. A message the broker keeps (queued,
 * or delivered unsettled) gets a copy of its own; one sent settled at once does not.
 */
function ownBodiesKept(effects: readonly Effect[]): void {
  for (const effect of effects) {
    if (effect.type !== 'enqueued') continue;
    const body = effect.message.body;
    if (!(body instanceof Uint8Array) || body.byteLength === body.buffer.byteLength) continue;
    if (effects.some((other) => other.type === 'deliver' && other.message === effect.message && other.settled)) continue;
    effect.message.body = ownBuffer(body);
  }
}

/** The bytes in a buffer of their own (a view shares, and keeps alive, the buffer it is a view of). */
function ownBuffer(bytes: Uint8Array): Uint8Array {
  if (bytes.byteLength === bytes.buffer.byteLength) return bytes;
  const own = Buffer.allocUnsafeSlow(bytes.byteLength);
  own.set(bytes);
  return own;
}

function bytesInMemory(body: QueuedMessage['body']): number {
  return body instanceof Uint8Array ? body.length : 0;
}
