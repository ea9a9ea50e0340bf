import { apply } from '../core/apply';
import { groupViews, queueView, queueViews, type ConsumerView, type GroupView, type QueueView } from '../core/inspect';
import { createCoreState } from '../core/state';
import type { Command, ConsumerId, CoreState, Effect, QueuedMessage, QueueOptions } from '../core/types';
import type { MessageStore } from '../store/types';
import type { Logger } from './logger';
import { MemoryBudget, type MemoryLimits } from './memory-budget';
import { RoomForMessages, type Fullness } from './room-for-messages';
import { BrokerTurn } from './turn';

export type DeliverEffect = Extract<Effect, { type: 'deliver' }>;

/** Where the runtime sends a consumer's effects: the AMQP link that stands for it. */
export interface ConsumerSink {
  /** `bytes` is the message as stored (read back from the store when it was paged out). */
  deliver(effect: DeliverEffect, bytes: Uint8Array): void;
  drained(): void;
  /** The consumer's queue was deleted: the consumer is gone (its deliveries with the queue). */
  queueDeleted(queue: string): void;
}

/** A queue as operators see it: each consumer with the client it belongs to. */
export type QueueReport = Omit<QueueView, 'consumers'> & { readonly consumers: readonly (ConsumerView & { readonly client: string })[] };

export type { Fullness } from './room-for-messages';

export interface StorageLimits extends MemoryLimits {
  /** Past this, producers are held back or refused (diskFullPolicy). */
  readonly maxDiskBytes: number;
}

const TICK_INTERVAL_MS = 1000;

/**
 * Owns the dispatch core's state, the clock and the store. Commands from the AMQP layer are applied
 * one at a time and their effects carried out in order; what they write reaches the disk and then the
 * network at the end of the turn, in that order (src/broker/turn.ts).
 */
export class BrokerRuntime {
  readonly state: CoreState;
  /** The end of every turn: store step, then network step. Connections write through it. */
  readonly turn: BrokerTurn;
  private readonly sinks = new Map<ConsumerId, ConsumerSink>();
  /** Who each consumer is, for operators: client container, address, link name. */
  private readonly clients = new Map<ConsumerId, string>();
  private readonly optionsCache = new Map<string, QueueOptions>();
  private readonly memory: MemoryBudget;
  private readonly room: RoomForMessages;
  private readonly queueDeletedListeners = new Set<(queue: string) => void>();
  private tickTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly resolveQueueOptions: (queueName: string) => QueueOptions,
    private readonly store: MessageStore,
    private readonly limits: StorageLimits,
    private readonly logger: Logger,
    private readonly clock: () => number = Date.now,
  ) {
    this.state = createCoreState((name) => this.queueOptions(name));
    this.turn = new BrokerTurn(store);
    this.memory = new MemoryBudget(limits);
    this.room = new RoomForMessages(this.memory, { full: () => this.diskFull(), maxBytes: limits.maxDiskBytes }, (queue) => this.queueOptions(queue).maxMemoryBytes);
  }

  now(): number {
    return this.clock();
  }

  /** A queue's options (from the configuration), whether or not the queue exists yet. */
  queueOptions(queueName: string): QueueOptions {
    const existing = this.state.queues.get(queueName);
    if (existing) return existing.options;
    let options = this.optionsCache.get(queueName);
    if (!options) {
      options = this.resolveQueueOptions(queueName);
      if (this.optionsCache.size > 10_000) this.optionsCache.clear();
      this.optionsCache.set(queueName, options);
    }
    return options;
  }

  /** Loads what the store kept: queues and their messages, in order. Before any client connects. */
  recover(): { queues: number; messages: number } {
    const recovered = this.store.open(this.limits.maxMemoryBytes * this.limits.memoryPagingRatio);
    let messages = 0;
    for (const queue of recovered.queues) {
      this.execute({ type: 'declare', queue: queue.name });
      for (const message of queue.messages) {
        this.memory.add(queue.name, bytesInMemory(message.body));
        this.execute({ type: 'recover', queue: queue.name, message });
        messages++;
      }
    }
    return { queues: recovered.queues.length, messages };
  }

  start(): void {
    this.tickTimer = setInterval(() => this.tick(), TICK_INTERVAL_MS);
    this.tickTimer.unref();
  }

  stop(): void {
    if (this.tickTimer) clearInterval(this.tickTimer);
    this.tickTimer = null;
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

  /**
   * Deletes a queue with its messages, queued and in flight, and its consumers (README "Queue lifetime");
   * false when there is no such queue.
   */
  deleteQueue(queue: string): boolean {
    if (!this.state.queues.has(queue)) return false;
    this.execute({ type: 'delete-queue', queue });
    return true;
  }

  /** Told of every queue deleted (by deleteQueue or auto-delete); returns how to stop listening. */
  onQueueDeleted(listener: (queue: string) => void): () => void {
    this.queueDeletedListeners.add(listener);
    return () => this.queueDeletedListeners.delete(listener);
  }

  /** Every queue with its consumers (`convoy queues`). */
  queueReports(): QueueReport[] {
    return queueViews(this.state).map((view) => this.withClients(view));
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

  execute(command: Command): void {
    const effects = apply(this.state, command, this.clock());
    for (const effect of effects) this.perform(effect);
    if (command.type === 'enqueue') ownBodiesKept(effects);
    if (effects.length > 0) this.turn.request();
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

  /** Message memory in use and per queue (README "Limits"). */
  memoryUsed(queue?: string): number {
    return queue === undefined ? this.memory.used : this.memory.queueBytes(queue);
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
        const bytes = message.body instanceof Uint8Array ? message.body : this.store.readBody(message.body);
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
      case 'delivery-count':
        if (effect.message.durable) this.store.setDeliveryCount(effect.message.id, effect.message.deliveryCount);
        break;
      case 'queue-created':
        this.store.declareQueue(effect.queue);
        this.logger.info({ queue: effect.queue, options: effect.options }, 'queue created');
        break;
      case 'queue-deleted':
        this.queueDeleted(effect);
        break;
      case 'exclusive-active':
        this.logger.info({ queue: effect.queue, consumer: effect.consumerId }, 'active exclusive consumer');
        break;
      case 'group-owner':
        this.logger.debug({ queue: effect.queue, group: effect.groupId, consumer: effect.consumerId }, 'group owner');
        break;
    }
  }

  /** The queue's messages are forgotten (and removed from the store), then the queue; its consumers are told. */
  private queueDeleted(effect: Extract<Effect, { type: 'queue-deleted' }>): void {
    for (const message of effect.messages) this.forget(effect.queue, message);
    this.store.deleteQueue(effect.queue);
    for (const consumerId of effect.consumers) {
      const sink = this.sinks.get(consumerId);
      this.sinks.delete(consumerId);
      this.clients.delete(consumerId);
      sink?.queueDeleted(effect.queue);
    }
    for (const listener of this.queueDeletedListeners) listener(effect.queue);
    this.optionsCache.delete(effect.queue);
    this.logger.info({ queue: effect.queue, reason: effect.reason, messages: effect.messages.length, consumers: effect.consumers.length }, 'queue deleted');
  }

  /**
   * A new message in a queue: durable ones are written to the store; past the paging threshold any
   * message's body moves to the store (paging) and only a reference stays in memory. Its memory is
   * counted either way (README "Limits").
   */
  private stored(queue: string, message: QueuedMessage): void {
    const bytes = message.body instanceof Uint8Array ? message.body : this.store.readBody(message.body);
    const page = !this.store.keepsBodiesInMemory && this.memory.shouldPage(bytes.length);
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
          },
        },
        bytes,
        page,
      );
    }
    this.memory.add(queue, bytesInMemory(message.body));
  }

  /** A message left `queue` (consumed, expired, dead-lettered away, deleted with the queue). */
  private forget(queue: string, message: QueuedMessage): void {
    this.memory.remove(queue, bytesInMemory(message.body));
    if (message.durable || !(message.body instanceof Uint8Array)) this.store.remove(message.id);
    this.room.freed();
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
    const own = Buffer.allocUnsafeSlow(body.byteLength);
    own.set(body);
    effect.message.body = own;
  }
}

function bytesInMemory(body: QueuedMessage['body']): number {
  return body instanceof Uint8Array ? body.length : 0;
}
