import net from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { RunningBroker } from '../../src/broker/server';
import { startTestBroker } from '../support/broker';
import { connect, receive, sendAll, sleep, waitFor } from '../support/client';

let broker: RunningBroker;
beforeAll(async () => {
  broker = await startTestBroker({ maxFrameBytes: 16384, channelMax: 7, idleTimeoutMs: 600 });
});
afterAll(async () => {
  await broker.stop();
});

/** Connects a raw socket, writes `bytes`, and collects what the broker answers until it closes. */
function rawExchange(port: number, bytes: Buffer, timeoutMs = 3000): Promise<{ reply: Buffer; closed: boolean }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = net.connect(port, '127.0.0.1', () => socket.write(bytes));
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ reply: Buffer.concat(chunks), closed: false });
    }, timeoutMs);
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ reply: Buffer.concat(chunks), closed: true });
    });
  });
}

describe('connections', () => {
  test('SASL ANONYMOUS (a client without credentials)', async () => {
    const client = await connect(broker.port);
    expect(client.connection.is_open()).toBe(true);
    await client.close();
  });

  test('without a users file, a loopback client\'s PLAIN credentials are not checked: it is let in as anonymous', async () => {
    const client = await connect(broker.port, { username: 'someone', password: 'anything' });
    expect(client.connection.is_open()).toBe(true);
    await client.close();
  });

  test('a client that skips SASL is accepted', async () => {
    const client = await connect(broker.port, { sasl: { enabled: false } } as never);
    expect(client.connection.is_open()).toBe(true);
    await client.close();
  });

  test('open advertises the broker max-frame-size, channel-max, idle-time-out and ANONYMOUS-RELAY', async () => {
    const client = await connect(broker.port);
    const remote = (client.connection as unknown as { remote: { open: Record<string, unknown> } }).remote.open;
    expect(remote.max_frame_size).toBe(16384);
    expect(remote.channel_max).toBe(7);
    expect(remote.idle_time_out).toBe(300);
    expect(remote.offered_capabilities).toContain('ANONYMOUS-RELAY');
    await client.close();
  });

  test('sessions begin and end; a consumer in an ended session returns its messages', async () => {
    const client = await connect(broker.port);
    const session = client.connection.create_session();
    session.begin();
    const sender = await client.openSender('conn.session');
    await sendAll(sender, [{ body: 'one' }]);
    const receiver = session.attach_receiver({ source: 'conn.session', autoaccept: false, credit_window: 0 } as never);
    await new Promise((resolve) => receiver.once('receiver_open', resolve));
    const got = await receive(receiver, 1);
    expect(got).toHaveLength(1);
    session.close();
    await sleep(100);
    const again = await client.openReceiver('conn.session');
    const redelivered = await receive(again, 1);
    expect(redelivered[0]!.message.body).toBe('one');
    expect(redelivered[0]!.message.delivery_count).toBe(1);
    await client.close();
  });

  test('a peer that goes silent is dropped after the idle time-out and its links are cleaned up like a detach', async () => {
    const producer = await connect(broker.port);
    const sender = await producer.openSender('conn.idle');
    await sendAll(sender, [{ body: 'held' }]);
    const silent = await connect(broker.port);
    const receiver = await silent.openReceiver('conn.idle');
    expect(await receive(receiver, 1)).toHaveLength(1);
    // From now on the client writes nothing, not even heartbeats.
    const socket = (silent.connection as unknown as { socket: net.Socket }).socket;
    socket.write = (() => true) as typeof socket.write;
    const startedMs = Date.now();
    const queue = broker.runtime.state.queues.get('conn.idle')!;
    await waitFor(() => queue.consumers.length === 0, 'the silent consumer to be dropped', 3000);
    // Advertised idle-time-out 300 ms; rhea drops a peer after twice that.
    expect(Date.now() - startedMs).toBeLessThan(2000);
    const other = await producer.openReceiver('conn.idle');
    const got = await receive(other, 1, 3000);
    expect(got.map((r) => r.message.body)).toEqual(['held']);
    expect(got[0]!.message.delivery_count).toBe(1);
    await producer.close();
  });

  test('a wrong protocol header is answered with the supported header, then the connection is closed', async () => {
    const { reply, closed } = await rawExchange(broker.port, Buffer.from('AMQP\x01\x01\x00\x00', 'latin1'));
    expect(reply.subarray(0, 8).toString('latin1')).toBe('AMQP\x03\x01\x00\x00');
    expect(closed).toBe(true);
  });

  test('HTTP on the AMQP port is answered with the AMQP header and closed', async () => {
    const { reply, closed } = await rawExchange(broker.port, Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    expect(reply.subarray(0, 4).toString('latin1')).toBe('AMQP');
    expect(closed).toBe(true);
  });

  test('a frame larger than max-frame-size closes that connection with a framing error', async () => {
    const client = await connect(broker.port);
    const socket = (client.connection as unknown as { socket: net.Socket }).socket;
    const closed = new Promise<{ condition?: string }>((resolve) => {
      client.connection.once('connection_error', (ctx) => resolve((ctx.connection.error ?? {}) as { condition?: string }));
      client.connection.once('disconnected', () => resolve({}));
    });
    const huge = Buffer.alloc(8);
    huge.writeUInt32BE(1 << 30, 0);
    huge[4] = 2;
    socket.write(huge);
    const error = await closed;
    expect(error.condition ?? 'amqp:connection:framing-error').toBe('amqp:connection:framing-error');
  });

  test('garbage after a good header closes only that connection; other clients go on', async () => {
    const client = await connect(broker.port);
    const sender = await client.openSender('conn.garbage');
    const garbage = Buffer.concat([Buffer.from('AMQP\x00\x01\x00\x00', 'latin1'), Buffer.from([0, 0, 0, 12, 2, 0, 0, 0, 0xff, 0xee, 0xdd, 0xcc])]);
    const { closed } = await rawExchange(broker.port, garbage);
    expect(closed).toBe(true);
    const random = Buffer.concat([Buffer.from('AMQP\x00\x01\x00\x00', 'latin1'), Buffer.from(Array.from({ length: 4000 }, (_, i) => (i * 7919) % 256))]);
    await rawExchange(broker.port, random, 1000);
    expect(await sendAll(sender, [{ body: 'still fine' }])).toEqual(['accepted']);
    const receiver = await client.openReceiver('conn.garbage');
    expect((await receive(receiver, 1)).map((r) => r.message.body)).toEqual(['still fine']);
    await client.close();
  });
});
