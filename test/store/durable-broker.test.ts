import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import type { BrokerOptionsInput } from '../../src/config/options';
import type { RunningBroker } from '../../src/broker/server';
import { retryDeadLetters } from '../../src/broker/admin-actions';
import { startTestBroker } from '../support/broker';
import { connect, receive, sendAll, sleep, waitFor } from '../support/client';

/** A journal-backed broker on a data dir that survives `restart()`. */
async function durableBroker(options: BrokerOptionsInput = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'convoy-data-'));
  const start = () => startTestBroker({ store: 'journal', dataDir, ...options });
  let broker: RunningBroker = await start();
  return {
    get broker() {
      return broker;
    },
    async restart() {
      await broker.stop();
      broker = await start();
      return broker;
    },
    stop: () => broker.stop(),
  };
}

async function produce(port: number, queue: string, messages: Record<string, unknown>[]): Promise<string[]> {
  const client = await connect(port);
  const outcomes = await sendAll(await client.openSender(queue), messages as never);
  await client.close();
  return outcomes;
}

async function consume(port: number, queue: string, count: number, settle: 'accept' | 'modify' | 'none' = 'accept', timeoutMs = 1000) {
  const client = await connect(port);
  const got = await receive(await client.openReceiver(queue), count, timeoutMs);
  for (const r of got) {
    if (settle === 'accept') r.delivery.accept();
    if (settle === 'modify') r.delivery.modified({ delivery_failed: true });
  }
  await sleep(50);
  await client.close();
  return got.map((r) => ({ body: r.message.body, group: r.message.group_id, count: r.message.delivery_count ?? 0 }));
}

describe('durable queues', () => {
  test('durable messages survive a restart in their original order, with their group ids; non-durable ones do not', async () => {
    const b = await durableBroker();
    await produce(b.broker.port, 'd.order', [
      { body: 'a1', group_id: 'A', durable: true },
      { body: 'gone', durable: false },
      { body: 'b1', group_id: 'B', durable: true },
      { body: 'a2', group_id: 'A', durable: true },
    ]);
    const broker = await b.restart();
    expect(await consume(broker.port, 'd.order', 4)).toEqual([
      { body: 'a1', group: 'A', count: 0 },
      { body: 'b1', group: 'B', count: 0 },
      { body: 'a2', group: 'A', count: 0 },
    ]);
    await b.stop();
  });

  test('priorities survive a restart: the queue order after it is the same', async () => {
    const b = await durableBroker();
    await produce(b.broker.port, 'd.prio', [
      { body: 'low', priority: 1, durable: true },
      { body: 'high', priority: 9, durable: true },
      { body: 'mid', durable: true },
    ]);
    const broker = await b.restart();
    expect((await consume(broker.port, 'd.prio', 3)).map((m) => m.body)).toEqual(['high', 'mid', 'low']);
    await b.stop();
  });

  test('scheduled durable messages survive a restart, before and after their time: each enters its queue (and group) once, when due', async () => {
    const b = await durableBroker();
    const now = Date.now();
    await produce(b.broker.port, 'd.delay', [
      { body: 'due-before-restart', group_id: 'G', durable: true, message_annotations: { 'x-opt-delivery-delay': 100 } },
      { body: 'due-after-restart', group_id: 'G', durable: true, message_annotations: { 'x-opt-delivery-time': now + 1500 } },
      { body: 'transient', durable: false, message_annotations: { 'x-opt-delivery-delay': 100 } },
    ]);
    await waitFor(() => b.broker.runtime.state.queues.get('d.delay')!.queuedCount === 2, 'the first two due');
    await produce(b.broker.port, 'd.delay', [{ body: 'sent-after-the-first-was-due', group_id: 'G', durable: true }]);
    const broker = await b.restart();
    expect(broker.runtime.state.queues.get('d.delay')!.scheduledCount).toBe(1);
    const got = await consume(broker.port, 'd.delay', 3, 'accept', 3000);
    expect(got.map((m) => m.body)).toEqual(['due-before-restart', 'sent-after-the-first-was-due', 'due-after-restart']);
    expect(Date.now() - now).toBeGreaterThanOrEqual(1500);
    const again = await b.restart();
    expect(again.runtime.state.queues.get('d.delay')!.queuedCount + again.runtime.state.queues.get('d.delay')!.scheduledCount).toBe(0);
    await b.stop();
  });

  test('accepted messages are not resurrected by a restart', async () => {
    const b = await durableBroker();
    await produce(b.broker.port, 'd.acked', [1, 2, 3].map((n) => ({ body: n, durable: true })));
    expect((await consume(b.broker.port, 'd.acked', 2)).map((m) => m.body)).toEqual([1, 2]);
    const broker = await b.restart();
    expect((await consume(broker.port, 'd.acked', 3)).map((m) => m.body)).toEqual([3]);
    await b.stop();
  });

  test('delivery-count changes are recorded; unsettled deliveries come back raised', async () => {
    const b = await durableBroker();
    await produce(b.broker.port, 'd.count', [{ body: 'x', durable: true }]);
    await consume(b.broker.port, 'd.count', 1, 'modify');
    await consume(b.broker.port, 'd.count', 1, 'none');
    const broker = await b.restart();
    expect(await consume(broker.port, 'd.count', 1)).toEqual([{ body: 'x', group: undefined, count: 2 }]);
    await b.stop();
  });

  test('queues come back after a restart, empty ones and dead-letter queues included', async () => {
    const b = await durableBroker({ queueDefaults: { maxDeliveryAttempts: 1 } });
    const client = await connect(b.broker.port);
    await client.openReceiver('d.empty');
    await client.close();
    await produce(b.broker.port, 'd.poison', [{ body: 'bad', durable: true }]);
    await consume(b.broker.port, 'd.poison', 1, 'modify');
    const broker = await b.restart();
    expect([...broker.runtime.state.queues.keys()]).toEqual(expect.arrayContaining(['d.empty', 'd.poison', 'DLQ']));
    expect((await consume(broker.port, 'DLQ', 1)).map((m) => m.body)).toEqual(['bad']);
    expect(await consume(broker.port, 'd.poison', 1, 'accept', 300)).toEqual([]);
    await b.stop();
  });

  test('a dead letter remembers its queue across a restart: a retry after it sends it back there', async () => {
    const b = await durableBroker();
    await produce(b.broker.port, 'd.origin', [{ body: 'poison', group_id: 'G', durable: true }]);
    const client = await connect(b.broker.port);
    const [got] = await receive(await client.openReceiver('d.origin'), 1);
    got!.delivery.reject();
    await waitFor(() => b.broker.runtime.state.queues.get('DLQ')?.queuedCount === 1, 'the dead-lettering');
    await client.close();
    const broker = await b.restart();
    expect(retryDeadLetters(broker.runtime, 'DLQ', null, null)).toEqual({ retried: 1, remaining: 0 });
    expect(await consume(broker.port!, 'd.origin', 1)).toEqual([{ body: 'poison', group: 'G', count: 0 }]);
    // The retried message is a new durable message of d.origin: it survives a restart there too.
    const again = await b.restart();
    expect(again.runtime.state.queues.get('DLQ')!.queuedCount).toBe(0);
    expect(again.runtime.state.queues.get('d.origin')!.queuedCount).toBe(0);
    await b.stop();
  });

  test('a backlog larger than the memory budget is paged to the store and delivered intact, in order', async () => {
    // Bodies stay in memory up to half (memoryPagingRatio) of maxMemoryBytes; every message's bookkeeping counts too.
    const b = await durableBroker({ maxMemoryBytes: 512 * 1024 });
    const messages = Array.from({ length: 400 }, (_, i) => ({ body: Buffer.alloc(1024, i % 256), durable: i % 2 === 0, application_properties: { i } }));
    await produce(b.broker.port, 'd.paged', messages);
    const queued = [...b.broker.runtime.state.queues.get('d.paged')!.main];
    const bodiesInMemory = queued.reduce((sum, m) => sum + (m.body instanceof Uint8Array ? m.body.length : 0), 0);
    expect(queued.length).toBe(400);
    expect(bodiesInMemory).toBeGreaterThan(0);
    expect(bodiesInMemory).toBeLessThanOrEqual(256 * 1024);
    expect(b.broker.runtime.memoryBytesInUse()).toBeLessThanOrEqual(512 * 1024);
    const client = await connect(b.broker.port);
    const got = await receive(await client.openReceiver('d.paged'), 400, 5000);
    for (const r of got) r.delivery.accept();
    expect(got.map((r) => r.message.application_properties!.i)).toEqual(messages.map((_, i) => i));
    expect(got.every((r, i) => Buffer.compare((r.message.body as { content: Buffer }).content ?? r.message.body, Buffer.alloc(1024, i % 256)) === 0)).toBe(true);
    await client.close();
    await b.stop();
  });

  test('maxDiskBytes with diskFullPolicy block: producers are held back by credit until consumers free space', async () => {
    const b = await durableBroker({ maxDiskBytes: 150 * 1024, segmentBytes: 65536, producerCreditWindow: 20 });
    const client = await connect(b.broker.port);
    const sender = await client.openSender('d.full');
    // rhea holds messages client-side until the broker grants credit; the broker's queue shows what got in.
    for (let i = 0; i < 300; i++) sender.send({ body: Buffer.alloc(2048), durable: true, application_properties: { i } } as never);
    const queue = () => b.broker.runtime.state.queues.get('d.full')!;
    await sleep(500);
    const heldAt = queue().enqueuedTotal;
    expect(heldAt).toBeLessThan(300);
    expect(b.broker.runtime.diskFull()).toBe(true);
    await sleep(300);
    expect(queue().enqueuedTotal).toBe(heldAt);
    const receiver = await client.openReceiver('d.full');
    const received: number[] = [];
    receiver.on('message', (ctx) => {
      received.push(ctx.message!.application_properties!.i as number);
      ctx.delivery!.accept();
    });
    receiver.add_credit(1000);
    await waitFor(() => received.length === 300, 'every message, as space is reclaimed and credit flows again', 15_000);
    expect(received).toEqual(Array.from({ length: 300 }, (_, i) => i));
    await client.close();
    await b.stop();
  });

  test('maxDiskBytes with diskFullPolicy fail: messages are refused with amqp:resource-limit-exceeded', async () => {
    const b = await durableBroker({ maxDiskBytes: 64 * 1024, segmentBytes: 65536, diskFullPolicy: 'fail' });
    const outcomes = await produce(b.broker.port, 'd.fail', Array.from({ length: 60 }, () => ({ body: Buffer.alloc(2048), durable: true })));
    expect(outcomes).toContain('rejected');
    expect(outcomes[0]).toBe('accepted');
    await b.stop();
  });
});
