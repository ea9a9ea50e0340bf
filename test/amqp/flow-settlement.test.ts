import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Receiver } from 'rhea';
import type { RunningBroker } from '../../src/broker/server';
import { startTestBroker } from '../support/broker';
import { connect, receive, sendAll, sleep, type TestClient } from '../support/client';

let broker: RunningBroker;
let client: TestClient;
beforeAll(async () => {
  broker = await startTestBroker({ producerCreditWindow: 10, queueDefaults: { maxDeliveryAttempts: 3 } });
  client = await connect(broker.port);
});
afterAll(async () => {
  await client.close();
  await broker.stop();
});

async function fill(queue: string, count: number): Promise<void> {
  const sender = await client.openSender(queue);
  await sendAll(sender, Array.from({ length: count }, (_, i) => ({ body: `m${i}` })));
  sender.close();
}

describe('flow control', () => {
  test('a consumer gets no more messages than its credit', async () => {
    await fill('flow.credit', 10);
    const receiver = await client.openReceiver('flow.credit');
    const got = await receive(receiver, 10, 300, 3);
    expect(got).toHaveLength(3);
  });

  test('drain: the broker sends what it has, then advances delivery-count and answers with a flow', async () => {
    await fill('flow.drain', 2);
    const receiver = await client.openReceiver('flow.drain');
    const drained = new Promise<void>((resolve) => receiver.once('receiver_drained', () => resolve()));
    const got = receive(receiver, 2, 1000, 0);
    receiver.drain = true;
    receiver.add_credit(5);
    await drained;
    expect((await got).map((r) => r.message.body)).toEqual(['m0', 'm1']);
    expect(receiver.credit).toBe(0);
  });

  test('producers get credit in windows from the broker', async () => {
    const sender = await client.openSender('flow.producer');
    await sleep(50);
    expect(sender.credit).toBe(10);
    await sendAll(sender, Array.from({ length: 25 }, (_, i) => ({ body: i })));
    await sleep(50);
    expect(sender.credit).toBeGreaterThan(0);
    expect(sender.credit).toBeLessThanOrEqual(10);
  });
});

describe('settlement', () => {
  test('pre-settled producer and pre-settled consumer (at-most-once)', async () => {
    const sender = await client.openSender('settle.presettled', { snd_settle_mode: 1 });
    await sendAll(sender, [{ body: 'x' }, { body: 'y' }]);
    const receiver = await client.openReceiver('settle.presettled', { snd_settle_mode: 1 });
    const got = await receive(receiver, 2);
    expect(got.map((r) => [r.message.body, r.delivery.remote_settled])).toEqual([['x', true], ['y', true]]);
    receiver.close();
    const again = await client.openReceiver('settle.presettled');
    expect(await receive(again, 1, 300)).toHaveLength(0);
  });

  test('an unsettled producer delivery is accepted once enqueued', async () => {
    const sender = await client.openSender('settle.unsettled');
    expect(await sendAll(sender, [{ body: 'z' }])).toEqual(['accepted']);
    expect(broker.runtime.state.queues.get('settle.unsettled')!.queuedCount).toBe(1);
  });

  async function firstDelivery(queue: string): Promise<{ receiver: Receiver; got: Awaited<ReturnType<typeof receive>> }> {
    await fill(queue, 2);
    const receiver = await client.openReceiver(queue);
    return { receiver, got: await receive(receiver, 1) };
  }

  test('released: back at its original position, delivery-count unchanged', async () => {
    const { receiver, got } = await firstDelivery('settle.released');
    got[0]!.delivery.release();
    const next = await receive(receiver, 2);
    expect(next.map((r) => [r.message.body, r.message.delivery_count ?? 0])).toEqual([['m0', 0], ['m1', 0]]);
  });

  test('modified{delivery-failed}: delivery-count + 1 in the redelivered header', async () => {
    const { receiver, got } = await firstDelivery('settle.modified');
    got[0]!.delivery.modified({ delivery_failed: true });
    const next = await receive(receiver, 1);
    expect([next[0]!.message.body, next[0]!.message.delivery_count]).toEqual(['m0', 1]);
  });

  test('modified{undeliverable-here}: never to that consumer again', async () => {
    const { receiver, got } = await firstDelivery('settle.not-here');
    got[0]!.delivery.modified({ delivery_failed: true, undeliverable_here: true });
    const next = await receive(receiver, 2, 300);
    expect(next.map((r) => r.message.body)).toEqual(['m1']);
    const other = await client.openReceiver('settle.not-here');
    expect((await receive(other, 1)).map((r) => r.message.body)).toEqual(['m0']);
  });

  test('rejected: to the dead-letter queue with its bytes', async () => {
    const { got } = await firstDelivery('settle.rejected');
    got[0]!.delivery.reject({ condition: 'app:bad', description: 'no' });
    const dlq = await client.openReceiver('DLQ');
    const dead = await receive(dlq, 1);
    expect(dead[0]!.message.body).toBe('m0');
    dead[0]!.delivery.accept();
  });

  test('maxDeliveryAttempts: the message goes to the dead-letter queue', async () => {
    await fill('settle.poison', 1);
    const receiver = await client.openReceiver('settle.poison');
    for (let attempt = 0; attempt < 3; attempt++) {
      const got = await receive(receiver, 1);
      expect(got).toHaveLength(1);
      got[0]!.delivery.modified({ delivery_failed: true });
    }
    expect(await receive(receiver, 1, 300)).toHaveLength(0);
    const dlq = await client.openReceiver('DLQ');
    const dead = await receive(dlq, 1);
    expect([dead[0]!.message.body, dead[0]!.message.delivery_count]).toEqual(['m0', 3]);
    dead[0]!.delivery.accept();
  });

  test('a delivery settled with no outcome and no default-outcome counts as accepted', async () => {
    await fill('settle.default', 1);
    const receiver = await client.openReceiver('settle.default');
    const got = await receive(receiver, 1);
    got[0]!.delivery.update(true);
    expect(await receive(receiver, 1, 500)).toEqual([]);
  });
});

describe('frame order (regressions found by interop tests)', () => {
  test('attach and flow in one read on a non-empty queue: the attach reply comes before any transfer', async () => {
    await fill('order.attach', 3);
    // rhea writes the attach and its initial flow (credit_window) in one socket write.
    const receiver = await client.openReceiver('order.attach', { credit_window: 10 });
    const got = await receive(receiver, 3, 1000, 0);
    expect(got.map((r) => r.message.body)).toEqual(['m0', 'm1', 'm2']);
  });

  test('accept then detach in one read: the accepted message is not redelivered', async () => {
    await fill('order.accept-detach', 2);
    const first = await client.openReceiver('order.accept-detach');
    const got = await receive(first, 2);
    got[0]!.delivery.accept();
    first.close();
    const second = await client.openReceiver('order.accept-detach');
    expect((await receive(second, 2, 500)).map((r) => r.message.body)).toEqual(['m1']);
  });

  test('release then new credit in one read: the released message is not overtaken', async () => {
    await fill('order.release-credit', 2);
    const receiver = await client.openReceiver('order.release-credit');
    const got = await receive(receiver, 1);
    got[0]!.delivery.release();
    const next = await receive(receiver, 2);
    expect(next.map((r) => r.message.body)).toEqual(['m0', 'm1']);
  });

  test('a sender and a receiver with the same link name on one session both work', async () => {
    const sender = await client.openSender('order.same-name', { name: 'shared-name' });
    const receiver = await client.openReceiver('order.same-name', { name: 'shared-name' });
    await sendAll(sender, [{ body: 'same' }]);
    expect((await receive(receiver, 1)).map((r) => r.message.body)).toEqual(['same']);
  });
});
