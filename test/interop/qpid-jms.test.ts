/**
 * Qpid JMS interop: runs the Java scenario client (interop/jms, org.apache.qpid:qpid-jms-client 2.x)
 * against an in-process Convoy broker, one fresh broker per scenario.
 *
 * The client prints one JSON line per run: { scenario, ok, error?, ...details }. A missing `java` or
 * a failed Maven build FAILS this suite; it never skips.
 *
 * Debugging: CONVOY_JMS_TRACE=1 runs the client with PN_TRACE_FRM=true (proton-j frame trace on
 * the client's stdout) and prints the client's output; CONVOY_JMS_LOG=debug raises client logging.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { BUILD_TIMEOUT_MS, buildJmsClient, runJmsScenarioOnFreshBroker as runScenario } from '../support/qpid-jms';

interface Received {
  body: string;
  n: number | null;
  dc: number;
  redelivered: boolean;
  group?: string;
}

describe('Qpid JMS interop', () => {
  beforeAll(async () => {
    await buildJmsClient();
  }, BUILD_TIMEOUT_MS + 30_000);

  it('basic: typed properties, message kinds, anonymous producer (ANONYMOUS-RELAY)', async () => {
    const r = await runScenario('basic');
    expect(r.textMessages).toBe(100);
    expect(r.otherMessages).toEqual(['bytes', 'map', 'stream', 'plain']);
    expect(r.anonymousRelay).toBe(true);
    expect(r.anonymousMessages).toBe(10);
  }, 90_000);

  it('groups: each group wholly at one consumer, in order; A and B apart', async () => {
    const r = await runScenario('groups');
    const owners = r.owners as Record<string, string>;
    expect(Object.keys(owners).sort()).toEqual(['A', 'B', 'C']);
    expect(owners.A).not.toBe(owners.B);
    const received = r.received as Record<string, string[]>;
    expect(received.c1.length + received.c2.length).toBe(35);
  }, 90_000);

  it('group-close: JMSXGroupSeq=-1 closes the group', async () => {
    const r = await runScenario('group-close');
    const received = r.received as Record<string, string[]>;
    const owner = r.a1At as string;
    expect(received[owner].filter((b) => b !== 'A4')).toEqual(['A1', 'A2', 'A3']);
    expect([...received.c1, ...received.c2].filter((b) => b === 'A4')).toHaveLength(1);
    expect(r.a3GroupSeq).toBe(-1);
  }, 90_000);

  it('exclusive-failover: consumer 2 takes over with the unacknowledged messages first, in order', async () => {
    const r = await runScenario('exclusive-failover');
    const got = r.consumer2 as Received[];
    expect(got.map((m) => m.n)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    // Every unsettled delivery of a closing consumer comes back with delivery-count + 1 (prefetched ones
    // too); the five the application saw were also settled modified{delivery-failed} by Qpid JMS on close.
    expect(got.every((m) => m.redelivered)).toBe(true);
    expect(got.slice(0, 5).every((m) => m.dc >= 2 && m.dc <= 3)).toBe(true);
    expect(got.slice(5).map((m) => m.dc)).toEqual(Array(15).fill(2));
  }, 90_000);

  it('group-failover: group A moves to consumer 2 with its unacknowledged messages first', async () => {
    const r = await runScenario('group-failover');
    const got = r.consumer2 as Received[];
    expect(got.map((m) => m.body)).toEqual(['A1', 'A2', 'A3', 'A4', 'A5', 'A6', 'A7', 'A8']);
    expect(got.slice(0, 5).every((m) => m.dc >= 2 && m.dc <= 3)).toBe(true);
    expect(got.slice(5).map((m) => m.dc)).toEqual([2, 2, 2]);
    expect(got.every((m) => m.redelivered)).toBe(true);
  }, 90_000);
});
