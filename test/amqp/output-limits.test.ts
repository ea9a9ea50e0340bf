import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { message as rheaMessage } from 'rhea';
import type { RunningBroker } from '../../src/broker/server';
import { startTestBroker } from '../support/broker';
import { connect, receive, sendAll, waitFor, type TestClient } from '../support/client';

/**
 * maxOutputBytesPerConnection (README "Limits"): a client that grants credit and stops reading its
 * socket must not make the broker move messages into that socket's buffer without end; pre-settled
 * deliveries are not counted as message memory once sent, so only this limit stops them.
 */
const MESSAGES = 6000;
const BODY_BYTES = 8 * 1024; // 48 MiB in all: far more than loopback's socket buffers take in
const MAX_OUTPUT_BYTES = 256 * 1024;

let broker: RunningBroker;
let producer: TestClient;
beforeAll(async () => {
  broker = await startTestBroker({ store: 'memory', maxOutputBytesPerConnection: MAX_OUTPUT_BYTES });
  producer = await connect(broker.port);
});
afterAll(async () => {
  await producer.close();
  await broker.stop();
});

describe('a consumer whose client does not read its socket', () => {
  test('gets no more messages than its socket buffers hold; the rest stay queued, and arrive in order once it reads', async () => {
    const body = rheaMessage.data_section(Buffer.alloc(BODY_BYTES, 7));
    await sendAll(await producer.openSender('output.stalled'), Array.from({ length: MESSAGES }, (_, i) => ({ body, message_id: i })));
    // The client's session window must not be the limit (rhea's default holds 2048 deliveries it has not settled).
    const stalled = await connect(broker.port, { session_buffer_size: 65536 } as never);
    const socket = (stalled.connection as unknown as { socket: { pause(): void; resume(): void } }).socket;
    // Pre-settled (snd-settle-mode settled, AMQP 1.0 2.8.2): nothing is held unsettled, so maxUnsettledPerLink does not apply.
    const receiver = await stalled.openReceiver('output.stalled', { snd_settle_mode: 1 });
    const ids: number[] = [];
    receiver.on('message', (ctx) => ids.push(ctx.message!.message_id as number));
    socket.pause();
    receiver.add_credit(MESSAGES);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const queue = broker.runtime.state.queues.get('output.stalled')!;
    // What left the queue fits in the kernel's socket buffers (a few MiB on loopback) plus the limit and
    // one turn's deliveries; without the limit all 48 MiB would be in the broker's socket buffer.
    expect(queue.queuedCount).toBeGreaterThan(MESSAGES / 2);

    // Another client of the same broker is served meanwhile.
    const other = await connect(broker.port);
    await sendAll(await other.openSender('output.other'), [{ body: 'meanwhile' }]);
    const [got] = await receive(await other.openReceiver('output.other'), 1, 2000);
    expect(got!.message.body).toBe('meanwhile');
    await other.close();

    socket.resume();
    await waitFor(() => ids.length === MESSAGES, 'every message once the client reads', 20_000);
    expect(ids).toEqual(Array.from({ length: MESSAGES }, (_, i) => i));
    expect(queue.queuedCount).toBe(0);
    await stalled.close();
  });
});
