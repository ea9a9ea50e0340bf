import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Receiver, Sender } from 'rhea';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { RunningBroker } from '../../src/broker/server';
import { startTestBroker } from '../support/broker';
import { connect, receive, sendAll, waitFor, type TestClient } from '../support/client';

/** README "Queue lifetime": temporary queues, deleting queues, autoDelete, over AMQP. */
let broker: RunningBroker;
let client: TestClient;
beforeAll(async () => {
  broker = await startTestBroker({ queues: { 'auto.*': { autoDelete: true, autoDeleteDelayMs: 0 } } });
  client = await connect(broker.port);
});
afterAll(async () => {
  await client.close();
  await broker.stop();
});

const queueNames = (): string[] => [...broker.runtime.state.queues.keys()];
const addressOf = (link: Receiver | Sender, terminus: 'source' | 'target'): string =>
  (link as unknown as { remote: { attach: Record<string, { address: string }> } }).remote.attach[terminus]!.address;

function detachedWith(link: Receiver | Sender): Promise<{ condition?: string; description?: string }> {
  return new Promise((resolve) => link.once(link.is_sender() ? 'sender_close' : 'receiver_close', () => resolve((link.error ?? {}) as never)));
}

function closeLink(link: Receiver | Sender): Promise<void> {
  return new Promise((resolve) => {
    link.once(link.is_sender() ? 'sender_close' : 'receiver_close', () => resolve());
    link.close();
  });
}

describe('temporary queues', () => {
  test('a dynamic source makes a temporary queue that goes, with its messages, when that link detaches', async () => {
    const receiver = await client.openReceiver({ dynamic: true });
    const temporary = addressOf(receiver, 'source');
    const sender = await client.openSender(temporary);
    await sendAll(sender, [{ body: 'a' }, { body: 'b' }]);
    expect(queueNames()).toContain(temporary);
    await closeLink(receiver);
    await waitFor(() => !queueNames().includes(temporary), 'the temporary queue to be deleted');
    expect(broker.runtime.memoryBytesInUse(temporary)).toBe(0);
  });

  test('... and when its connection closes, or its socket just drops', async () => {
    for (const end of ['close', 'drop'] as const) {
      const owner = await connect(broker.port);
      const temporary = addressOf(await owner.openReceiver({ dynamic: true }), 'source');
      expect(queueNames()).toContain(temporary);
      if (end === 'close') await owner.close();
      else (owner.connection as unknown as { socket: { destroy(): void } }).socket.destroy();
      await waitFor(() => !queueNames().includes(temporary), `the temporary queue to be deleted after ${end}`);
    }
  });

  test('a dynamic target makes a temporary queue at once; its consumers elsewhere are detached with amqp:resource-deleted when it goes', async () => {
    const owner = await connect(broker.port);
    const dynamicSender = await owner.openSender({ dynamic: true });
    const temporary = addressOf(dynamicSender, 'target');
    expect(queueNames()).toContain(temporary);
    const consumer = await client.openReceiver(temporary);
    const detached = detachedWith(consumer);
    await sendAll(dynamicSender, [{ body: 'for the consumer' }]);
    await closeLink(dynamicSender);
    expect(await detached).toMatchObject({ condition: 'amqp:resource-deleted', description: `queue "${temporary}" was deleted` });
    await owner.close();
  });

  test('a temporary queue that is gone stays gone: attaching to it or sending to it gets amqp:not-found', async () => {
    const owner = await connect(broker.port);
    const temporary = addressOf(await owner.openReceiver({ dynamic: true }), 'source');
    await owner.close();
    await waitFor(() => !queueNames().includes(temporary), 'the temporary queue to be deleted');
    await expect(client.openReceiver(temporary)).rejects.toMatchObject({ condition: 'amqp:not-found' });
    await expect(client.openSender(temporary)).rejects.toMatchObject({ condition: 'amqp:not-found' });
    const relay = await client.openSender(null);
    const outcomes = await new Promise<string>((resolve) => {
      relay.once('rejected', (ctx) => resolve(String((ctx.delivery!.remote_state as { error?: { condition?: string } }).error?.condition)));
      relay.send({ to: temporary, body: 'late reply' });
    });
    expect(outcomes).toBe('amqp:not-found');
    expect(queueNames()).not.toContain(temporary);
  });
});

describe('deleting a queue', () => {
  test('its consumers and fixed-target producers are detached with amqp:resource-deleted; its messages, queued and in flight, go with it', async () => {
    const sender = await client.openSender('lifetime.deleted');
    await sendAll(sender, [{ body: 'a' }, { body: 'b' }, { body: 'c' }]);
    const consumer = await client.openReceiver('lifetime.deleted');
    const [inFlight] = await receive(consumer, 1);
    const relay = await client.openSender(null);
    const consumerDetached = detachedWith(consumer);
    const senderDetached = detachedWith(sender);
    expect(broker.runtime.deleteQueue('lifetime.deleted')).toEqual({ messages: 3 });
    expect(await consumerDetached).toMatchObject({ condition: 'amqp:resource-deleted', description: 'queue "lifetime.deleted" was deleted' });
    expect(await senderDetached).toMatchObject({ condition: 'amqp:resource-deleted' });
    expect(queueNames()).not.toContain('lifetime.deleted');
    expect(broker.runtime.memoryBytesInUse('lifetime.deleted')).toBe(0);
    // Settling a delivery of the deleted queue afterwards is harmless.
    inFlight!.delivery.accept();
    // The relay is not tied to a queue: it goes on, and its next message makes the queue again, empty.
    expect(await sendAll(relay, [{ to: 'lifetime.deleted', body: 'new' }])).toEqual(['accepted']);
    const again = await client.openReceiver('lifetime.deleted');
    expect((await receive(again, 5, 300)).map((r) => r.message.body)).toEqual(['new']);
    expect(broker.runtime.deleteQueue('lifetime.never-there')).toBeNull();
  });

  test('a durable queue deleted stays deleted after a restart, with its messages', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'convoy-lifetime-'));
    const durable = await startTestBroker({ store: 'journal', dataDir });
    const producer = await connect(durable.port);
    await sendAll(await producer.openSender('lifetime.durable'), [{ body: 'x', durable: true }]);
    await sendAll(await producer.openSender('lifetime.kept'), [{ body: 'y', durable: true }]);
    await producer.close();
    durable.runtime.deleteQueue('lifetime.durable');
    await durable.stop();
    const restarted = await startTestBroker({ store: 'journal', dataDir });
    expect([...restarted.runtime.state.queues.keys()]).toEqual(['lifetime.kept']);
    await restarted.stop();
  });
});

describe('autoDelete', () => {
  test('a queue with autoDelete goes once it has had no consumer and no message for autoDeleteDelayMs (checked every second)', async () => {
    const sender = await client.openSender('auto.orders');
    await sendAll(sender, [{ body: 'one' }]);
    const consumer = await client.openReceiver('auto.orders');
    const [message] = await receive(consumer, 1);
    await new Promise((resolve) => setTimeout(resolve, 1200));
    expect(queueNames(), 'in use: a consumer holds a message').toContain('auto.orders');
    message!.delivery.accept();
    await closeLink(consumer);
    await waitFor(() => !queueNames().includes('auto.orders'), 'the unused queue to be deleted', 4000);
  });
});
