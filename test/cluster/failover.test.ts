import { mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { fetchAdminSnapshot } from '../../src/amqp';
import type { ClusterSnapshot } from '../../src/broker/cluster-services';
import { connect, sleep, waitFor, type TestClient } from '../support/client';
import { startConvoyNode, type ConvoyNode } from '../support/cluster-nodes';
import { startEtcdCluster, type EtcdCluster } from '../support/etcd-cluster';
import { freePorts } from '../support/free-ports';
import { startTcpRelay, type TcpRelay } from '../support/tcp-relay';
import { groupProducer, holdingConsumer, TrafficRecord, type GroupProducer, type HoldingConsumer } from '../support/group-traffic';

/**
 * Failover (README, "Cluster: failover"): a home node killed with SIGKILL, the connections between live
 * nodes cut, the etcd leader killed, and a home node paused past its lease (SIGSTOP) and resumed. Data
 * dirs live under one directory standing for the shared storage every node reaches. Nodes reach each
 * other through TCP relays in the test process (what they advertise), which a test can cut.
 */
/**
 * Long enough for the nodes to ride out an etcd leader election without fencing: 1 to 2 s on an idle
 * machine, several seconds on this 2-core one when other test files run beside this one.
 */
/** What arrives this soon after a kill was on its way from the dead node; the new home's deliveries come later. */
const IN_FLIGHT_MS = 200;
const LEASE_TTL_MS = 6000;
/** A client that holds messages of a lost home longer than this has its link detached. */
const RELEASE_TIMEOUT_MS = 10_000;
const config = { cluster: { leaseTtlMs: LEASE_TTL_MS, releaseTimeoutMs: RELEASE_TIMEOUT_MS }, fsyncPolicy: 'batch' as const };
const shared = mkdtempSync(join(tmpdir(), 'convoy-shared-'));
let etcd: EtcdCluster;
const nodes = new Map<string, ConvoyNode>();
const relays = new Map<string, TcpRelay>();
const clients: TestClient[] = [];

/** Starts (or starts again, on the same port) node `id`, which other nodes reach through its relay. */
async function startNode(id: string): Promise<ConvoyNode> {
  let relay = relays.get(id);
  if (!relay) {
    relay = await startTcpRelay((await freePorts(1))[0]!);
    relays.set(id, relay);
  }
  const node = await startConvoyNode({ id, etcd: etcd.endpoints, dataDir: join(shared, id), port: relay.target, advertisePort: relay.port, config });
  nodes.set(id, node);
  return node;
}

async function client(node: ConvoyNode): Promise<TestClient> {
  const opened = await connect(node.port);
  clients.push(opened);
  return opened;
}

async function clusterView(node: ConvoyNode): Promise<ClusterSnapshot> {
  return (await fetchAdminSnapshot({ host: '127.0.0.1', port: node.port, timeoutMs: 5000 }, 'cluster')) as ClusterSnapshot;
}

/** The node serving `queue`, as `node` sees the cluster. */
async function homeOf(node: ConvoyNode, queue: string): Promise<string | null> {
  const view = await clusterView(node);
  return view.nodes.find((n) => n.state === 'live' && n.queues.includes(queue))?.id ?? null;
}

beforeAll(async () => {
  etcd = await startEtcdCluster(3);
  for (const id of ['n1', 'n2', 'n3']) await startNode(id);
}, 60_000);

afterAll(async () => {
  // CONVOY_TEST_LOGS=1 prints what the nodes logged about the cluster, to see a failure's story.
  if (process.env.CONVOY_TEST_LOGS) for (const node of nodes.values()) console.log(node.id, node.output().split('\n').filter((l) => /cluster|inter-node|lost|store|fenced|"level":[456]0/.test(l)).join('\n'));
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all([...nodes.values()].map((node) => node.stop()));
  await Promise.all([...relays.values()].map((relay) => relay.close()));
  await etcd?.stop();
});

describe('failover', () => {
  test('kill -9 the home of a queue with durable grouped traffic: every accepted message is delivered, first arrivals in group order, no group held twice, surviving clients stay attached', async () => {
    const n1 = nodes.get('n1')!;
    const n2 = nodes.get('n2')!;
    const n3 = nodes.get('n3')!;
    // n1 sees the queue's first attach: it is the home.
    const claim = await client(n1);
    await claim.openSender('fo.orders');
    await waitFor(() => n1.output().includes('"queue":"fo.orders","msg":"queue claimed'), 'n1 to claim fo.orders');
    const record = new TrafficRecord();
    const consumers: HoldingConsumer[] = [];
    // Two ordinary consumers; one slow one that holds what it has when the home dies longer than the
    // lease (the new home must not hand its groups to anyone else meanwhile); one stuck one that never
    // settles (after cluster.releaseTimeoutMs its node detaches it, which ends its hold).
    let homeAlive = true;
    for (const [name, node, holdMs] of [
      ['c-n2a', n2, 150],
      ['c-n3', n3, 150],
      ['c-n2-slow', n2, () => (homeAlive ? 1.5 * LEASE_TTL_MS : 150)],
      ['c-n3-stuck', n3, 3_600_000],
    ] as const) {
      const c = await client(node);
      consumers.push(holdingConsumer(record, c, await c.openReceiver('fo.orders'), name, 4, holdMs));
    }
    const producers: GroupProducer[] = [];
    for (const [name, node, groups] of [
      ['p-n2', n2, ['A', 'B', 'C', 'D']],
      ['p-n3', n3, ['E', 'F', 'G', 'H']],
    ] as const) {
      const c = await client(node);
      producers.push(groupProducer(record, await c.openSender('fo.orders'), name, groups, 400, { durable: true, window: 20, intervalMs: 10 }));
    }
    await waitFor(() => record.arrivals.length >= 60, 'traffic to flow', 20_000);
    await waitFor(() => consumers.every((c) => c.held() > 0), 'every consumer to hold unsettled messages', 10_000);
    const killedAt = performance.now();
    n1.child.kill('SIGKILL');
    homeAlive = false;
    await n1.exited;
    nodes.delete('n1');

    await waitFor(
      () => record.accepted.size === 800 && record.missing().length === 0 && record.arrivals.every((a) => a.settledAt < Infinity || a.consumer === 'c-n3-stuck'),
      'every accepted message consumed',
      60_000,
    ).catch((error: Error) => {
      throw new Error(`${error.message}: ${record.accepted.size} accepted, ${record.arrivals.length} arrivals, missing ${record.missing().length}, held ${consumers.map((c) => `${c.name}=${c.held()}`).join(' ')}, producers ${producers.map((p) => `${p.name} sent ${p.sent()} unsettled ${p.unsettled()}`).join(', ')}`);
    });
    const firstAfterKill = Math.min(...record.arrivals.filter((a) => a.receivedAt > killedAt + IN_FLIGHT_MS).map((a) => a.receivedAt));
    console.log(`failover with a stuck consumer: first delivery from the new home ${Math.round(firstAfterKill - killedAt)} ms after kill -9 of the old one (lease ${LEASE_TTL_MS} ms, release timeout ${RELEASE_TIMEOUT_MS} ms)`);
    expect(record.missing()).toEqual([]);
    expect(record.outOfOrder()).toEqual([]);
    expect(record.overlaps()).toEqual([]);
    // What the clients held when the home died came back, counted as redelivered.
    expect(record.arrivals.some((a) => a.receivedAt > killedAt && a.deliveryCount > 0)).toBe(true);
    // Clients of surviving nodes noticed nothing but redeliveries; only the stuck one was detached.
    for (const consumer of consumers.filter((c) => c.name !== 'c-n3-stuck')) expect(consumer.detaches, consumer.name).toEqual([]);
    expect(consumers.find((c) => c.name === 'c-n3-stuck')!.detaches).toEqual(['amqp:link:detach-forced']);
    // The new home served consumers only after the stuck one's hold ended.
    const stuckReleasedAt = Math.min(...record.arrivals.filter((a) => a.consumer === 'c-n3-stuck').map((a) => a.settledAt));
    expect(firstAfterKill).toBeGreaterThan(stuckReleasedAt);
    for (const producer of producers) expect(producer.detaches, producer.name).toEqual([]);
    expect(['n2', 'n3']).toContain(await homeOf(n2, 'fo.orders'));

    // n1 comes back as a new member of the cluster, with a new store: its old one was taken over.
    const again = await startNode('n1');
    await waitFor(() => again.output().includes('joined the cluster'), 'n1 to join again');
    const view = await clusterView(n2);
    expect(view.nodes.filter((n) => n.state === 'live').map((n) => n.id)).toEqual(['n1', 'n2', 'n3']);
  }, 120_000);

  test('the connections between live nodes are cut: the home keeps a lost consumer\'s groups until its node says its client let go of them', async () => {
    const [n1, n2, n3] = ['n1', 'n2', 'n3'].map((id) => nodes.get(id)!) as [ConvoyNode, ConvoyNode, ConvoyNode];
    const claim = await client(n1);
    await claim.openSender('fo.cut');
    await waitFor(() => n1.output().includes('"queue":"fo.cut","msg":"queue claimed'), 'n1 to claim fo.cut');
    const record = new TrafficRecord();
    let connected = true;
    const slowClient = await client(n2);
    const slow = holdingConsumer(record, slowClient, await slowClient.openReceiver('fo.cut'), 'c-n2-slow', 4, () => (connected ? 3000 : 20));
    const fastClient = await client(n3);
    const fast = holdingConsumer(record, fastClient, await fastClient.openReceiver('fo.cut'), 'c-n3', 4, 20);
    const producerClient = await client(n3);
    const producer = groupProducer(record, await producerClient.openSender('fo.cut'), 'p-n3', ['A', 'B', 'C', 'D', 'E', 'F'], 240, { durable: true, window: 10, intervalMs: 10 });
    await waitFor(() => slow.held() > 0 && record.arrivals.length >= 20, 'the slow consumer to hold messages', 20_000);
    const cutAt = performance.now();
    const logLengths = new Map([n1, n2, n3].map((node) => [node, node.output().length]));
    for (const relay of relays.values()) relay.cut();
    connected = false;
    await waitFor(() => record.accepted.size === 240 && record.missing().length === 0 && record.arrivals.every((a) => a.settledAt < Infinity), 'every message consumed', 40_000);
    expect(record.overlaps()).toEqual([]);
    expect(record.outOfOrder()).toEqual([]);
    expect(record.arrivals.some((a) => a.receivedAt > cutAt && a.deliveryCount > 0)).toBe(true);
    expect(slow.detaches).toEqual([]);
    expect(fast.detaches).toEqual([]);
    expect(producer.detaches).toEqual([]);
    expect(n1.output()).toContain('inter-node connection lost: its consumer keeps its groups until that node releases it');
    for (const node of [n1, n2, n3]) expect(node.output().slice(logLengths.get(node)), node.id).not.toContain('node lost');
  }, 60_000);

  test('kill the etcd leader: service goes on, no node loses its lease', async () => {
    const [n1, n2, n3] = ['n1', 'n2', 'n3'].map((id) => nodes.get(id)!) as [ConvoyNode, ConvoyNode, ConvoyNode];
    const record = new TrafficRecord();
    const claim = await client(n3);
    await claim.openSender('fo.etcd');
    const consumer = await client(n1);
    holdingConsumer(record, consumer, await consumer.openReceiver('fo.etcd'), 'c-n1', 10, 5);
    const producerClient = await client(n2);
    groupProducer(record, await producerClient.openSender('fo.etcd'), 'p-n2', ['A', 'B'], 300, { durable: true, window: 10, intervalMs: 20 });
    await waitFor(() => record.arrivals.length >= 20, 'traffic to flow', 20_000);
    const logLengths = new Map([n1, n2, n3].map((node) => [node, node.output().length]));
    const leader = await etcd.leader();
    console.log(`killing etcd leader ${leader.name}; etcd ${etcd.endpoints}; nodes ${[n1, n2, n3].map((n) => n.port).join(',')}`);
    await etcd.kill(leader);
    // Three lease times without that member: keep-alives go to the others.
    await sleep(3 * LEASE_TTL_MS);
    await waitFor(() => record.accepted.size === 300 && record.missing().length === 0, 'every message consumed', 30_000);
    for (const node of [n1, n2, n3]) {
      expect(node.child.exitCode, node.id).toBeNull();
      const since = node.output().slice(logLengths.get(node));
      expect(since, node.id).not.toContain('fenced');
      expect(since, node.id).not.toContain('node lost');
    }
    expect(record.outOfOrder()).toEqual([]);
  }, 60_000);

  test('SIGSTOP a home past its lease: another node takes its queues over; resumed, it serves nothing and writes nothing to its old journal', async () => {
    const n1 = nodes.get('n1')!;
    const n2 = nodes.get('n2')!;
    const n3 = nodes.get('n3')!;
    const record = new TrafficRecord();
    // n2 is the home; a client of n2 itself consumes, and one produces to it, when it is paused.
    const local = await client(n2);
    const localSender = await local.openSender('fo.paused');
    await waitFor(() => n2.output().includes('"queue":"fo.paused","msg":"queue claimed'), 'n2 to claim fo.paused');
    holdingConsumer(record, local, await local.openReceiver('fo.paused'), 'c-n2', 5, 50);
    const localProducer = groupProducer(record, localSender, 'p-n2', ['L'], 1000, { durable: true, window: 5, intervalMs: 20 });
    await waitFor(() => record.arrivals.some((a) => a.consumer === 'c-n2'), 'the local consumer to receive', 10_000);

    n2.child.kill('SIGSTOP');
    const pausedAt = performance.now();
    // Another node takes n2's store over once n2's lease has ended.
    const since = new Map([n1, n3].map((node) => [node, node.output().length]));
    const opened = (node: ConvoyNode): boolean => /"store":"n2-[^"]+","msg":"store open/.test(node.output().slice(since.get(node)));
    await waitFor(() => opened(n1) || opened(n3), 'another node to take over and open n2\'s store', 30_000);
    // Traffic goes on through the other nodes, served by the new home.
    const otherConsumer = await client(n3);
    holdingConsumer(record, otherConsumer, await otherConsumer.openReceiver('fo.paused'), 'c-n3', 5, 5);
    const otherProducer = await client(n1);
    groupProducer(record, await otherProducer.openSender('fo.paused'), 'p-n1', ['R'], 30, { durable: true, window: 5, intervalMs: 10 });
    await waitFor(() => record.arrivals.filter((a) => a.consumer === 'c-n3' && a.producer === 'p-n1').length >= 30, 'the new home to serve', 20_000);

    const before = listing(n2.dataDir);
    const heldBefore = record.arrivals.filter((a) => a.consumer === 'c-n2').length;
    const resumedAt = performance.now();
    n2.child.kill('SIGCONT');
    const code = await n2.exited;
    nodes.delete('n2');
    expect(code).toBe(75);
    expect(n2.output()).toContain('fenced');
    // It wrote nothing to its old journal (nor anywhere under its data dir) ...
    expect(listing(n2.dataDir)).toEqual(before);
    // ... and served nothing: its own client received nothing after it resumed.
    expect(record.arrivals.filter((a) => a.consumer === 'c-n2').length).toBe(heldBefore);
    expect(record.arrivals.filter((a) => a.consumer === 'c-n2' && a.receivedAt > resumedAt)).toEqual([]);
    localProducer.stop();
    console.log(`paused for ${Math.round(resumedAt - pausedAt)} ms; n2 exited ${code} on resuming`);
    expect(record.outOfOrder()).toEqual([]);
    expect(record.overlaps()).toEqual([]);
  }, 90_000);
});

/** Every file and directory under `dir`, with size and modification time. */
function listing(dir: string): string[] {
  const entries: string[] = [];
  const walk = (path: string): void => {
    for (const name of readdirSync(path).sort()) {
      const full = join(path, name);
      const stat = statSync(full);
      entries.push(`${full.slice(dir.length)} ${stat.isDirectory() ? 'dir' : stat.size} ${stat.mtimeMs}`);
      if (stat.isDirectory()) walk(full);
    }
  };
  walk(dir);
  return entries;
}
