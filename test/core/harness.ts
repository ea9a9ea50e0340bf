import { apply } from '../../src/core/apply';
import { createCoreState } from '../../src/core/state';
import type { Command, CoreState, Effect, Outcome, QueueOptions } from '../../src/core/types';
import { DEFAULT_QUEUE_OPTIONS } from '../../src/config/queue-policies';

export interface Delivered {
  readonly consumer: string;
  readonly deliveryId: number;
  readonly label: string;
  readonly deliveryCount: number;
  readonly settled: boolean;
}

/** Drives the core directly: labels stand for message bodies, every effect is recorded. */
export class CoreHarness {
  readonly state: CoreState;
  readonly effects: Effect[] = [];
  readonly delivered: Delivered[] = [];
  nowMs = 1_000;

  constructor(options: Partial<QueueOptions> = {}, perQueue: Record<string, Partial<QueueOptions>> = {}) {
    this.state = createCoreState((name) => ({ ...DEFAULT_QUEUE_OPTIONS, ...options, ...perQueue[name] }));
  }

  run(command: Command): Effect[] {
    const effects = apply(this.state, command, this.nowMs);
    this.effects.push(...effects);
    for (const effect of effects) {
      if (effect.type === 'deliver') {
        this.delivered.push({
          consumer: effect.consumerId,
          deliveryId: effect.deliveryId,
          label: labelOf(effect.message.body),
          deliveryCount: effect.message.deliveryCount,
          settled: effect.settled,
        });
      }
    }
    return effects;
  }

  send(queue: string, label: string, meta: { group?: string; closes?: boolean; expiresAtMs?: number } = {}): void {
    this.run({
      type: 'enqueue',
      queue,
      meta: {
        groupId: meta.group ?? null,
        closesGroup: meta.closes ?? false,
        expiresAtMs: meta.expiresAtMs ?? null,
        deliveryCount: 0,
        durable: false,
      },
      body: Buffer.from(label),
    });
  }

  attach(consumerId: string, queue: string, opts: { priority?: number; exclusive?: boolean; settleOnSend?: boolean; credit?: number } = {}): void {
    this.run({
      type: 'attach',
      consumerId,
      queue,
      priority: opts.priority ?? 0,
      exclusive: opts.exclusive ?? false,
      settleOnSend: opts.settleOnSend ?? false,
    });
    if (opts.credit !== undefined) this.credit(consumerId, opts.credit);
  }

  credit(consumerId: string, credit: number, drain = false): Effect[] {
    return this.run({ type: 'credit', consumerId, credit, drain });
  }

  detach(consumerId: string): void {
    this.run({ type: 'detach', consumerId });
  }

  settle(consumerId: string, label: string, outcome: Outcome = { type: 'accepted' }): void {
    const delivery = [...this.delivered].reverse().find((d) => d.consumer === consumerId && d.label === label);
    if (!delivery) throw new Error(`${consumerId} has no delivery of ${label}`);
    this.run({ type: 'settle', consumerId, deliveryId: delivery.deliveryId, outcome });
  }

  settleAll(consumerId: string, outcome: Outcome = { type: 'accepted' }): void {
    const consumer = this.state.consumers.get(consumerId);
    if (!consumer) return;
    for (const id of [...consumer.unsettled.keys()]) this.run({ type: 'settle', consumerId, deliveryId: id, outcome });
  }

  tick(advanceMs: number): void {
    this.nowMs += advanceMs;
    this.run({ type: 'tick' });
  }

  /** Labels received by a consumer, in order. */
  labels(consumerId: string): string[] {
    return this.delivered.filter((d) => d.consumer === consumerId).map((d) => d.label);
  }

  allLabels(): string[] {
    return this.delivered.map((d) => d.label);
  }

  effectsOf<T extends Effect['type']>(type: T): Extract<Effect, { type: T }>[] {
    return this.effects.filter((e): e is Extract<Effect, { type: T }> => e.type === type);
  }

  clearRecords(): void {
    this.delivered.length = 0;
    this.effects.length = 0;
  }
}

export function labelOf(body: Uint8Array): string {
  return Buffer.from(body).toString();
}

export const released: Outcome = { type: 'released' };
export const rejected: Outcome = { type: 'rejected' };
export const failed: Outcome = { type: 'modified', deliveryFailed: true, undeliverableHere: false };
export const notHere: Outcome = { type: 'modified', deliveryFailed: true, undeliverableHere: true };
