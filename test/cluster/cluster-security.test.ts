import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create_container } from 'rhea';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { connect, receive, sendAll, waitFor, type TestClient } from '../support/client';
import { startConvoyNode, type ConvoyNode } from '../support/cluster-nodes';
import { makeTestCertificates } from '../support/certificates';
import { startEtcdCluster, type EtcdCluster } from '../support/etcd-cluster';
import { freePorts } from '../support/free-ports';
import { EXAMPLE_ROLES, writeTestUsers } from '../support/users';

/**
 * Clusters with a users file (README, "Security between nodes"): nodes log in to each other as the
 * cluster user (SCRAM-SHA-256; password from cluster.passwordFile on one node, $CONVOY_CLUSTER_PASSWORD
 * on the other), or with their certificates over mutual TLS (SASL EXTERNAL); clients' rights are checked
 * on the node they connect to; nobody else may connect as a node.
 */
let etcd: EtcdCluster;
const nodes: ConvoyNode[] = [];
const clients: TestClient[] = [];

beforeAll(async () => {
  etcd = await startEtcdCluster(1);
  const usersFile = await writeTestUsers({
    alice: { password: 'alice-pw', roles: ['app'] },
    'convoy-node': { password: 'node-secret', roles: ['cluster'] },
  });
  const config = {
    auth: { usersFile, failedLoginDelayMs: 0, maxFailedLoginDelayMs: 0 },
    roles: { ...EXAMPLE_ROLES, cluster: { send: ['*'], consume: ['*'], browse: [], manage: true } },
    cluster: { leaseTtlMs: 4000, user: 'convoy-node' },
  };
  const passwordFile = join(mkdtempSync(join(tmpdir(), 'convoy-cluster-password-')), 'password');
  writeFileSync(passwordFile, 'node-secret\n');
  nodes.push(await startConvoyNode({ id: 's1', etcd: etcd.endpoints, config: { ...config, cluster: { ...config.cluster, passwordFile } } }));
  nodes.push(await startConvoyNode({ id: 's2', etcd: etcd.endpoints, config, env: { CONVOY_CLUSTER_PASSWORD: 'node-secret' } }));
}, 60_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all(nodes.map((node) => node.stop()));
  await etcd?.stop();
});

async function alice(node: ConvoyNode): Promise<TestClient> {
  const client = await connect(node.port, { username: 'alice', password: 'alice-pw' } as never);
  clients.push(client);
  return client;
}

describe('a cluster with a users file', () => {
  test('a user produces on one node and consumes on the other: the nodes log in to each other as the cluster user', async () => {
    const [s1, s2] = nodes as [ConvoyNode, ConvoyNode];
    const producer = await alice(s1);
    expect(await sendAll(await producer.openSender('orders.secure'), [{ body: 'a', group_id: 'G' }, { body: 'b', group_id: 'G' }])).toEqual(['accepted', 'accepted']);
    const consumer = await alice(s2);
    const got = await receive(await consumer.openReceiver('orders.secure'), 2, 10_000);
    expect(got.map((r) => r.message.body)).toEqual(['a', 'b']);
    for (const r of got) r.delivery.accept();
    await waitFor(() => /"user":"convoy-node","msg":"connection open"/.test(s1.output()), 'the inter-node login to be logged');
    // Her rights are checked where she connects, before anything goes to the home.
    await expect(consumer.openReceiver('billing')).rejects.toMatchObject({ condition: 'amqp:unauthorized-access' });
  });

  test('a user that is not the cluster user may not connect as a node', async () => {
    const [s1] = nodes as [ConvoyNode, ConvoyNode];
    const impostor = create_container().connect({
      host: '127.0.0.1',
      port: s1.port,
      reconnect: false,
      username: 'alice',
      password: 'alice-pw',
      properties: { 'convoy-node': 's9', 'convoy-node-incarnation': '1', 'convoy-home-incarnation': '2', 'convoy-connection': '1' },
    } as never);
    const condition = await new Promise<string | undefined>((resolve) => {
      impostor.once('connection_error', (ctx) => resolve((ctx.connection.error as { condition?: string } | undefined)?.condition));
      impostor.once('disconnected', () => resolve(undefined));
    });
    impostor.close();
    expect(condition).toBe('amqp:unauthorized-access');
    await waitFor(() => s1.output().includes('only the cluster user (cluster.user) may connect as a cluster node'), 'the refusal to be logged');
  });
});

describe('a cluster whose nodes connect to each other with TLS', () => {
  const tlsNodes: ConvoyNode[] = [];

  afterAll(async () => {
    await Promise.all(tlsNodes.map((node) => node.stop()));
  });

  test('nodes log in to each other with their certificates (mutual TLS, SASL EXTERNAL); clients are served across them', async () => {
    const certificates = makeTestCertificates();
    const nodeCertificate = certificates.node('convoy-node');
    const usersFile = await writeTestUsers({ alice: { password: 'alice-pw', roles: ['app'] }, 'convoy-node': { password: null, roles: ['cluster'] } });
    for (const id of ['t1', 't2']) {
      const [tlsPort] = await freePorts(1);
      tlsNodes.push(
        await startConvoyNode({
          id,
          etcd: etcd.endpoints,
          advertisePort: tlsPort,
          config: {
            auth: { usersFile, failedLoginDelayMs: 0, maxFailedLoginDelayMs: 0 },
            roles: { ...EXAMPLE_ROLES, cluster: { send: ['*'], consume: ['*'], browse: [], manage: true } },
            tls: { port: tlsPort, ...nodeCertificate, caFile: certificates.caFile },
            // No password: the nodes log in with their certificates, whose subject CN is the cluster user.
            cluster: { leaseTtlMs: 4000, tls: true, user: 'convoy-node', etcdPrefix: '/convoy-tls/' },
          },
        }),
      );
    }
    const [t1, t2] = tlsNodes as [ConvoyNode, ConvoyNode];
    const producer = await alice(t1);
    expect(await sendAll(await producer.openSender('orders.tls'), [{ body: 'x' }])).toEqual(['accepted']);
    const consumer = await alice(t2);
    const [got] = await receive(await consumer.openReceiver('orders.tls'), 1, 10_000);
    expect(got!.message.body).toBe('x');
    got!.delivery.accept();
    await waitFor(() => /"mechanism":"EXTERNAL","user":"convoy-node"/.test(t1.output()), 'the inter-node login with the certificate to be logged');
  });
});
