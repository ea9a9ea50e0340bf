import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { filter, types, type Message, type Receiver } from 'rhea';
import type { RunningBroker } from '../../src/broker/server';
import { startTestBroker } from '../support/broker';
import { connect, receive, sendAll, sleep, waitFor, type TestClient } from '../support/client';

/**
 * Selectors, browsing, priority and delayed delivery over real TCP with rhea clients (README
 * "Selectors", "Browsing", "Priority", "Delayed delivery"). The rules themselves are held to the
 * reference model in test/model/; this checks the AMQP side: the filter and distribution mode as the
 * client sends them, the attach reply, header.priority and the delivery-time annotations, what the
 * client receives.
 */
let broker: RunningBroker;
let client: TestClient;
beforeAll(async () => {
  // Every body is paged out to the journal (memoryPagingRatio): selectors must read them back.
  broker = await startTestBroker({ store: 'journal', dataDir: mkdtempSync(join(tmpdir(), 'convoy-jms-features-')), maxMemoryBytes: 1024 * 1024, memoryPagingRatio: 0.0001 });
  client = await connect(broker.port);
});
afterAll(async () => {
  await client.close();
  await broker.stop();
});

const bodies = (received: { message: Message }[]): unknown[] => received.map((r) => r.message.body);
const coloured = (colours: string[]): Message[] => colours.map((colour, i) => ({ body: `${colour}${i}`, application_properties: { colour } }));

describe('selectors', () => {
  test('a consumer with a selector gets only the messages it selects; the others stay for a consumer without one', async () => {
    await sendAll(await client.openSender('sel.basic'), coloured(['red', 'blue', 'red', 'green']));
    const red = await client.openReceiver({ address: 'sel.basic', filter: filter.selector("colour = 'red'") });
    expect(bodies(await receive(red, 3, 500))).toEqual(['red0', 'red2']);
    const rest = await client.openReceiver('sel.basic');
    expect(bodies(await receive(rest, 2))).toEqual(['blue1', 'green3']);
  });

  test('the attach reply echoes the selector in place (AMQP 1.0 3.5.3)', async () => {
    const receiver = await client.openReceiver({ address: 'sel.echo', filter: filter.selector('n > 3') });
    const echoed = (receiver as unknown as { remote: { attach: { source: { filter: Record<string, { value: unknown; descriptor: { value: unknown } }> } } } }).remote.attach.source.filter;
    expect(echoed['jms-selector']!.value).toBe('n > 3');
    expect(echoed['jms-selector']!.descriptor.value).toBe(0x0000468c00000004);
  });

  test('an invalid selector is refused with amqp:invalid-field naming the error and its column', async () => {
    await expect(client.openReceiver({ address: 'sel.invalid', filter: filter.selector("colour = 'red' AND") })).rejects.toMatchObject({
      condition: 'amqp:invalid-field',
      message: expect.stringMatching(/^invalid selector "colour = 'red' AND": .* at column \d+$/),
    });
    await expect(client.openReceiver({ address: 'sel.invalid', filter: filter.selector('a = NULL') })).rejects.toMatchObject({ condition: 'amqp:invalid-field' });
    // The connection goes on.
    await client.openReceiver('sel.invalid');
  });

  test('JMSXDeliveryCount reads the broker count: a released-then-failed message reaches the consumer that selects redeliveries', async () => {
    await sendAll(await client.openSender('sel.retry'), [{ body: 'm' }]);
    const first = await client.openReceiver({ address: 'sel.retry', filter: filter.selector('JMSXDeliveryCount = 1') });
    const [got] = await receive(first, 1);
    got!.delivery.modified({ delivery_failed: true, undeliverable_here: false });
    const retries = await client.openReceiver({ address: 'sel.retry', filter: filter.selector('JMSXDeliveryCount > 1') });
    const [again] = await receive(retries, 1);
    expect(again!.message.body).toBe('m');
    expect(again!.message.delivery_count).toBe(1);
  });

  test('messages paged out of memory (maxMemoryBytes) are read back to be selected', async () => {
    const big = 'x'.repeat(3000);
    await sendAll(
      await client.openSender('sel.paged'),
      ['red', 'blue', 'red'].map((colour, i) => ({ body: `${colour}${i}${big}`, application_properties: { colour } })),
    );
    expect([...broker.runtime.state.queues.get('sel.paged')!.main].map((message) => message.body instanceof Uint8Array)).toEqual([false, false, false]);
    const red = await client.openReceiver({ address: 'sel.paged', filter: filter.selector("colour = 'red'") });
    expect(bodies(await receive(red, 3, 500)).map((b) => String(b).slice(0, 4))).toEqual(['red0', 'red2']);
  });

  test("selectors and groups: a group whose next message does not match its owner's selector moves to one that matches", async () => {
    const red = await client.openReceiver({ address: 'sel.groups', filter: filter.selector("colour = 'red'") });
    const all = await client.openReceiver('sel.groups');
    const redGot = receive(red, 2, 1500, 10);
    await waitFor(() => broker.runtime.state.queues.get('sel.groups')?.consumersWithCredit === 1, 'credit on the red consumer');
    await sendAll(await client.openSender('sel.groups'), [
      { body: 'A0', group_id: 'A', application_properties: { colour: 'red' } },
      { body: 'A1', group_id: 'A', application_properties: { colour: 'blue' } },
    ]);
    expect(bodies(await redGot)).toEqual(['A0']);
    const allGot = receive(all, 1, 1000, 10);
    // A1 waits while the red owner holds A0 (owner-refused-message), then moves with the group.
    await sleep(100);
    expect(broker.runtime.state.queues.get('sel.groups')!.groups.get('A')!.owner!.id).toBe(ownerIdOf(red));
    (await redGot)[0]!.delivery.accept();
    expect(bodies(await allGot)).toEqual(['A1']);
  });
});

describe('browsing', () => {
  test('a browser sees every queued message in queue order without taking any; a consumer then gets them all', async () => {
    await sendAll(await client.openSender('browse.q'), [
      { body: 'low', priority: 1 },
      { body: 'first', priority: 4 },
      { body: 'high', priority: 8 },
      { body: 'second', priority: 4 },
    ]);
    const browser = await client.openReceiver({ address: 'browse.q', distribution_mode: 'copy' }, { snd_settle_mode: 1 });
    expect((browser as unknown as { remote: { attach: { source: { distribution_mode: string } } } }).remote.attach.source.distribution_mode).toBe('copy');
    const shown = await receive(browser, 10, 500);
    expect(bodies(shown)).toEqual(['high', 'first', 'second', 'low']);
    expect(shown.every((r) => r.delivery.remote_settled)).toBe(true);
    const consumer = await client.openReceiver('browse.q');
    expect(bodies(await receive(consumer, 4))).toEqual(['high', 'first', 'second', 'low']);
  });

  test('a browser with a selector, and drain: it shows what matches and then answers the drain', async () => {
    await sendAll(await client.openSender('browse.sel'), coloured(['red', 'blue', 'red']));
    const browser = await client.openReceiver({ address: 'browse.sel', distribution_mode: 'copy', filter: filter.selector("colour = 'red'") });
    const drained = new Promise<void>((resolve) => browser.once('receiver_drained', () => resolve()));
    const shown = receive(browser, 5, 1000, 0);
    browser.drain = true;
    browser.add_credit(5);
    await drained;
    expect(bodies(await shown)).toEqual(['red0', 'red2']);
    expect(broker.runtime.state.queues.get('browse.sel')!.queuedCount).toBe(3);
  });

  test('an unsettled browser delivery needs no answer and its disposition changes nothing', async () => {
    await sendAll(await client.openSender('browse.unsettled'), [{ body: 'b' }]);
    const browser = await client.openReceiver({ address: 'browse.unsettled', distribution_mode: 'copy' });
    const [shown] = await receive(browser, 1);
    shown!.delivery.reject();
    await sleep(50);
    const queue = broker.runtime.state.queues.get('browse.unsettled')!;
    expect([queue.queuedCount, queue.inFlightCount]).toEqual([1, 0]);
    expect(bodies(await receive(await client.openReceiver('browse.unsettled'), 1))).toEqual(['b']);
  });
});

describe('priority', () => {
  test('higher header.priority first across the queue; within a group send order whatever the priority', async () => {
    await sendAll(await client.openSender('prio.q'), [
      { body: 'u-low', priority: 1 },
      { body: 'A1-low', priority: 1, group_id: 'A' },
      { body: 'A2-high', priority: 8, group_id: 'A' },
      { body: 'u-high', priority: 8 },
      { body: 'u-default' },
      { body: 'u-over', priority: 200 },
    ]);
    const consumer = await client.openReceiver('prio.q');
    const got = bodies(await receive(consumer, 6));
    // Priority 200 counts as 9 (JMS 0-9); A2-high waits at A1-low's level: it may not overtake it.
    expect(got).toEqual(['u-over', 'u-high', 'u-default', 'u-low', 'A1-low', 'A2-high']);
  });
});

describe('delayed delivery', () => {
  test('the connection offers DELAYED_DELIVERY', () => {
    const offered = (client.connection as unknown as { remote: { open: { offered_capabilities: string | string[] } } }).remote.open.offered_capabilities;
    expect([offered].flat()).toContain('DELAYED_DELIVERY');
  });

  test('x-opt-delivery-delay and x-opt-delivery-time: the message enters its queue at its time', async () => {
    const receiver = await client.openReceiver('delay.q');
    const got = receive(receiver, 3, 3000, 10);
    const arrived: [unknown, number][] = [];
    receiver.on('message', (ctx) => arrived.push([ctx.message!.body, Date.now() - now]));
    const now = Date.now();
    await sendAll(await client.openSender('delay.q'), [
      { body: 'late', message_annotations: { 'x-opt-delivery-time': types.wrap_long(now + 600) } },
      { body: 'soon', message_annotations: { 'x-opt-delivery-delay': types.wrap_long(300) } },
      { body: 'now' },
    ]);
    expect(bodies(await got)).toEqual(['now', 'soon', 'late']);
    expect(arrived[1]![1]).toBeGreaterThanOrEqual(290);
    expect(arrived[2]![1]).toBeGreaterThanOrEqual(590);
    expect(broker.runtime.state.queues.get('delay.q')!.scheduledCount).toBe(0);
  });

  test('a delivery time that is not a number is rejected with amqp:invalid-field', async () => {
    const sender = await client.openSender('delay.bad');
    const rejected = new Promise<{ condition?: string }>((resolve) => sender.once('rejected', (ctx) => resolve(ctx.delivery!.remote_state!.error as { condition?: string })));
    sender.send({ body: 'x', message_annotations: { 'x-opt-delivery-time': 'tomorrow' } });
    expect(await rejected).toMatchObject({ condition: 'amqp:invalid-field' });
  });
});

function ownerIdOf(receiver: Receiver): string {
  const consumer = [...broker.runtime.state.consumers.values()].find((c) => c.queue.name === receiver.source.address && c.selectorClass.key !== null);
  return consumer!.id;
}
