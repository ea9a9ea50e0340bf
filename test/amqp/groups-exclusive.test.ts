import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Message, Receiver } from 'rhea';
import type { RunningBroker } from '../../src/broker/server';
import { startTestBroker } from '../support/broker';
import { connect, receive, sendAll, sleep, waitFor, type Received, type TestClient } from '../support/client';

let broker: RunningBroker;
let client: TestClient;
beforeAll(async () => {
  broker = await startTestBroker({
    queues: {
      'jms.*': { groupKey: 'JMSXGroupID' },
      'strict.*': { maxInFlightPerGroup: 1 },
      'poison.*': { maxDeliveryAttempts: 2 },
      'rebalance.*': { groupRebalance: true },
      'excl.configured': { exclusive: true },
    },
  });
  client = await connect(broker.port);
});
afterAll(async () => {
  await client.close();
  await broker.stop();
});

function grouped(groups: string[]): Message[] {
  return groups.map((group, i) => ({ body: `${group}${i}`, group_id: group }));
}

async function consumers(queue: string, count: number, credit: number): Promise<Receiver[]> {
  const receivers: Receiver[] = [];
  for (let i = 0; i < count; i++) {
    const receiver = await client.openReceiver(queue);
    receiver.add_credit(credit);
    receivers.push(receiver);
  }
  await waitFor(() => broker.runtime.state.queues.get(queue)?.consumersWithCredit === count, `credit on ${count} consumers of ${queue}`);
  return receivers;
}

/** Collects what each receiver gets until `total` messages arrived overall. */
function collect(receivers: Receiver[], total: number, timeoutMs = 3000): Promise<Received[][]> {
  return new Promise((resolve) => {
    const got: Received[][] = receivers.map(() => []);
    let count = 0;
    const done = (): void => resolve(got);
    const timer = setTimeout(done, timeoutMs);
    receivers.forEach((receiver, i) =>
      receiver.on('message', (ctx) => {
        got[i]!.push({ message: ctx.message!, delivery: ctx.delivery! });
        if (++count === total) {
          clearTimeout(timer);
          setTimeout(done, 50);
        }
      }),
    );
  });
}

const bodies = (got: Received[]): unknown[] => got.map((r) => r.message.body);
const groupsOf = (got: Received[]): Set<string> => new Set(got.map((r) => String(r.message.group_id ?? r.message.application_properties?.JMSXGroupID)));

describe('message groups over AMQP', () => {
  test('A,B,A,C,B,A,C with 3 consumers: each consumer gets exactly one whole group, in order', async () => {
    const receivers = await consumers('groups.three', 3, 10);
    const collected = collect(receivers, 7);
    await sendAll(await client.openSender('groups.three'), grouped(['A', 'B', 'A', 'C', 'B', 'A', 'C']));
    const got = await collected;
    expect(got.map(bodies)).toEqual([['A0', 'A2', 'A5'], ['B1', 'B4'], ['C3', 'C6']]);
  });

  test('A,B,A,C,B,A,C with 2 consumers: A and B apart, C wholly on one', async () => {
    const receivers = await consumers('groups.two', 2, 10);
    const collected = collect(receivers, 7);
    await sendAll(await client.openSender('groups.two'), grouped(['A', 'B', 'A', 'C', 'B', 'A', 'C']));
    const [first, second] = (await collected).map(groupsOf);
    expect(first!.has('A') !== second!.has('A')).toBe(true);
    expect(first!.has('A') === second!.has('B')).toBe(true);
    expect(first!.has('C') !== second!.has('C')).toBe(true);
  });

  test('owner detaches: its unsettled messages go to the new owner first, delivery-count + 1, before later ones', async () => {
    const [owner] = await consumers('groups.detach', 1, 3);
    const held = collect([owner!], 3);
    await sendAll(await client.openSender('groups.detach'), grouped(['A', 'A', 'A', 'A', 'A']));
    expect(bodies((await held)[0]!)).toEqual(['A0', 'A1', 'A2']);
    const next = await client.openReceiver('groups.detach');
    const taken = receive(next, 5, 3000, 10);
    await sleep(100);
    owner!.close();
    const got = await taken;
    expect(got.map((r) => [r.message.body, r.message.delivery_count ?? 0])).toEqual([
      ['A0', 1], ['A1', 1], ['A2', 1], ['A3', 0], ['A4', 0],
    ]);
  });

  test('a consumer process killed with SIGKILL while holding unsettled grouped messages: they return first, in order', async () => {
    const sender = await client.openSender('groups.crash');
    await sendAll(sender, grouped(['A', 'B', 'A', 'B', 'A']));
    const child = spawn(process.execPath, [join(__dirname, '..', 'support', 'holding-consumer.cjs'), String(broker.port), 'groups.crash', '5'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let lines = '';
    child.stdout!.on('data', (chunk: Buffer) => (lines += chunk.toString()));
    await waitFor(() => lines.split('\n').filter((l) => l.includes('body')).length === 5, 'the child to hold 5 messages');
    const survivor = await client.openReceiver('groups.crash');
    survivor.add_credit(10);
    await sendAll(sender, grouped(['A', 'B']).map((m, i) => ({ ...m, body: `late${i}` })));
    await sleep(100);
    expect(broker.runtime.state.queues.get('groups.crash')!.queuedCount).toBe(2);
    const after = receive(survivor, 7, 5000, 0);
    child.kill('SIGKILL');
    const got = await after;
    const byGroup = (g: string): unknown[] => got.filter((r) => r.message.group_id === g).map((r) => [r.message.body, r.message.delivery_count ?? 0]);
    expect(byGroup('A')).toEqual([['A0', 1], ['A2', 1], ['A4', 1], ['late0', 0]]);
    expect(byGroup('B')).toEqual([['B1', 1], ['B3', 1], ['late1', 0]]);
  });

  test('no head-of-line blocking: an owner without credit holds back nothing else', async () => {
    const [slow, fast] = await consumers('groups.hol', 2, 1);
    fast!.add_credit(50);
    const collected = collect([slow!, fast!], 4, 1000);
    await sendAll(await client.openSender('groups.hol'), [
      { body: 'A1', group_id: 'A' }, { body: 'A2', group_id: 'A' }, { body: 'A3', group_id: 'A' }, { body: 'B1', group_id: 'B' }, { body: 'u1' },
    ]);
    const [slowGot, fastGot] = await collected;
    expect(bodies(slowGot!)).toEqual(['A1']);
    expect(bodies(fastGot!)).toEqual(['B1', 'u1']);
  });

  test('group-sequence 4294967295 closes the group; so does application property JMSXGroupSeq = -1', async () => {
    const receivers = await consumers('groups.close', 2, 10);
    const firstFour = collect(receivers, 4);
    const sender = await client.openSender('groups.close');
    await sendAll(sender, [
      { body: 'A1', group_id: 'A' },
      { body: 'A2', group_id: 'A', group_sequence: 4294967295 },
      { body: 'B1', group_id: 'B' },
      { body: 'B2', group_id: 'B', application_properties: { JMSXGroupSeq: -1 } },
      { body: 'A3', group_id: 'A' },
      { body: 'B3', group_id: 'B' },
    ]);
    const got = await firstFour;
    // The closing messages went to their owners; A3 and B3 start a new sequence, which waits for the old one.
    expect(got.map((g) => bodies(g).sort())).toEqual([['A1', 'A2'], ['B1', 'B2']]);
    const queue = broker.runtime.state.queues.get('groups.close')!;
    expect(queue.queuedCount).toBe(2);
    const rest = collect(receivers, 2, 2000);
    for (const r of got.flat()) r.delivery.accept();
    await waitFor(() => queue.queuedCount === 0, 'A3 and B3 to be assigned afresh');
    expect((await rest).flat().map((r) => r.message.body).sort()).toEqual(['A3', 'B3']);
  });

  test('groupKey: the group is read from the configured application property (JMSXGroupID)', async () => {
    const receivers = await consumers('jms.orders', 2, 10);
    const collected = collect(receivers, 4);
    await sendAll(
      await client.openSender('jms.orders'),
      ['X', 'Y', 'X', 'Y'].map((g, i) => ({ body: `${g}${i}`, application_properties: { JMSXGroupID: g } })),
    );
    const got = await collected;
    expect(got.map((g) => groupsOf(g).size)).toEqual([1, 1]);
    expect(broker.runtime.state.queues.get('jms.orders')!.groups.size).toBe(2);
  });

  test('maxInFlightPerGroup 1: the next message of a group waits until the previous one is settled', async () => {
    const [consumer] = await consumers('strict.one', 1, 10);
    const first = receive(consumer!, 2, 400, 0);
    await sendAll(await client.openSender('strict.one'), grouped(['A', 'A']));
    const got = await first;
    expect(bodies(got)).toEqual(['A0']);
    const second = receive(consumer!, 1, 1000, 0);
    got[0]!.delivery.accept();
    expect(bodies(await second)).toEqual(['A1']);
  });

  test('poison: a message reaching maxDeliveryAttempts goes to the dead-letter queue and its group continues', async () => {
    const [consumer] = await consumers('poison.one', 1, 10);
    const collected = receive(consumer!, 2, 1000, 0);
    await sendAll(await client.openSender('poison.one'), grouped(['A', 'A']));
    const firstTwo = await collected;
    const redelivery = receive(consumer!, 1, 1000, 0);
    firstTwo[0]!.delivery.modified({ delivery_failed: true });
    const again = await redelivery;
    expect(bodies(again)).toEqual(['A0']);
    again[0]!.delivery.modified({ delivery_failed: true });
    firstTwo[1]!.delivery.accept();
    const later = receive(consumer!, 1, 1000, 0);
    await sendAll(await client.openSender('poison.one'), [{ body: 'A9', group_id: 'A' }]);
    expect(bodies(await later)).toEqual(['A9']);
    const dlq = await client.openReceiver('DLQ');
    expect(bodies(await receive(dlq, 1))).toEqual(['A0']);
  });

  test('groupRebalance: a newcomer takes over groups that have nothing in flight', async () => {
    const [first] = await consumers('rebalance.q', 1, 100);
    const got1 = collect([first!], 4);
    await sendAll(await client.openSender('rebalance.q'), grouped(['A', 'B', 'C', 'D']));
    for (const r of (await got1)[0]!) r.delivery.accept();
    await sleep(50);
    const second = await client.openReceiver('rebalance.q');
    second.add_credit(100);
    await sleep(50);
    const got2 = collect([second], 2, 1000);
    await sendAll(await client.openSender('rebalance.q'), grouped(['A', 'B', 'C', 'D']));
    expect((await got2)[0]!).toHaveLength(2);
  });
});

describe('exclusive consumers over AMQP', () => {
  async function exclusivePair(queue: string, attach: (i: number) => Promise<Receiver>): Promise<Receiver[]> {
    const pair = [await attach(0), await attach(1)];
    for (const r of pair) r.add_credit(10);
    await waitFor(() => broker.runtime.state.queues.get(queue)?.consumersWithCredit === 2, 'credit');
    return pair;
  }

  for (const [how, queue, attach] of [
    ['address option consumer.exclusive=true', 'excl.address', () => client.openReceiver('excl.address?consumer.exclusive=true')],
    ['link property exclusive', 'excl.property', () => client.openReceiver('excl.property', { properties: { exclusive: true } })],
    ['queue option exclusive', 'excl.configured', () => client.openReceiver('excl.configured')],
  ] as const) {
    test(`${how}: only the active one receives; on detach the next takes over with the returned messages first`, async () => {
      const [active, standby] = await exclusivePair(queue, attach);
      const collected = collect([active!, standby!], 4);
      await sendAll(await client.openSender(queue), [0, 1, 2, 3].map((i) => ({ body: i, group_id: i % 2 ? 'G' : undefined })));
      const [activeGot, standbyGot] = await collected;
      expect(bodies(activeGot!)).toEqual([0, 1, 2, 3]);
      expect(standbyGot).toHaveLength(0);
      activeGot![0]!.delivery.accept();
      const takeover = receive(standby!, 3, 2000, 0);
      active!.close();
      expect((await takeover).map((r) => [r.message.body, r.message.delivery_count ?? 0])).toEqual([[1, 1], [2, 1], [3, 1]]);
    });
  }

  test('a higher-priority exclusive newcomer takes over once the active one has nothing unsettled', async () => {
    const low = await client.openReceiver('excl.priority?consumer.exclusive=true');
    low.add_credit(10);
    const lowGot = collect([low], 1);
    const sender = await client.openSender('excl.priority');
    await sendAll(sender, [{ body: 'first' }]);
    const held = (await lowGot)[0]!;
    const high = await client.openReceiver('excl.priority?consumer.exclusive=true&consumer.priority=5');
    high.add_credit(10);
    await sleep(50);
    const highGot = receive(high, 1, 2000, 0);
    await sendAll(sender, [{ body: 'second' }]);
    await sleep(100);
    expect(broker.runtime.state.queues.get('excl.priority')!.activeExclusive!.priority).toBe(0);
    held[0]!.delivery.accept();
    expect(bodies(await highGot)).toEqual(['second']);
  });
});
