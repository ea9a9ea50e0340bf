import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { RunningBroker } from '../../src/broker/server';
import { connect, receive, sendAll, waitFor, type TestClient } from '../support/client';
import { startTestBroker } from '../support/broker';
import { httpCall } from '../support/http';

/** A metric's value in the Prometheus text format, by name and exact label set. */
function valueOf(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const labelText = Object.entries(labels)
    .map(([key, value]) => `${key}="${value}"`)
    .join(',');
  const line = text.split('\n').find((l) => l.startsWith(labelText === '' ? `${name} ` : `${name}{${labelText}} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('GET /metrics', () => {
  let broker: RunningBroker;
  let client: TestClient;

  beforeAll(async () => {
    broker = await startTestBroker({
      http: { port: 0 },
      store: 'journal',
      dataDir: mkdtempSync(join(tmpdir(), 'convoy-metrics-')),
      queueDefaults: { maxDeliveryAttempts: 2 },
    });
    client = await connect(broker.port!);
  });

  afterAll(async () => {
    await client.close();
    await broker.stop();
  });

  const scrape = async (): Promise<string> => {
    const answer = await httpCall({ port: broker.httpPort!, path: '/metrics' });
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toContain('text/plain; version=0.0.4');
    return answer.text;
  };

  test('per queue: messages, in flight, consumers, groups by state and the counters, labelled by queue only', async () => {
    const sender = await client.openSender('metered');
    await sendAll(sender, [
      { body: 'a1', group_id: 'A', durable: true },
      { body: 'a2', group_id: 'A', durable: true },
      { body: 'b1', group_id: 'B', durable: true },
      { body: 'c1', group_id: 'C', durable: true },
      { body: 'x', ttl: 1, durable: true },
    ]);
    const receiver = await client.openReceiver('metered');
    const got = await receive(receiver, 4, 2000, 4);
    expect(got.map((g) => g.message.body)).toEqual(['a1', 'a2', 'b1', 'c1']);
    got[0]!.delivery.accept();
    got[2]!.delivery.reject();
    got[3]!.delivery.modified({ delivery_failed: true });
    await waitFor(() => broker.runtime.state.queues.get('metered')!.inFlightCount === 1, 'the settlements');
    const redelivery = receive(receiver, 1, 2000, 1);
    expect((await redelivery)[0]!.message.body).toBe('c1');
    await sendAll(sender, [{ body: 'a3', group_id: 'A', durable: true }]);
    // x (ttl 1 ms) is dropped by the next tick (every second) at the latest.
    await waitFor(() => broker.runtime.counters.of('metered').expired === 1, 'x to expire');
    const text = await scrape();
    const q = { queue: 'metered' };
    expect(valueOf(text, 'convoy_queue_enqueued_total', q)).toBe(6);
    expect(valueOf(text, 'convoy_queue_acknowledged_total', q)).toBe(1);
    expect(valueOf(text, 'convoy_queue_dead_lettered_total', q)).toBe(1);
    expect(valueOf(text, 'convoy_queue_delivered_total', q)).toBe(5);
    expect(valueOf(text, 'convoy_queue_redelivered_total', q)).toBe(1);
    expect(valueOf(text, 'convoy_queue_expired_total', q)).toBe(1);
    expect(valueOf(text, 'convoy_queue_enqueued_total', { queue: 'DLQ' })).toBe(1);
    expect(valueOf(text, 'convoy_queue_consumers', q)).toBe(1);
    expect(valueOf(text, 'convoy_queue_in_flight', q)).toBe(2);
    expect(valueOf(text, 'convoy_queue_messages', q)).toBe(1);
    // A: a3 queued behind the owner without credit (blocked); B idle with its owner; C: c1 in flight again.
    expect(valueOf(text, 'convoy_queue_groups', { queue: 'metered', state: 'owned' })).toBe(3);
    expect(valueOf(text, 'convoy_queue_groups', { queue: 'metered', state: 'unassigned' })).toBe(0);
    expect(valueOf(text, 'convoy_queue_groups', { queue: 'metered', state: 'blocked' })).toBe(1);
    for (const line of text.split('\n').filter((l) => l.startsWith('convoy_queue_'))) {
      expect(line).toMatch(/^convoy_queue_[a-z_]+\{queue="[^"]+"(,state="(owned|unassigned|blocked)")?\} \d+$/);
    }
    receiver.close();
  });

  test('broker-wide: connections, journal bytes, fsync latency histogram, event-loop lag, memory', async () => {
    const text = await scrape();
    expect(valueOf(text, 'convoy_connections')).toBe(1);
    expect(valueOf(text, 'convoy_journal_bytes')).toBeGreaterThan(0);
    expect(valueOf(text, 'convoy_fsync_duration_seconds_count')).toBeGreaterThan(0);
    expect(text).toContain('convoy_fsync_duration_seconds_bucket{le="0.001"}');
    expect(valueOf(text, 'nodejs_eventloop_lag_seconds')).toBeGreaterThanOrEqual(0);
    expect(valueOf(text, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(valueOf(text, 'nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
    expect(valueOf(text, 'convoy_message_memory_bytes')).toBeGreaterThanOrEqual(0);
  });

  test('the number of series does not grow with the number of groups', async () => {
    const count = async () => (await scrape()).split('\n').filter((l) => l.startsWith('convoy_queue_')).length;
    const before = await count();
    const sender = await client.openSender('metered');
    await sendAll(sender, Array.from({ length: 500 }, (_, i) => ({ body: 'g', group_id: `many-${i}` })));
    expect(broker.runtime.state.queues.get('metered')!.groups.size).toBeGreaterThan(500);
    expect(await count()).toBe(before);
  });
});
