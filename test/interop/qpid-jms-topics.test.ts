/**
 * Qpid JMS topics (README "Topics and subscriptions"): the scenario client (interop/jms,
 * TopicScenarios.java) against Convoy. Each scenario reports what every consumer received as the
 * messages' `n`; the expectations are stated here. The durable subscription scenario runs in four
 * phases against a `convoy start` process on one data dir, restarted with SIGTERM, then killed with
 * SIGKILL twice. A missing `java` or a failed Maven build FAILS this suite; it never skips.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { startBrokerProcess, type BrokerProcess } from '../support/broker-process';
import { BUILD_TIMEOUT_MS, buildJmsClient, runJmsScenario, runJmsScenarioOnFreshBroker as runScenario } from '../support/qpid-jms';

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

describe('Qpid JMS topics', () => {
  beforeAll(async () => {
    await buildJmsClient();
  }, BUILD_TIMEOUT_MS + 30_000);

  it('two subscribers each get every message, in order; a later subscriber gets none of the earlier ones', async () => {
    const r = await runScenario('topic-fanout', (broker) => {
      // Their connection closed: the private subscriptions went with their links.
      expect(broker.runtime.topicReports().find((t) => t.name === 'jms.topic.fanout')!.subscriptions).toEqual([]);
    });
    expect(r.a).toEqual(range(0, 20));
    expect(r.b).toEqual(range(0, 20));
    expect(r.late).toEqual([]);
    expect(r.lateDestination).toBe('topic://jms.topic.fanout');
  }, 90_000);

  it('durable subscriber: nothing from before it subscribed; survives its consumer closing; unsubscribe removes it, refused while consumed elsewhere', async () => {
    const r = await runScenario('topic-durable', (broker) => {
      expect(broker.runtime.topicReports().find((t) => t.name === 'jms.topic.durable')!.subscriptions).toEqual([]);
    });
    expect(r.first).toEqual([0, 1]);
    // 2..4 were sent to the first consumer and not acknowledged: back first, then what was published meanwhile.
    expect(r.resumed).toEqual(range(2, 8));
    expect(r.unsubscribeWhileActive).toMatch(/^JMSException: .*has 1 consumer.*amqp:resource-locked/);
    // 8 went with the removed subscription; 9 was published while there was none.
    expect(r.afterUnsubscribe).toEqual([10]);
    expect(r.unsubscribeMissing).toBe('InvalidDestinationException');
  }, 90_000);

  it('durable subscriptions (unshared and shared) survive a restart and two kill -9s with their messages; unsubscribe is durable too', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'convoy-jms-topics-'));
    let broker: BrokerProcess = await startBrokerProcess(['--data-dir', dataDir]);
    const phase = (n: number) => runJmsScenario(`topic-durable-restart-${n}`, `amqp://127.0.0.1:${broker.port}`);
    const restart = async (signal: 'SIGTERM' | 'SIGKILL') => {
      broker.child.kill(signal);
      await broker.exited;
      broker = await startBrokerProcess(['--data-dir', dataDir]);
    };
    try {
      // 0..11 published, 5 and 9 non-persistent; "keep" acknowledged 0..2.
      expect((await phase(1)).keep).toEqual([0, 1, 2]);
      await restart('SIGTERM');
      expect((await phase(2)).keep).toEqual([3, 4, 6, 7]);
      await restart('SIGKILL');
      const third = await phase(3);
      expect(third.keep).toEqual([8, 10, 11]);
      expect(third.pool).toEqual([0, 1, 2, 3, 4, 6, 7, 8, 10, 11]);
      await restart('SIGKILL');
      expect((await phase(4)).unsubscribeAgain).toEqual({ keep: 'InvalidDestinationException', pool: 'InvalidDestinationException' });
    } finally {
      broker.child.kill('SIGKILL');
      await broker.exited;
    }
  }, 180_000);

  it('shared subscriptions, durable (one client id) and non-durable (global, two connections), split the messages', async () => {
    const r = await runScenario('topic-shared');
    for (const [one, two] of [
      ['d1', 'd2'],
      ['v1', 'v2'],
    ] as const) {
      const a = r[one] as number[];
      const b = r[two] as number[];
      expect(a.length).toBeGreaterThan(0);
      expect(b.length).toBeGreaterThan(0);
      expect([...a, ...b].sort((x, y) => x - y)).toEqual(range(0, 40));
    }
  }, 90_000);

  it('groups in a shared subscription: every group wholly at one consumer, in order (Key_Shared)', async () => {
    const r = await runScenario('topic-shared-groups');
    const owners = r.owners as Record<string, string>;
    expect(Object.keys(owners).sort()).toEqual(['A', 'B', 'C', 'D']);
    expect(new Set(Object.values(owners)).size).toBe(2);
  }, 90_000);

  it('an exclusive consumer inside a shared subscription takes everything; on its failover the next one gets all, in order', async () => {
    const r = await runScenario('topic-exclusive');
    expect(r.consumer1).toEqual([0, 1, 2, 3]);
    const got = r.consumer2 as { n: number; redelivered: boolean }[];
    expect(got.map((m) => m.n)).toEqual(range(0, 10));
    expect(got.every((m) => m.redelivered)).toBe(true);
  }, 90_000);

  it('a temporary topic takes messages from any connection and is gone when deleted or with its connection', async () => {
    const r = await runScenario('topic-temporary', (broker) => {
      expect(broker.runtime.topicReports().filter((t) => t.temporary)).toEqual([]);
    });
    expect(r.name).toMatch(/^temp\./);
    expect(r.received).toEqual([0, 1, 2]);
    expect(r.afterDelete).toBe('InvalidDestinationException');
    expect(r.afterClose).toBe('InvalidDestinationException');
  }, 90_000);

  it('a transacted publish reaches every subscription at the commit (the ones it has then), none on rollback', async () => {
    const r = await runScenario('topic-transacted');
    expect(r.early).toEqual([0, 1, 2]);
    expect(r.late).toEqual([0, 1, 2]);
  }, 90_000);

  it('one name is a queue or a topic: the other kind is refused with InvalidDestinationException, the queue untouched', async () => {
    const r = await runScenario('topic-clash');
    const refusals = r.refusals as Record<string, string>;
    expect(refusals.topicConsumerOnQueue).toMatch(/^InvalidDestinationException: "jms.clash" is a queue, not a topic/);
    expect(refusals.topicProducerOnQueue).toMatch(/^InvalidDestinationException: "jms.clash" is a queue, not a topic/);
    expect(refusals.queueConsumerOnTopic).toMatch(/^InvalidDestinationException: "jms.clash.t" is a topic, not a queue/);
    expect(refusals.anonymousSendToQueueAsTopic).toMatch(/^InvalidDestinationException: "jms.clash" is a queue, not a topic/);
    expect(r.queueMessage).toBe('still here');
  }, 90_000);
});
