import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { BrokerRuntime } from '../broker/runtime';
import type { QueueCounts } from '../broker/queue-counters';
import type { Queue } from '../core/types';

/** What the metrics read besides the runtime. */
export interface MetricSources {
  readonly runtime: BrokerRuntime;
  /** Open AMQP connections. */
  connectionCount(): number;
}

type QueueCounterName = keyof QueueCounts;

const QUEUE_COUNTERS: readonly [QueueCounterName, string, string][] = [
  ['enqueued', 'convoy_queue_enqueued_total', 'Messages that entered the queue (sent, dead-lettered into it, retried back into it)'],
  ['delivered', 'convoy_queue_delivered_total', 'Deliveries to consumers, redeliveries included'],
  ['acknowledged', 'convoy_queue_acknowledged_total', 'Deliveries accepted (settled without an outcome, or sent pre-settled, count as accepted)'],
  ['redelivered', 'convoy_queue_redelivered_total', 'Deliveries of messages with delivery-count > 0 (JMSRedelivered)'],
  ['deadLettered', 'convoy_queue_dead_lettered_total', 'Messages moved to the dead-letter queue (rejected, or maxDeliveryAttempts reached)'],
  ['expired', 'convoy_queue_expired_total', 'Messages dropped because their time to live ran out'],
];

/**
 * The broker's Prometheus metrics (prom-client), read from the broker when scraped: nothing is updated per
 * message but the runtime's queue counters. Every per-queue series has the label `queue` alone (and
 * `state` for groups): their number follows the queues, never the groups. Broker-wide: connections,
 * journal bytes, the fdatasync latency histogram, and prom-client's process metrics (event-loop lag,
 * memory, CPU, garbage collection).
 */
export class BrokerMetrics {
  readonly registry = new Registry();
  private readonly fsyncSeconds: Histogram;

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    this.fsyncSeconds = new Histogram({
      name: 'convoy_fsync_duration_seconds',
      help: 'Time each fdatasync of the journal took',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [this.registry],
    });
  }

  /** Hands the store's fdatasync durations to the histogram. */
  readonly observeFsync = (seconds: number): void => this.fsyncSeconds.observe(seconds);

  /** Registers the gauges and counters that read the broker at each scrape. */
  watch(sources: MetricSources): void {
    const { runtime } = sources;
    const registers = [this.registry];
    const queues = (): Iterable<Queue> => runtime.state.queues.values();
    const perQueue = (name: string, help: string, value: (queue: Queue) => number): void => {
      new Gauge({
        name,
        help,
        labelNames: ['queue'],
        registers,
        collect() {
          this.reset();
          for (const queue of queues()) this.set({ queue: queue.name }, value(queue));
        },
      });
    };
    perQueue('convoy_queue_messages', 'Messages queued (not in flight)', (queue) => queue.queuedCount);
    perQueue('convoy_queue_in_flight', 'Messages delivered and not yet settled', (queue) => queue.inFlightCount);
    perQueue('convoy_queue_consumers', 'Attached consumers', (queue) => queue.consumers.length);
    new Gauge({
      name: 'convoy_queue_groups',
      help: 'Message groups: owned (has an owner) and unassigned (has none) add up to all; blocked: those whose queued messages cannot go now',
      labelNames: ['queue', 'state'],
      registers,
      collect() {
        this.reset();
        for (const queue of queues()) {
          let owned = 0;
          for (const consumer of queue.consumers) owned += consumer.groups.size;
          this.set({ queue: queue.name, state: 'owned' }, owned);
          this.set({ queue: queue.name, state: 'unassigned' }, queue.groups.size - owned);
          this.set({ queue: queue.name, state: 'blocked' }, queue.groupsWithQueued);
        }
      },
    });
    for (const [key, name, help] of QUEUE_COUNTERS) {
      new Counter({
        name,
        help,
        labelNames: ['queue'],
        registers,
        collect() {
          this.reset();
          for (const queue of queues()) this.inc({ queue: queue.name }, runtime.counters.of(queue.name)[key]);
        },
      });
    }
    const brokerGauge = (name: string, help: string, value: () => number): void => {
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(value());
        },
      });
    };
    brokerGauge('convoy_connections', 'Open AMQP connections', () => sources.connectionCount());
    brokerGauge('convoy_queues', 'Queues', () => runtime.state.queues.size);
    brokerGauge('convoy_journal_bytes', 'Bytes the journal occupies on disk', () => runtime.diskBytes());
    brokerGauge('convoy_message_memory_bytes', 'Bytes of message bodies held in memory (the rest are paged to the journal)', () => runtime.memoryBytesInUse());
  }

  /** The Prometheus text exposition format. */
  scrape(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
