/**
 * Qpid JMS interop for issue 11's core features (interop/jms JmsFeatureScenarios.java): selectors on
 * queues and topic subscriptions, selectors with message groups, QueueBrowser, priority, delayed
 * delivery, temporary queues, and durable delayed messages
 * across a broker restart and a kill -9 (a broker process on one data dir). One fresh broker per
 * scenario. A missing `java` or a failed Maven build FAILS this suite; it never skips.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { startBrokerProcess } from '../support/broker-process';
import { BUILD_TIMEOUT_MS, buildJmsClient, runJmsScenario, runJmsScenarioOnFreshBroker as runScenario, type ScenarioResult } from '../support/qpid-jms';

interface Arrival {
  body: string;
  afterMs: number;
  deliveryTimeAfterSendMs: number;
  redelivered?: boolean;
}

/**
 * Durable delayed messages sent to one broker process; the broker is stopped (SIGTERM) or killed
 * (SIGKILL) before they are due, started again on the same data dir, and a consumer then waits for them.
 */
async function delayedAcrossRestart(signal: 'SIGTERM' | 'SIGKILL', queue: string): Promise<{ sent: ScenarioResult; received: ScenarioResult }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'convoy-jms-delay-'));
  const first = await startBrokerProcess(['--data-dir', dataDir]);
  const env = { CONVOY_JMS_QUEUE: queue, CONVOY_JMS_DELAY_MS: '4000' };
  let sent: ScenarioResult;
  try {
    sent = await runJmsScenario('delay-send', `amqp://127.0.0.1:${first.port}`, env);
  } finally {
    first.child.kill(signal);
    await first.exited;
  }
  const second = await startBrokerProcess(['--data-dir', dataDir]);
  try {
    const received = await runJmsScenario('delay-receive', `amqp://127.0.0.1:${second.port}`, { ...env, CONVOY_JMS_SENT_AT_MS: String(sent.sentAtMs) });
    return { sent, received };
  } finally {
    second.child.kill('SIGTERM');
    await second.exited;
  }
}

describe('Qpid JMS interop: selectors, browsing, priority, delayed delivery', () => {
  beforeAll(async () => {
    await buildJmsClient();
  }, BUILD_TIMEOUT_MS + 30_000);

  it("selector: createConsumer(queue, \"color = 'red'\") receives the red messages only", async () => {
    const r = await runScenario('selector');
    expect(r.red).toEqual(['red0', 'red2', 'red4', 'red6', 'red8']);
    expect(r.redExtra).toBeNull();
    expect(r.rest).toEqual(['blue1', 'blue3', 'blue5', 'blue7', 'blue9']);
  }, 90_000);

  it('an invalid selector that reaches the broker is refused with amqp:invalid-field naming the error; the session goes on', async () => {
    const r = await runScenario('selector-invalid');
    expect(r.clientSide).toBe('InvalidSelectorException');
    expect(r.message).toMatch(/^invalid selector "color = 'red' AND": .* at column \d+/);
    expect(r.after).toEqual(['still working']);
  }, 90_000);

  it("selector and groups: G waits while its owner holds G1 and its selector refuses G2, then moves whole", async () => {
    const r = await runScenario('selector-groups');
    expect(r.beforeAck).toBeNull();
    expect(r.redBeforeAck).toBeNull();
    expect(r.other).toEqual(['G2', 'G3']);
    expect(r.redAfterAck).toBeNull();
  }, 90_000);

  it('selectors on topic subscriptions: a non-durable and a durable subscriber get what they select, one without gets everything', async () => {
    const r = await runScenario('topic-selector');
    expect(r.red).toEqual(['red0', 'red2', 'red4']);
    expect(r.all).toEqual(['red0', 'blue1', 'red2', 'blue3', 'red4', 'blue5']);
    expect(r.durable).toEqual(['red0', 'red2', 'red4']);
    expect(r.extra).toBeNull();
  }, 90_000);

  it('QueueBrowser shows the queue in order without consuming, with a selector too; a consumer then gets everything', async () => {
    const r = await runScenario('browser');
    expect(r.browsed).toEqual(['m3', 'm1', 'm2', 'm5', 'm4']);
    expect(r.browsedAgain).toEqual(r.browsed);
    expect(r.browsedRed).toEqual(['m3', 'm1', 'm5']);
    expect(r.consumed).toEqual(['m3', 'm1', 'm2', 'm5', 'm4']);
    expect(r.browsedAfter).toEqual([]);
  }, 90_000);

  it('priority 8 before priority 1 across the queue; a group keeps send order whatever its priorities', async () => {
    const r = await runScenario('priority');
    const received = r.received as string[];
    expect(received).toHaveLength(14);
    const ungrouped = received.filter((b) => b.startsWith('p'));
    expect(ungrouped).toEqual(['p8-1', 'p8-3', 'p8-5', 'p8-7', 'p8-9', 'p1-0', 'p1-2', 'p1-4', 'p1-6', 'p1-8']);
    expect(received.filter((b) => b.startsWith('A'))).toEqual(['A1', 'A2', 'A3', 'A4']);
    expect((r.priorities as Record<string, number>)['p8-1']).toBe(8);
  }, 90_000);

  it('setDeliveryDelay: the delayed message arrives after the plain one, not before its JMSDeliveryTime', async () => {
    const r = await runScenario('delay');
    const got = r.received as Arrival[];
    expect(got.map((m) => m.body)).toEqual(['plain', 'delayed']);
    expect(r.sentDeliveryTime).toBeGreaterThanOrEqual(1500);
    expect(got[1]!.deliveryTimeAfterSendMs).toBeGreaterThanOrEqual(1500);
    expect(got[1]!.afterMs).toBeGreaterThanOrEqual(got[1]!.deliveryTimeAfterSendMs - 50);
  }, 90_000);

  it('temporary queues: request-reply through one; it is deleted with its messages by delete() and when its connection closes', async () => {
    const r = await runScenario('temporary-queue', (broker) => {
      // Both temporary queues are gone with their messages; the requests queue stays.
      expect([...broker.runtime.state.queues.keys()].filter((name) => name.startsWith('temp.'))).toEqual([]);
      expect(broker.runtime.state.queues.get('jms.temporary.requests')!.queuedCount).toBe(0);
    });
    expect(r.name).toMatch(/^temp\./);
    expect(r.replies).toEqual(['reply to request0', 'reply to request1', 'reply to request2']);
    expect(r.afterDelete).toBe('InvalidDestinationException');
    expect(r.afterClose).toBe('InvalidDestinationException');
  }, 90_000);

  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    it(`durable delayed messages survive a broker ${signal === 'SIGTERM' ? 'restart' : 'kill -9'} and arrive at their time; a non-durable one does not survive`, async () => {
      const { received } = await delayedAcrossRestart(signal, `jms.delay.${signal.toLowerCase()}`);
      const got = received.received as Arrival[];
      expect(got.map((m) => m.body)).toEqual(['now', 'D1', 'D2']);
      for (const delayed of got.slice(1)) {
        expect(delayed.deliveryTimeAfterSendMs).toBeGreaterThanOrEqual(4000);
        // Not before its time (the two clocks are one machine's; 50 ms for rounding).
        expect(delayed.afterMs).toBeGreaterThanOrEqual(delayed.deliveryTimeAfterSendMs - 50);
        expect(delayed.redelivered).toBe(false);
      }
    }, 120_000);
  }
});
