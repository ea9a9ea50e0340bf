import { createRequire } from 'node:module';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Receiver, Sender } from 'rhea';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { RunningBroker } from '../../src/broker/server';
import { startTestBroker } from '../support/broker';
import { connect, sendAll, type TestClient } from '../support/client';

/**
 * Attaching and detaching cost the broker the same whatever the number of links already on the
 * connection (issue 9: 10,000 attaches on one connection took 49.6 s, every attach made rhea look at
 * every link), and a closed connection leaves nothing behind. The work is counted, not timed: calls of
 * rhea's per-link step on the broker's side (src/amqp/rhea/links-with-work.ts).
 */
const requireFromRhea = createRequire(require.resolve('rhea'));
const linkPrototype = Object.getPrototypeOf((requireFromRhea('./link.js') as { Sender: { prototype: object } }).Sender.prototype) as {
  _process(this: { connection: { options: { container_id?: string } } }): void;
};

/** Counts the broker's link steps (its connections have container id `convoy`) while `action` runs. */
async function brokerLinkSteps(action: () => Promise<void>): Promise<number> {
  const original = linkPrototype._process;
  let steps = 0;
  linkPrototype._process = function (this: { connection: { options: { container_id?: string } } }) {
    if (this.connection.options.container_id === 'convoy') steps++;
    original.call(this);
  };
  try {
    await action();
  } finally {
    linkPrototype._process = original;
  }
  return steps;
}

function openReceivers(client: TestClient, count: number, address: (i: number) => string): Promise<Receiver[]> {
  return Promise.all(Array.from({ length: count }, (_, i) => client.openReceiver(address(i))));
}

function detached(link: Receiver | Sender): Promise<void> {
  return new Promise((resolve) => {
    link.once(link.is_sender() ? 'sender_close' : 'receiver_close', () => resolve());
    link.close();
  });
}

let broker: RunningBroker;
beforeAll(async () => {
  broker = await startTestBroker({ maxLinksPerSession: 8192, maxLinksPerConnection: 100_000 });
});
afterAll(async () => {
  await broker.stop();
});

describe('attach and detach are O(1) in the links already on the connection', () => {
  test('the broker steps through the same few links for one more attach and one detach, with 10 or 2,000 links open', async () => {
    const costs: { attach: number; detach: number }[] = [];
    for (const already of [10, 2000]) {
      const client = await connect(broker.port);
      await openReceivers(client, already, (i) => `scaling.${i % 10}`);
      let receiver: Receiver | undefined;
      const attach = await brokerLinkSteps(async () => {
        receiver = await client.openReceiver('scaling.extra');
      });
      const detach = await brokerLinkSteps(() => detached(receiver!));
      costs.push({ attach, detach });
      await client.close();
    }
    expect(costs[0]!.attach).toBeLessThanOrEqual(4);
    expect(costs[1]).toEqual(costs[0]);
    expect(costs[1]!.detach).toBeLessThanOrEqual(4);
  });

  test('10,000 links on one connection (two sessions) attach, carry messages and detach; their handles are reused', async () => {
    const client = await connect(broker.port);
    const sessions = [client.connection.create_session(), client.connection.create_session()];
    for (const session of sessions) session.begin();
    const onSessions = (count: number): Promise<Receiver[]> =>
      Promise.all(
        Array.from({ length: count }, (_, i) => {
          const receiver = sessions[i % 2]!.open_receiver({ source: `scaling.many.${i % 100}`, autoaccept: false, credit_window: 0 } as never);
          return new Promise<Receiver>((resolve) => receiver.once('receiver_open', () => resolve(receiver)));
        }),
      );
    const started = Date.now();
    const receivers = await onSessions(10_000);
    const attachMs = Date.now() - started;
    const sender = await client.openSender('scaling.many.7');
    expect(await sendAll(sender, [{ body: 'one' }])).toEqual(['accepted']);
    const consumer = receivers[7]!;
    const got = new Promise<unknown>((resolve) => consumer.once('message', (ctx) => resolve(ctx.message!.body)));
    consumer.add_credit(1);
    expect(await got).toBe('one');
    await Promise.all(receivers.slice(0, 5000).map(detached));
    const again = await onSessions(5000);
    const handles = again.map((r) => (r as unknown as { remote: { attach: { handle: number } } }).remote.attach.handle);
    expect(Math.max(...handles), 'the broker reuses freed handles instead of counting up').toBeLessThan(5000);
    await client.close();
    // Before: 49.6 s and quadratic (the client's own rhea is in this process and still quadratic).
    expect(attachMs).toBeLessThan(20_000);
  });
});

describe('everything a closed connection held is released', () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const heapUsed = (): number => {
    for (let i = 0; i < 4; i++) gc();
    return process.memoryUsage().heapUsed;
  };

  /**
   * One connection with 400 consumers, 100 of them on temporary queues (dynamic sources) and 500
   * producers, some with unsettled and queued messages; then closed.
   */
  async function busyConnection(): Promise<number> {
    const client = await connect(broker.port);
    const receivers = await openReceivers(client, 400, (i) => `released.${i % 5}`);
    const temporary = await Promise.all(Array.from({ length: 100 }, () => client.openReceiver({ dynamic: true })));
    const temporaryAddress = (receiver: Receiver): string => (receiver as unknown as { remote: { attach: { source: { address: string } } } }).remote.attach.source.address;
    const senders = await Promise.all(Array.from({ length: 500 }, (_, i) => client.openSender(i < 100 ? temporaryAddress(temporary[i]!) : `released.${i % 5}`)));
    await Promise.all(senders.slice(0, 120).map((sender) => sendAll(sender, [{ body: 'x' }, { body: Buffer.alloc(2000) }])));
    for (const receiver of receivers.slice(0, 20)) receiver.add_credit(1);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const held = process.memoryUsage().heapUsed;
    await client.close();
    return held;
  }

  test('heap after 20 connections of 1,000 links each (temporary queues too), opened and closed, is back at its baseline', async () => {
    await busyConnection(); // warm-up: code, queues, caches
    const before = heapUsed();
    let peak = 0;
    for (let round = 0; round < 20; round++) peak = Math.max(peak, await busyConnection());
    await new Promise((resolve) => setTimeout(resolve, 300));
    const after = heapUsed();
    expect(broker.runtime.state.consumers.size).toBe(0);
    expect([...broker.runtime.state.queues.keys()].filter((name) => name.startsWith('temp.'))).toEqual([]);
    // A connection of 1,000 links holds megabytes; 20 of them left behind would be tens.
    expect(peak - before).toBeGreaterThan(5 * 1024 * 1024);
    expect(after - before).toBeLessThan(1024 * 1024);
  });
});
