import { Etcd3 } from 'etcd3';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { ClusterOptions } from '../../src/config/cluster-options';
import { DEFAULT_CLUSTER_OPTIONS } from '../../src/config/cluster-options';
import type { StoreRecord } from '../../src/cluster/etcd-records';
import { EtcdSession, NodeIdInUseError } from '../../src/cluster/etcd-session';
import { waitFor } from '../support/client';
import { startEtcdCluster, type EtcdCluster } from '../support/etcd-cluster';

/**
 * The transactions the cluster stands on, against a real etcd: at most one node claims a queue, at most
 * one takes a lost node's store over, a live owner's store cannot be taken, and a node whose lease has
 * ended changes nothing.
 */
let etcd: EtcdCluster;
const sessions: EtcdSession[] = [];
const logger = pino({ level: 'silent' });

async function join(nodeId: string, prefix: string): Promise<EtcdSession> {
  const options: ClusterOptions = {
    ...DEFAULT_CLUSTER_OPTIONS,
    nodeId,
    etcd: etcd.endpoints.split(','),
    advertise: { host: '127.0.0.1', port: 5672 },
    leaseTtlMs: 5000,
    etcdPrefix: prefix,
  };
  const session = await EtcdSession.join(options, logger, () => undefined);
  sessions.push(session);
  return session;
}

function storeOf(session: EtcdSession, dir: string | null = null): StoreRecord {
  return { origin: session.nodeId, dir, owner: session.nodeId, ownerIncarnation: session.incarnation, pendingReleases: [] };
}

beforeAll(async () => {
  etcd = await startEtcdCluster(1);
}, 30_000);

afterAll(async () => {
  await Promise.all(sessions.map((session) => session.leave()));
  await etcd?.stop();
});

describe('fenced etcd transactions', () => {
  test('two nodes claiming one queue at once: one wins, both agree where it lives', async () => {
    const [a, b] = await Promise.all([join('a', '/t1/'), join('b', '/t1/')]);
    await Promise.all([a.createStore('sa', storeOf(a)), b.createStore('sb', storeOf(b))]);
    const claims = await Promise.all(Array.from({ length: 10 }, (_, i) => Promise.all([a.claimQueue(`q${i}`, 'sa'), b.claimQueue(`q${i}`, 'sb')])));
    for (const [fromA, fromB] of claims) {
      expect(fromA).toBe(fromB);
      expect(['sa', 'sb']).toContain(fromA);
    }
  });

  test('a node id is one process: a second node with the same id is refused', async () => {
    await join('dup', '/t2/');
    await expect(join('dup', '/t2/')).rejects.toThrow(NodeIdInUseError);
  });

  test('a lost node\'s stores are taken over by exactly one node, all together; a live owner\'s by none', async () => {
    const [a, b, c] = await Promise.all([join('a', '/t3/'), join('b', '/t3/'), join('c', '/t3/')]);
    await c.createStore('sc', storeOf(c));
    await waitFor(() => a.state.store('sc') !== null && b.state.store('sc') !== null, 'the store to be seen');
    const seen = a.state.store('sc')!;
    const taken = (by: EtcdSession): StoreRecord => ({ ...seen.record, owner: by.nodeId, ownerIncarnation: by.incarnation, pendingReleases: [c.incarnation] });
    // c is alive: its lease is on its key.
    const takeOver = (by: EtcdSession) => by.takeOverStores([{ id: 'sc', seenRevision: seen.revision, record: taken(by) }], 'c', c.incarnation);
    expect((await takeOver(a)).succeeded).toBe(false);
    await c.leave();
    await waitFor(() => a.state.node('c') === null && b.state.node('c') === null, 'c to be gone');
    const outcomes = await Promise.all([a, b].map(takeOver));
    expect(outcomes.map((outcome) => outcome.succeeded).sort()).toEqual([false, true]);
    const winner = outcomes[0]!.succeeded ? a : b;
    await waitFor(() => a.state.store('sc')?.record.owner === winner.nodeId, 'the takeover to be seen');
    expect(a.state.store('sc')!.record.pendingReleases).toEqual([c.incarnation]);
  });

  test('a node whose lease has ended changes nothing: no claim, no store, no takeover', async () => {
    const [a, b] = await Promise.all([join('a', '/t4/'), join('b', '/t4/')]);
    await b.createStore('sb', storeOf(b));
    // b's lease ends (as when b was paused or partitioned past its TTL) while b's session goes on.
    const other = new Etcd3({ hosts: etcd.endpoints.split(',') });
    await other.leaseClient.leaseRevoke({ ID: b.incarnation });
    other.close();
    await expect(b.claimQueue('late', 'sb')).rejects.toThrow();
    expect((await b.createStore('sb2', storeOf(b))).succeeded).toBe(false);
    await waitFor(() => a.state.store('sb') !== null, 'the store to be seen');
    const seen = a.state.store('sb')!;
    expect((await b.updateOwnStore('sb', seen.revision, { ...seen.record, pendingReleases: ['x'] })).succeeded).toBe(false);
  });
});
