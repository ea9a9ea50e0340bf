import type { Receiver, Sender } from 'rhea';
import { describe, expect, test } from 'vitest';
import { MESSAGE_BOOKKEEPING_BYTES } from '../../src/broker/memory-budget';
import { attach, encode, Performative, performative, RawConnection, terminus } from '../support/amqp-frames';
import { brokerPerTest } from '../support/broker-per-test';
import { receive, sendAll, sleep, waitFor } from '../support/client';

/**
 * README "Limits", message memory: every message counts its bookkeeping besides its body; at
 * maxMemoryBytes (or a queue's own maxMemoryBytes) producers are held back by credit (memoryFullPolicy
 * `block`) or their messages refused (`fail`), and they go on once consumers make room. Also
 * maxUnsettledPerLink.
 */
const brokers = brokerPerTest();
const { start, client, track } = brokers;

/**
 * Sends 100-byte non-durable messages as fast as credit allows until stopped; counts what was accepted
 * and refused. rhea's sendable() does not count deliveries it has queued but not sent yet, so the pump
 * keeps within the link's credit itself (else it fills the session with unsent messages).
 */
function flood(sender: Sender): { stop(): void; accepted: () => number; rejected: () => string[]; sent: () => number } {
  let sent = 0;
  let accepted = 0;
  const rejected: string[] = [];
  let running = true;
  const link = sender as unknown as { credit: number; delivery_count: number };
  const pump = (): void => {
    while (running && sender.sendable() && link.credit - (sent - link.delivery_count) > 0) {
      sender.send({ body: Buffer.alloc(100, sent % 256) } as never);
      sent++;
    }
  };
  sender.on('sendable', pump);
  sender.on('accepted', () => accepted++);
  sender.on('rejected', (ctx) => rejected.push(`${(ctx.delivery!.remote_state as { error?: { condition?: string; description?: string } }).error?.condition}: ${(ctx.delivery!.remote_state as { error?: { description?: string } }).error?.description}`));
  pump();
  return { stop: () => (running = false), accepted: () => accepted, rejected: () => rejected, sent: () => sent };
}

const PER_MESSAGE = MESSAGE_BOOKKEEPING_BYTES + 100;

describe('maxMemoryBytes counts every message with its bookkeeping', () => {
  test('a flood of non-durable messages into a queue with no consumer stops at maxMemoryBytes; consumers drain it, and nothing is lost', async () => {
    const maxMemoryBytes = 2 * 1024 * 1024;
    const { port } = await start({ maxMemoryBytes, producerCreditWindow: 100 });
    const producer = await client(port!);
    const sender = await producer.openSender('memory.flood');
    const run = flood(sender);
    await waitFor(() => brokers.broker.runtime.memoryBytesInUse() >= maxMemoryBytes, 'message memory to fill', 20_000);
    await sleep(300);
    const queued = brokers.broker.runtime.state.queues.get('memory.flood')!.queuedCount;
    // Held back: at most what had already been sent on its credit when memory became full.
    expect(brokers.broker.runtime.memoryBytesInUse()).toBeLessThanOrEqual(maxMemoryBytes + 100 * PER_MESSAGE);
    expect(queued).toBeLessThanOrEqual(Math.ceil(maxMemoryBytes / PER_MESSAGE) + 100);
    expect(queued).toBeGreaterThan(maxMemoryBytes / PER_MESSAGE / 2);
    expect(run.rejected()).toEqual([]);
    await sleep(500);
    expect(brokers.broker.runtime.state.queues.get('memory.flood')!.queuedCount, 'still held back').toBe(queued);
    // A consumer makes room; the producer goes on.
    const consumer = await client(port!);
    const receiver = await consumer.openReceiver('memory.flood', { credit_window: 500, autoaccept: true });
    let received = 0;
    receiver.on('message', () => received++);
    await waitFor(() => run.accepted() > queued + 5000, 'the producer to go on once there is room', 20_000);
    run.stop();
    await waitFor(() => received === run.sent(), 'every message sent to arrive', 20_000);
    expect(run.accepted()).toBe(run.sent());
  });

  test('memoryFullPolicy fail: messages beyond maxMemoryBytes are rejected with amqp:resource-limit-exceeded; others go on', async () => {
    const { port } = await start({ maxMemoryBytes: 256 * 1024, memoryFullPolicy: 'fail' });
    const producer = await client(port!);
    const outcomes = await sendAll(await producer.openSender('memory.fail'), Array.from({ length: 600 }, () => ({ body: Buffer.alloc(100) })));
    const accepted = outcomes.filter((o) => o === 'accepted').length;
    expect(accepted).toBeGreaterThan(200);
    expect(accepted).toBeLessThanOrEqual(Math.ceil((256 * 1024) / PER_MESSAGE));
    expect(outcomes.slice(accepted).every((o) => o === 'rejected')).toBe(true);
    const consumer = await client(port!);
    const got = await receive(await consumer.openReceiver('memory.fail'), accepted, 5000);
    for (const r of got) r.delivery.accept();
    await sleep(100);
    expect(await sendAll(await producer.openSender('memory.fail'), [{ body: 'room again' }])).toEqual(['accepted']);
  });
});

describe("a queue's own maxMemoryBytes", () => {
  test('its producers are held back while other queues take messages; through the anonymous relay, messages to it are refused', async () => {
    const { port } = await start({ queues: { 'small.*': { maxMemoryBytes: 64 * 1024 } }, producerCreditWindow: 20 });
    const producer = await client(port!);
    const small = flood(await producer.openSender('small.q'));
    const other = flood(await producer.openSender('big.q'));
    await sleep(1000);
    small.stop();
    other.stop();
    expect(brokers.broker.runtime.memoryBytesInUse('small.q')).toBeLessThanOrEqual(64 * 1024 + 20 * PER_MESSAGE);
    expect(other.accepted()).toBeGreaterThan(small.accepted() * 2);
    const relay = await producer.openSender(null);
    const refused = await new Promise<string>((resolve) => {
      relay.once('rejected', (ctx) => {
        const error = (ctx.delivery!.remote_state as { error: { condition: string; description: string } }).error;
        resolve(`${error.condition}: ${error.description}`);
      });
      relay.send({ to: 'small.q', body: 'x' });
    });
    expect(refused).toBe('amqp:resource-limit-exceeded: queue "small.q" is full (its maxMemoryBytes 65536)');
    expect(await sendAll(relay, [{ to: 'big.q', body: 'y' }])).toEqual(['accepted']);
  });
});

describe('messages arriving in several transfer frames', () => {
  /** A producer link over raw frames; `frame` sends one transfer frame of delivery 0. */
  async function rawProducer(port: number): Promise<{ raw: RawConnection; frame(bytes: number, fields: { more: boolean; aborted?: boolean; first?: boolean }): void }> {
    const raw = await RawConnection.open(port);
    track(raw);
    raw.send(attach({ name: 'frames', handle: 0, role: false, source: terminus('source', []), target: terminus('target', [encode.string('memory.frames')]) }));
    await raw.expect(Performative.attach);
    await raw.expect(Performative.flow);
    return {
      raw,
      frame(bytes, { more, aborted = false, first = false }) {
        const fields = first
          ? [encode.uint(0), encode.uint(0), encode.binary(Buffer.from('t0')), encode.uint(0), encode.boolean(false), encode.boolean(more)]
          : [encode.uint(0), undefined, undefined, undefined, undefined, encode.boolean(more), undefined, undefined, undefined, encode.boolean(aborted)];
        const payload = first ? Buffer.concat([Buffer.from([0x00, 0x53, 0x75, 0xb0]), Buffer.alloc(4), Buffer.alloc(bytes - 8)]) : Buffer.alloc(bytes);
        raw.send(Buffer.concat([performative(Performative.transfer, fields), payload]));
      },
    };
  }

  test('count from their first frame, and stop counting when they are aborted', async () => {
    const { port } = await start({});
    const producer = await rawProducer(port!);
    const before = brokers.broker.runtime.memoryBytesInUse();
    producer.frame(30_000, { more: true, first: true });
    producer.frame(30_000, { more: true });
    await waitFor(() => brokers.broker.runtime.memoryBytesInUse() - before >= 60_000, 'the frames to count');
    producer.frame(10, { more: false, aborted: true });
    await waitFor(() => brokers.broker.runtime.memoryBytesInUse() === before, 'the aborted message to count no more');
  });
});

describe('maxUnsettledPerLink', () => {
  test('a consumer granting much credit gets that many deliveries unsettled, and more as it settles', async () => {
    const { port } = await start({ maxUnsettledPerLink: 10 });
    const producer = await client(port!);
    await sendAll(await producer.openSender('unsettled.q'), Array.from({ length: 30 }, (_, i) => ({ body: i })));
    const consumer = await client(port!);
    const receiver: Receiver = await consumer.openReceiver('unsettled.q');
    const got = await receive(receiver, 30, 500, 1000);
    expect(got).toHaveLength(10);
    for (const r of got.slice(0, 4)) r.delivery.accept();
    const more = await receive(receiver, 30, 500, 0);
    expect(more.map((r) => r.message.body)).toEqual([10, 11, 12, 13]);
  });
});
