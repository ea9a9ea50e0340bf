import { filter, type Message } from 'rhea';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { fetchAdminSnapshot, type QueuesSnapshot } from '../../src/amqp';
import { connect, receive, sendAll, sleep, waitFor, type TestClient } from '../support/client';
import { startConvoyNode, type ConvoyNode } from '../support/cluster-nodes';
import { convoy } from '../support/convoy-cli';
import { startEtcdCluster, type EtcdCluster } from '../support/etcd-cluster';
import { groupProducer, holdingConsumer, TrafficRecord } from '../support/group-traffic';

/**
 * A three-member etcd cluster and three Convoy nodes on loopback (README, "Cluster"): links attached on
 * any node are served by the queue's home node, so groups and exclusivity hold cluster-wide.
 */
let etcd: EtcdCluster;
let nodes: ConvoyNode[] = [];
const clients: TestClient[] = [];

async function client(node: ConvoyNode): Promise<TestClient> {
  const opened = await connect(node.port);
  clients.push(opened);
  return opened;
}

/** Consumers of `queue` attached on its home node (every node's consumers are attached there). */
async function consumersAtHome(home: ConvoyNode, queue: string): Promise<number> {
  const snapshot = (await fetchAdminSnapshot({ host: '127.0.0.1', port: home.port, timeoutMs: 5000 }, 'queues')) as QueuesSnapshot;
  return snapshot.queues.find((q) => q.name === queue)?.consumers.length ?? 0;
}

async function waitForConsumersAtHome(home: ConvoyNode, queue: string, count: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while ((await consumersAtHome(home, queue)) < count) {
    if (Date.now() > deadline) throw new Error(`${queue} does not have ${count} consumers at its home ${home.id}`);
    await sleep(50);
  }
}

beforeAll(async () => {
  etcd = await startEtcdCluster(3);
  // Two links per inter-node connection: the links of these tests spread over several connections.
  const config = { cluster: { leaseTtlMs: 3000, linksPerConnection: 2 }, queues: { 'cl.payments': { deadLetterQueue: 'cl.dead' } } };
  nodes = await Promise.all(['n1', 'n2', 'n3'].map((id) => startConvoyNode({ id, etcd: etcd.endpoints, config })));
}, 60_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all(nodes.map((node) => node.stop()));
  await etcd?.stop();
});

describe('a cluster of three nodes', () => {
  test('producers on two nodes sending the same group ids, consumers on two others: every group has one consumer, in each producer order', async () => {
    const [n1, n2, n3] = nodes as [ConvoyNode, ConvoyNode, ConvoyNode];
    const record = new TrafficRecord();
    // The first attach claims the queue: n1 is its home.
    const onHome = await client(n1);
    const homeSender = await onHome.openSender('cl.orders');
    const consumers = [
      ['c-n2', n2],
      ['c-n3a', n3],
      ['c-n3b', n3],
    ] as const;
    for (const [name, node] of consumers) {
      const c = await client(node);
      holdingConsumer(record, c, await c.openReceiver('cl.orders'), name, 10, 5);
    }
    const remoteSender = await (await client(n2)).openSender('cl.orders');
    const groups = Array.from({ length: 12 }, (_, i) => `G${i}`);
    groupProducer(record, homeSender, 'p-n1', groups, 300, { durable: false, window: 50, intervalMs: 5 });
    groupProducer(record, remoteSender, 'p-n2', groups, 300, { durable: false, window: 50, intervalMs: 5 });
    await waitFor(() => record.accepted.size === 600 && record.arrivals.length === 600 && record.arrivals.every((a) => a.settledAt < Infinity), 'all 600 messages consumed', 30_000);
    for (const group of groups) expect(record.consumersOf(group).size, `consumers of ${group}`).toBe(1);
    expect(new Set(record.arrivals.map((a) => a.consumer)).size).toBeGreaterThan(1);
    expect(record.outOfOrder()).toEqual([]);
    expect(record.missing()).toEqual([]);
    expect(record.arrivals.every((a) => a.deliveryCount === 0)).toBe(true);
  });

  test('exclusive consumers on three nodes: one active cluster-wide; when it leaves, the next takes over in order', async () => {
    const [n1, n2, n3] = nodes as [ConvoyNode, ConvoyNode, ConvoyNode];
    const record = new TrafficRecord();
    const producerClient = await client(n2);
    const sender = await producerClient.openSender('cl.audit');
    // "Earliest attached" is the order in which the consumers reach the queue's home.
    const first = await client(n1);
    const firstConsumer = holdingConsumer(record, first, await first.openReceiver('cl.audit?consumer.exclusive=true'), 'e-n1', 5, 30);
    await waitForConsumersAtHome(n2, 'cl.audit', 1);
    const second = await client(n3);
    holdingConsumer(record, second, await second.openReceiver('cl.audit?consumer.exclusive=true'), 'e-n3', 5, 5);
    await waitForConsumersAtHome(n2, 'cl.audit', 2);
    const third = await client(n2);
    holdingConsumer(record, third, await third.openReceiver('cl.audit?consumer.exclusive=true'), 'e-n2', 5, 5);
    await waitForConsumersAtHome(n2, 'cl.audit', 3);
    groupProducer(record, sender, 'p', ['x'], 80, { durable: true, window: 10, intervalMs: 5 });
    await waitFor(() => record.arrivals.length >= 20, 'the first exclusive consumer to receive 20 messages', 20_000);
    expect(record.consumersOf('x')).toEqual(new Set(['e-n1']));
    // It leaves while holding unsettled messages: they go to the next one first.
    expect(firstConsumer.held()).toBeGreaterThan(0);
    firstConsumer.receiver.close();
    await waitFor(() => record.accepted.size === 80 && record.missing().length === 0 && record.arrivals.every((a) => a.settledAt < Infinity), 'every message consumed', 30_000);
    expect(record.consumersOf('x')).toEqual(new Set(['e-n1', 'e-n3']));
    expect(record.overlaps()).toEqual([]);
    expect(record.outOfOrder()).toEqual([]);
    expect(record.missing()).toEqual([]);
    const redelivered = record.arrivals.filter((a) => a.consumer === 'e-n3' && a.deliveryCount > 0);
    expect(redelivered.length).toBeGreaterThan(0);
  });

  test('drain through a node that is not the home: answered once the home has nothing more', async () => {
    const [n1, n2] = nodes as [ConvoyNode, ConvoyNode, ConvoyNode];
    const home = await client(n1);
    await sendAll(await home.openSender('cl.drain'), [{ body: 'a' }, { body: 'b' }]);
    const remote = await client(n2);
    const receiver = await remote.openReceiver('cl.drain');
    const drained = new Promise<void>((resolve) => receiver.once('receiver_drained', () => resolve()));
    const got = receive(receiver, 2, 3000, 0);
    receiver.drain = true;
    receiver.add_credit(5);
    await drained;
    expect((await got).map((r) => r.message.body)).toEqual(['a', 'b']);
    expect(receiver.credit).toBe(0);
  });

  test('outcomes through a node that is not the home: released, modified and undeliverable-here as on one node', async () => {
    const [n1, n2, n3] = nodes as [ConvoyNode, ConvoyNode, ConvoyNode];
    const home = await client(n1);
    await sendAll(await home.openSender('cl.outcomes'), [{ body: 'm0' }, { body: 'm1' }]);
    const remote = await client(n2);
    const receiver = await remote.openReceiver('cl.outcomes');
    const seen = async (count: number, timeoutMs = 5000): Promise<Awaited<ReturnType<typeof receive>>> => receive(receiver, count, timeoutMs);
    // released: back at its place, delivery-count unchanged.
    const [first] = await seen(1);
    first!.delivery.release();
    const again = await seen(1);
    expect([again[0]!.message.body, again[0]!.message.delivery_count ?? 0]).toEqual(['m0', 0]);
    // modified{delivery-failed}: delivery-count + 1.
    again[0]!.delivery.modified({ delivery_failed: true });
    const failed = await seen(1);
    expect([failed[0]!.message.body, failed[0]!.message.delivery_count]).toEqual(['m0', 1]);
    // modified{undeliverable-here}: never to this consumer again; a consumer on another node gets it.
    failed[0]!.delivery.modified({ delivery_failed: true, undeliverable_here: true });
    const rest = await seen(2, 500);
    expect(rest.map((r) => r.message.body)).toEqual(['m1']);
    rest[0]!.delivery.accept();
    const other = await client(n3);
    const elsewhere = await receive(await other.openReceiver('cl.outcomes'), 1, 5000);
    expect([elsewhere[0]!.message.body, elsewhere[0]!.message.delivery_count]).toEqual(['m0', 2]);
    elsewhere[0]!.delivery.accept();
  });

  test('a message rejected on one node reaches the dead-letter queue served by another', async () => {
    const [n1, n2, n3] = nodes as [ConvoyNode, ConvoyNode, ConvoyNode];
    const dlq = await client(n3);
    // The dead-letter queue is used first on n3: n3 is its home.
    const dlqReceiver = await dlq.openReceiver('cl.dead');
    const home = await client(n1);
    await sendAll(await home.openSender('cl.payments'), [{ body: 'bad', durable: true, group_id: 'P' }]);
    const consumer = await client(n2);
    const [received] = await receive(await consumer.openReceiver('cl.payments'), 1, 5000);
    received!.delivery.reject({ condition: 'app:bad', description: 'cannot pay' });
    const [dead] = await receive(dlqReceiver, 1, 10_000);
    expect((dead!.message as Message).body).toBe('bad');
    expect((dead!.message as Message).group_id).toBe('P');
    dead!.delivery.accept();
  });

  test('convoy cluster lists the nodes and the queues each is home to; convoy queues shows each queue home', async () => {
    const [, , n3] = nodes as [ConvoyNode, ConvoyNode, ConvoyNode];
    // cluster.leaseTtlMs from the config file, the rest of the cluster keys from the flags.
    expect(n3.output()).toMatch(/"leaseTtlMs":3000,"msg":"joined the cluster"/);
    const cluster = await convoy(['cluster', '--port', String(n3.port)]);
    expect(cluster.code).toBe(0);
    expect(cluster.stdout).toContain('cluster seen from node n3');
    for (const id of ['n1', 'n2', 'n3']) expect(cluster.stdout).toMatch(new RegExp(`${id}( \\*)?\\s+live\\s+127\\.0\\.0\\.1:\\d+`));
    expect(cluster.stdout).toMatch(/n1: .*cl\.orders/);
    expect(cluster.stdout).toMatch(/n2: .*cl\.audit/);
    const json = JSON.parse((await convoy(['cluster', '--json', '--port', String(n3.port)])).stdout);
    expect(json.nodes.map((n: { id: string; state: string }) => [n.id, n.state])).toEqual([
      ['n1', 'live'],
      ['n2', 'live'],
      ['n3', 'live'],
    ]);
    const queues = await convoy(['queues', '--port', String(n3.port)]);
    expect(queues.code).toBe(0);
    expect(queues.stdout).toMatch(/QUEUE\s+QUEUED.*HOME/);
    expect(queues.stdout).toMatch(/cl\.orders\s+-\s+-\s+-\s+-\s+-\s+n1/);
    expect(queues.stdout).toMatch(/cl\.dead\s+\d+\s+\d+\s+\d+\s+\d+\s+\d+\s+n3/);
    expect(queues.stdout).toMatch(/cl\.payments\s+-\s+-\s+-\s+-\s+-\s+n1/);
  });

  test('a selector and a browser on a node that is not the home: the home applies them', async () => {
    const [n1, n2] = nodes as [ConvoyNode, ConvoyNode, ConvoyNode];
    const home = await client(n1);
    const colours = ['red', 'blue', 'red', 'blue'];
    await sendAll(await home.openSender('cl.colours'), colours.map((colour, i) => ({ body: `${colour}${i}`, application_properties: { colour } })));
    const remote = await client(n2);
    const browser = await remote.openReceiver({ address: 'cl.colours', distribution_mode: 'copy' }, { snd_settle_mode: 1 });
    expect((await receive(browser, 4, 5000)).map((r) => r.message.body)).toEqual(['red0', 'blue1', 'red2', 'blue3']);
    const red = await remote.openReceiver({ address: 'cl.colours', filter: filter.selector("colour = 'red'") });
    const reds = await receive(red, 2, 5000);
    expect(reds.map((r) => r.message.body)).toEqual(['red0', 'red2']);
    // Nothing else matches: the blue messages stay queued at the home for a consumer without a selector.
    expect(await receive(red, 1, 300)).toEqual([]);
    const all = await remote.openReceiver('cl.colours');
    expect((await receive(all, 2, 5000)).map((r) => r.message.body)).toEqual(['blue1', 'blue3']);
  });

  test('topics are refused on a cluster node (amqp:not-implemented), for subscribers and publishers', async () => {
    const [n1] = nodes as [ConvoyNode, ConvoyNode, ConvoyNode];
    const c = await client(n1);
    await expect(c.openReceiver({ address: 'cl.news', capabilities: ['topic'] })).rejects.toMatchObject({ condition: 'amqp:not-implemented' });
    await expect(c.openSender({ address: 'cl.news', capabilities: ['topic'] })).rejects.toMatchObject({ condition: 'amqp:not-implemented' });
  });

  test('links beyond cluster.linksPerConnection go over further inter-node connections, all served', async () => {
    const [n1, , n3] = nodes as [ConvoyNode, ConvoyNode, ConvoyNode];
    const home = await client(n1);
    const sender = await home.openSender('cl.spread');
    const connectionsFromN3 = (): number => n1.output().split('\n').filter((line) => line.includes('"container":"convoy-node-n3"') && line.includes('"msg":"connection open"')).length;
    const before = connectionsFromN3();
    const remote = await client(n3);
    const receivers = await Promise.all(Array.from({ length: 6 }, () => remote.openReceiver('cl.spread')));
    const got = Promise.all(receivers.map((receiver) => receive(receiver, 1, 10_000)));
    await sendAll(sender, Array.from({ length: 6 }, (_, i) => ({ body: `s${i}` })));
    expect((await got).map((r) => r.length)).toEqual([1, 1, 1, 1, 1, 1]);
    // Six links two by two: at most one fits beside the links of earlier tests.
    expect(connectionsFromN3() - before).toBeGreaterThanOrEqual(2);
  });
});
