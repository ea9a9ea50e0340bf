import { apply } from '../core/apply';
import { createCoreState } from '../core/state';
import type { Command, ConsumerId, CoreState, Effect, QueueOptions } from '../core/types';
import type { Logger } from './logger';

export type DeliverEffect = Extract<Effect, { type: 'deliver' }>;

/** Where the runtime sends a consumer's effects: the AMQP link that stands for it. */
export interface ConsumerSink {
  deliver(effect: DeliverEffect): void;
  drained(): void;
}

const TICK_INTERVAL_MS = 1000;

/**
 * Owns the dispatch core's state and the clock. Commands from the AMQP layer are applied one at a
 * time; their effects are carried out in order. The only place where time enters the core.
 */
export class BrokerRuntime {
  readonly state: CoreState;
  private readonly sinks = new Map<ConsumerId, ConsumerSink>();
  private readonly optionsCache = new Map<string, QueueOptions>();
  private tickTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly resolveQueueOptions: (queueName: string) => QueueOptions,
    private readonly logger: Logger,
    private readonly clock: () => number = Date.now,
  ) {
    this.state = createCoreState((name) => this.queueOptions(name));
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

  start(): void {
    this.tickTimer = setInterval(() => this.execute({ type: 'tick' }), TICK_INTERVAL_MS);
    this.tickTimer.unref();
  }

  stop(): void {
    if (this.tickTimer) clearInterval(this.tickTimer);
    this.tickTimer = null;
  }

  attachConsumer(command: Extract<Command, { type: 'attach' }>, sink: ConsumerSink): void {
    this.sinks.set(command.consumerId, sink);
    this.execute(command);
  }

  detachConsumer(consumerId: ConsumerId): void {
    if (!this.sinks.delete(consumerId)) return;
    this.execute({ type: 'detach', consumerId });
  }

  execute(command: Command): void {
    const effects = apply(this.state, command, this.clock());
    for (const effect of effects) this.perform(effect);
  }

  private perform(effect: Effect): void {
    switch (effect.type) {
      case 'deliver':
        this.sinks.get(effect.consumerId)?.deliver(effect);
        break;
      case 'drained':
        this.sinks.get(effect.consumerId)?.drained();
        break;
      case 'removed':
        if (effect.reason === 'expired') this.logger.debug({ queue: effect.queue, messageId: effect.message.id }, 'message expired');
        if (effect.reason === 'dead-letter-loop') {
          this.logger.warn({ queue: effect.queue, messageId: effect.message.id }, 'message dropped: it failed in its own dead-letter queue');
        }
        break;
      case 'dead-lettered':
        this.logger.info(
          { queue: effect.queue, deadLetterQueue: effect.deadLetterQueue, reason: effect.reason, deliveryCount: effect.message.deliveryCount },
          'message dead-lettered',
        );
        break;
      case 'queue-created':
        this.logger.info({ queue: effect.queue, options: effect.options }, 'queue created');
        break;
      case 'exclusive-active':
        this.logger.info({ queue: effect.queue, consumer: effect.consumerId }, 'active exclusive consumer');
        break;
      case 'group-owner':
        this.logger.debug({ queue: effect.queue, group: effect.groupId, consumer: effect.consumerId }, 'group owner');
        break;
      case 'enqueued':
      case 'delivery-count':
        break;
    }
  }
}
