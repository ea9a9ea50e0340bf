import { afterAll, expect, test } from 'vitest';
import { fetchAdminSnapshot } from '../../src/amqp';
import type { ClusterSnapshot } from '../../src/broker/cluster-services';
import { connect, connectWithFailover, waitFor, type TestClient } from '../support/client';
import { startConvoyNode, type ConvoyNode } from '../support/cluster-nodes';
import { startEtcdCluster, type EtcdCluster } from '../support/etcd-cluster';
import { freePorts } from '../support/free-ports';
import { groupProducer, holdingConsumer, TrafficRecord, type GroupProducer } from '../support/group-traffic';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Failover soak: durable grouped traffic through clients with failover lists (rhea reconnect over the
 * three nodes) while the queue's home is killed with SIGKILL again and again, and started again as a
 * new member. Every accepted message must be delivered, first arrivals in group order, no group held by
 * two consumers at once. The default run does a few cycles; the long run is one command:
 *   CONVOY_CLUSTER_SOAK_CYCLES=50 npx vitest run test/cluster/soak.test.ts
 */
const CYCLES = Number(process.env.CONVOY_CLUSTER_SOAK_CYCLES ?? 2);
/** What arrives this soon after a kill was on its way from the dead node; the new home's deliveries come later. */
const IN_FLIGHT_MS = 200;
const LEASE_TTL_MS = 5000;
const CONSUMER_CREDIT = 10;
const CONSUMER_HOLD_MS = 20;
const QUEUE = 'soak.orders';
let etcd: EtcdCluster | undefined;
const nodes = new Map<string, ConvoyNode>();
const clients: TestClient[] = [];

afterAll(async () => {
  // CONVOY_TEST_LOGS=1 prints what the nodes logged about the cluster, to see a failure's story.
  if (process.env.CONVOY_TEST_LOGS) for (const node of nodes.values()) console.log(node.id, node.output().split('\n').filter((l) => /cluster|inter-node|lost|store|fenced|"level":[456]0/.test(l)).join('\n'));
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all([...nodes.values()].map((node) => node.stop()));
  await etcd?.stop();
});

test(`failover soak: ${CYCLES} kill -9 of the queue's home under durable grouped traffic`, async () => {
  etcd = await startEtcdCluster(3);
  const shared = mkdtempSync(join(tmpdir(), 'convoy-soak-'));
  const ids = ['n1', 'n2', 'n3'];
  const ports = await freePorts(ids.length);
  const start = async (id: string): Promise<ConvoyNode> => {
    const node = await startConvoyNode({
      id,
      etcd: etcd!.endpoints,
      port: ports[ids.indexOf(id)]!,
      dataDir: join(shared, id),
      config: { cluster: { leaseTtlMs: LEASE_TTL_MS, releaseTimeoutMs: 10_000 } },
    });
    nodes.set(id, node);
    return node;
  };
  for (const id of ids) await start(id);
  const claim = await connect(nodes.get('n1')!.port);
  await claim.openSender(QUEUE);
  await waitFor(() => nodes.get('n1')!.output().includes(`"queue":"${QUEUE}","msg":"queue claimed`), 'n1 to claim the queue');
  await claim.close();

  const record = new TrafficRecord();
  // Each client's failover list starts at another node.
  const rotated = (offset: number): number[] => ports.map((_, i) => ports[(i + offset) % ports.length]!);
  for (let i = 0; i < 3; i++) {
    const client = await connectWithFailover(rotated(i));
    clients.push(client);
    // Each holds what it got for a moment (so a kill finds messages held), and is fast enough to own
    // several groups' backlog alone: a group stays with its owner, and after a failover one consumer may
    // own most of what the producers queued during the outage (at credit 5 and 100 ms, 30 cycles left
    // one consumer draining 4 groups for minutes: the final wait measured that consumer, not failover).
    holdingConsumer(record, client, await client.openReceiver(QUEUE), `c${i}`, CONSUMER_CREDIT, CONSUMER_HOLD_MS);
  }
  const perProducer = 400 * (CYCLES + 1);
  const producers: GroupProducer[] = [];
  for (let i = 0; i < 2; i++) {
    const client = await connectWithFailover(rotated(i + 1));
    clients.push(client);
    const groups = Array.from({ length: 4 }, (_, g) => `G${i * 4 + g}`);
    producers.push(groupProducer(record, await client.openSender(QUEUE), `p${i}`, groups, perProducer, { durable: true, window: 10, intervalMs: 15 }));
  }

  const failoverMs: number[] = [];
  for (let cycle = 0; cycle < CYCLES; cycle++) {
    await waitFor(() => record.arrivals.length >= 100 * (cycle + 1), 'traffic to flow', 30_000);
    const live = [...nodes.values()][0]!;
    const view = (await fetchAdminSnapshot({ host: '127.0.0.1', port: live.port, timeoutMs: 5000 }, 'cluster')) as ClusterSnapshot;
    const homeId = view.nodes.find((n) => n.state === 'live' && n.queues.includes(QUEUE))!.id;
    const home = nodes.get(homeId)!;
    const killedAt = performance.now();
    home.child.kill('SIGKILL');
    await home.exited;
    nodes.delete(homeId);
    await waitFor(() => record.arrivals.some((a) => a.receivedAt > killedAt + IN_FLIGHT_MS), 'the queue to be served again', 60_000);
    failoverMs.push(Math.round(Math.min(...record.arrivals.filter((a) => a.receivedAt > killedAt + IN_FLIGHT_MS).map((a) => a.receivedAt)) - killedAt));
    await start(homeId);
  }
  await waitFor(
    () => producers.every((p) => p.sent() === perProducer && p.unsettled() === 0) && record.missing().length === 0 && record.arrivals.every((a) => a.settledAt < Infinity),
    'every accepted message consumed',
    120_000,
  ).catch((error: Error) => {
    const held = record.arrivals.filter((a) => a.settledAt === Infinity).map((a) => `${a.consumer}:${a.group}#${a.index}`);
    throw new Error(
      `${error.message}: ${record.accepted.size} accepted, ${record.arrivals.length} arrivals, missing ${record.missing().slice(0, 10).join(' ')} (${record.missing().length}), ` +
        `held ${held.slice(0, 10).join(' ')}, producers ${producers.map((p) => `${p.name} sent ${p.sent()} unsettled ${p.unsettled()}`).join(', ')}`,
    );
  });
  const redelivered = record.arrivals.filter((a) => a.deliveryCount > 0).length;
  console.log(
    `failover soak: ${CYCLES} cycles, ${record.accepted.size} accepted, ${record.arrivals.length} deliveries (${redelivered} with a raised delivery-count), ` +
      `first delivery from the new home after ${failoverMs.join(', ')} ms (lease ${LEASE_TTL_MS} ms)`,
  );
  expect(record.accepted.size).toBe(2 * perProducer);
  expect(record.missing()).toEqual([]);
  expect(record.outOfOrder()).toEqual([]);
  expect(record.overlaps()).toEqual([]);
}, 120_000 + CYCLES * 40_000);
