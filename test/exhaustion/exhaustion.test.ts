import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { MESSAGE_BOOKKEEPING_BYTES } from '../../src/broker/memory-budget';
import type { BrokerOptionsInput } from '../../src/config/options';
import { startBrokerProcess } from '../support/broker-process';
// @ts-expect-error: plain ESM of the exhaustion harness (interop/bench/exhaustion), shared with its Artemis runs
import { runScenario } from '../../interop/bench/exhaustion/scenario.mjs';

/**
 * The resource-exhaustion suite (issue 9), on loopback, each attack bounded in time: connections, slow
 * handshakes, session and link floods, producer floods with no consumer, huge messages, greedy
 * consumers. Each runs against a fresh `convoy start` process (journal store, the defaults unless the
 * scenario says otherwise) from a child process, while a healthy client keeps doing round trips; the
 * broker's RSS is sampled. Every scenario requires: the healthy client keeps its connection and every
 * round trip is answered, the broker is still running afterwards, its RSS stays bounded, and the attack
 * met the limit that applies. The figures, side by side with ActiveMQ Artemis, come from
 * `node interop/bench/exhaustion/run.mjs` (README "Limits").
 */
interface Result {
  attack: Record<string, unknown>;
  healthy: { roundTrips: number; p50Ms: number; p99Ms: number; maxMs: number; problems: string[]; disconnected: boolean };
  rss: { beforeMiB: number; peakMiB: number; afterMiB: number };
}

const MiB = 1024 * 1024;
/** What a round trip may take at worst on a shared 2-core machine under attack: the point is that it is answered. */
const ROUND_TRIP_MAX_MS = 5000;

async function underAttack(scenario: string, options: Record<string, unknown>, config: BrokerOptionsInput): Promise<Result> {
  const configFile = join(tmpdir(), `convoy-exhaustion-${process.pid}-${scenario}.json`);
  writeFileSync(configFile, JSON.stringify(config));
  const broker = await startBrokerProcess(['--config', configFile]);
  try {
    const result = (await runScenario({ host: '127.0.0.1', port: broker.port, pid: broker.child.pid!, scenario, options })) as Result;
    console.log(`${scenario}: ${JSON.stringify({ attack: result.attack, healthy: { ...result.healthy, problems: result.healthy.problems.length }, rss: result.rss })}`);
    expect(broker.child.exitCode, 'the broker is still running').toBeNull();
    expect(result.healthy.disconnected).toBe(false);
    expect(result.healthy.problems).toEqual([]);
    expect(result.healthy.roundTrips).toBeGreaterThan(10);
    expect(result.healthy.maxMs).toBeLessThan(ROUND_TRIP_MAX_MS);
    return result;
  } finally {
    broker.child.kill('SIGTERM');
    await broker.exited;
  }
}

describe('resource exhaustion: one client cannot take the broker from the others', () => {
  test('3,000 connections from one address: 1,000 get in (maxConnectionsPerAddress), the rest are refused', async () => {
    const { attack, rss } = await underAttack('connections', { count: 3000, holdSeconds: 3 }, {});
    expect(attack.stillOpenAfterHold).toBe(999); // the healthy client is the 1,000th
    expect((attack.refused as Record<string, number>)['amqp:resource-limit-exceeded']).toBeGreaterThan(0);
    expect(rss.peakMiB).toBeLessThan(rss.beforeMiB + 200);
  });

  test('500 sockets trickling the protocol header one byte a second are closed at handshakeTimeoutMs', async () => {
    const { attack, rss } = await underAttack('slowHandshakes', { count: 500, seconds: 8 }, { handshakeTimeoutMs: 3000 });
    expect(attack.closedByBroker).toBe(500);
    expect(attack.medianCloseMs).toBeLessThan(5000);
    expect(rss.peakMiB).toBeLessThan(rss.beforeMiB + 100);
  });

  test('10 connections beginning 10,000 sessions each: 1,024 answered (channel-max), then closed with amqp:resource-limit-exceeded', async () => {
    const { attack, rss } = await underAttack('sessionFlood', { connections: 10, sessions: 10_000, seconds: 20 }, {});
    expect(attack.answered).toEqual(Array(10).fill(1024));
    expect(attack.closedWith).toEqual(Array(10).fill('amqp:resource-limit-exceeded'));
    expect(rss.peakMiB).toBeLessThan(rss.beforeMiB + 300);
  });

  test('10,000 attaches on one connection: 4,096 attached (maxLinksPerConnection), the rest refused, all answered', async () => {
    const { attack, rss } = await underAttack('linkFlood', { links: 10_000, perSession: 1000, seconds: 90 }, {});
    expect(attack.attached).toBe(4096);
    expect(attack.refused).toEqual({ 'amqp:resource-limit-exceeded': 10_000 - 4096 });
    expect(rss.peakMiB).toBeLessThan(rss.beforeMiB + 300);
  });

  test('producers flooding a queue nobody consumes are held back at maxMemoryBytes', async () => {
    const maxMemoryBytes = 8 * MiB;
    const { attack, rss } = await underAttack('producerFlood', { producers: 4, seconds: 8, bodyBytes: 1024 }, { maxMemoryBytes });
    // Bodies past half of it are paged (their bookkeeping stays); once held back, each of the 4
    // producers finishes at most its credit window (1,000).
    expect(attack.accepted).toBeGreaterThan(maxMemoryBytes / (MESSAGE_BOOKKEEPING_BYTES + 1024));
    expect(attack.accepted).toBeLessThan(maxMemoryBytes / MESSAGE_BOOKKEEPING_BYTES + 4 * 1000);
    expect(attack.rejected).toEqual({});
    expect(rss.peakMiB).toBeLessThan(rss.beforeMiB + 200);
  });

  test('producers of 10 MiB messages: message memory and what arrives in frames stay bounded', async () => {
    const { attack, rss } = await underAttack('hugeMessages', { producers: 4, seconds: 8, bodyBytes: 10 * MiB }, { maxMemoryBytes: 64 * MiB });
    expect(attack.accepted).toBeGreaterThan(0);
    expect(rss.peakMiB).toBeLessThan(rss.beforeMiB + 400);
  });

  test('consumers granting a million credit and settling nothing hold at most maxUnsettledPerLink each; producers are held back', async () => {
    const { attack, rss } = await underAttack('greedyConsumers', { consumers: 20, seconds: 8, bodyBytes: 1024 }, { maxMemoryBytes: 16 * MiB, maxUnsettledPerLink: 1000 });
    expect(attack.mostHeldUnsettledByOne).toBeLessThanOrEqual(1000);
    expect(rss.peakMiB).toBeLessThan(rss.beforeMiB + 250);
  });
});
