import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts } from './free-ports';

/** etcd from Debian's etcd-server package (.ci/run installs it); a missing etcd fails the tests. */
export const ETCD_BIN = process.env.ETCD ?? '/usr/bin/etcd';

export interface EtcdMember {
  readonly name: string;
  readonly clientUrl: string;
  child: ChildProcess | null;
}

export interface EtcdCluster {
  readonly members: readonly EtcdMember[];
  /** Client URLs of every member, comma-separated: what `convoy start --etcd` takes. */
  readonly endpoints: string;
  /** kill -9 one member (the cluster keeps its quorum with two of three). */
  kill(member: EtcdMember): Promise<void>;
  /** The member that is the raft leader now. */
  leader(): Promise<EtcdMember>;
  stop(): Promise<void>;
}

/**
 * Starts an etcd cluster of `size` members on loopback ports, each with its own data dir, and waits
 * until every member answers its health check. Nothing of a system-wide etcd is used.
 */
export async function startEtcdCluster(size = 3): Promise<EtcdCluster> {
  const ports = await freePorts(size * 2);
  const root = mkdtempSync(join(tmpdir(), 'convoy-etcd-'));
  const token = `convoy-test-${process.pid}-${Date.now()}`;
  const names = Array.from({ length: size }, (_, i) => `m${i + 1}`);
  const peerUrl = (i: number): string => `http://127.0.0.1:${ports[size + i]}`;
  const initialCluster = names.map((name, i) => `${name}=${peerUrl(i)}`).join(',');
  const members: EtcdMember[] = names.map((name, i) => ({ name, clientUrl: `http://127.0.0.1:${ports[i]}`, child: null }));
  const logs = new Map<string, string>();
  members.forEach((member, i) => {
    const child = spawn(
      ETCD_BIN,
      [
        '--name', member.name,
        '--data-dir', join(root, member.name),
        '--listen-client-urls', member.clientUrl,
        '--advertise-client-urls', member.clientUrl,
        '--listen-peer-urls', peerUrl(i),
        '--initial-advertise-peer-urls', peerUrl(i),
        '--initial-cluster', initialCluster,
        '--initial-cluster-token', token,
        '--initial-cluster-state', 'new',
        '--logger', 'zap',
        '--log-level', 'error',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    logs.set(member.name, '');
    child.stderr!.on('data', (chunk: Buffer) => logs.set(member.name, (logs.get(member.name)! + chunk.toString()).slice(-4000)));
    member.child = child;
  });
  const cluster: EtcdCluster = {
    members,
    endpoints: members.map((member) => member.clientUrl).join(','),
    async kill(member) {
      const child = member.child;
      if (!child || child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
      member.child = null;
    },
    async leader() {
      for (const member of members) {
        if (!member.child) continue;
        // etcd's gRPC gateway: Maintenance.Status names this member and the leader.
        const response = await fetch(`${member.clientUrl}/v3/maintenance/status`, { method: 'POST', body: '{}' });
        const status = (await response.json()) as { header: { member_id: string }; leader: string };
        if (status.header.member_id === status.leader) return member;
      }
      throw new Error('no etcd member is the leader');
    },
    async stop() {
      await Promise.all(members.map((member) => cluster.kill(member)));
      rmSync(root, { recursive: true, force: true });
    },
  };
  try {
    await Promise.all(members.map((member) => waitHealthy(member, () => logs.get(member.name)!)));
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return cluster;
}

async function waitHealthy(member: EtcdMember, log: () => string): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (member.child?.exitCode !== null) throw new Error(`etcd member ${member.name} exited: ${log()}`);
    try {
      const response = await fetch(`${member.clientUrl}/health`);
      const body = (await response.json()) as { health?: string };
      if (body.health === 'true') return;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) throw new Error(`etcd member ${member.name} not healthy within 20 s: ${log()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
