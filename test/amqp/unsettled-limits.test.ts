import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { RunningBroker } from '../../src/broker/server';
import { startTestBroker } from '../support/broker';
import { connect, sendAll, waitFor, type TestClient } from '../support/client';

let broker: RunningBroker;
let client: TestClient;
beforeAll(async () => {
  // The session's ring is what these tests are about, not maxUnsettledPerLink.
  broker = await startTestBroker({ maxUnsettledPerLink: 100_000 });
  client = await connect(broker.port);
});
afterAll(async () => {
  await client.close();
  await broker.stop();
});

describe('many unsettled deliveries on one session', () => {
  test('a consumer granting more credit than a session can hold unsettled gets what fits, then the rest as it settles', async () => {
    const total = 10_000; // more than rhea's per-session ring of unsettled deliveries (8192)
    const sender = await client.openSender('limits.ring');
    await sendAll(sender, Array.from({ length: total }, (_, i) => ({ body: i })));
    // The client's own per-session ring must not be the limit (rhea's default holds 2048 unsettled).
    const consumer = await connect(broker.port, { session_buffer_size: 65536 } as never);
    const receiver = await consumer.openReceiver('limits.ring');
    const held: { accept(): void }[] = [];
    let received = 0;
    receiver.on('message', (ctx) => {
      received++;
      held.push(ctx.delivery!);
    });
    receiver.add_credit(total);
    await waitFor(() => received >= 8000, 'the first deliveries', 10_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(consumer.connection.is_open()).toBe(true);
    expect(received).toBeLessThan(total);
    for (const delivery of held.splice(0)) delivery.accept();
    await waitFor(() => received === total, 'the rest, once the first ones were settled', 10_000);
    expect(consumer.connection.is_open()).toBe(true);
    await consumer.close();
  });

  test('one message held unsettled does not keep the payloads of later, settled deliveries in memory', async () => {
    const sender = await client.openSender('limits.pinned');
    // The client's own per-session ring must not be the limit (rhea's default holds 2048 unsettled).
    const consumer = await connect(broker.port, { session_buffer_size: 65536 } as never);
    const receiver = await consumer.openReceiver('limits.pinned');
    let received = 0;
    receiver.on('message', (ctx) => {
      received++;
      if (received > 1) ctx.delivery!.accept(); // the first one stays unsettled for the whole test
    });
    receiver.add_credit(5000);
    await sendAll(sender, Array.from({ length: 3000 }, () => ({ body: Buffer.alloc(4096) })));
    await waitFor(() => received === 3000, 'all deliveries', 10_000);
    const session = (broker.runtime as unknown as { sinks: Map<string, { sender: { session: { outgoing: { deliveries: { entries: { data?: Buffer[] }[] } } } } }> }).sinks;
    const [link] = [...session.values()];
    const entries = link!.sender.session.outgoing.deliveries.entries.filter(Boolean);
    const retainedBytes = entries.reduce((sum, d) => sum + (d.data ?? []).reduce((s, b) => s + b.length, 0), 0);
    expect(retainedBytes).toBeLessThan(64 * 1024);
    await consumer.close();
  });
});
