import net from 'node:net';
import { describe, expect, test } from 'vitest';
import { AMQP_HEADER, attach, encode, frame, Performative, performative, RawConnection, terminus } from '../support/amqp-frames';
import { brokerPerTest } from '../support/broker-per-test';
import { sendAll, sleep, waitFor, type TestClient } from '../support/client';

/**
 * README "Limits", per connection: handshake time, connections in total and per address, sessions
 * (channel-max) and links. Each limit reached gives that client the standard condition, and every other
 * client carries on.
 */
const { start, client, track } = brokerPerTest();

/** A client whose open is answered by a close: the error it carries. */
async function refusedOpen(port: number): Promise<{ condition?: string; description?: string }> {
  const raw = await RawConnection.connect(port, AMQP_HEADER);
  track(raw);
  raw.send(performative(Performative.open, [encode.string('refused')]));
  await raw.expect(Performative.open);
  const close = await raw.expect(Performative.close);
  const error = close.fields[0] as { value: unknown[] } | undefined;
  return { condition: error?.value[0] as string, description: error?.value[1] as string };
}

/** A socket that never finishes its handshake; resolves when the broker closes it. */
function silentSocket(port: number, firstBytes: Buffer = Buffer.alloc(0)): { closed: Promise<number>; socket: net.Socket } {
  const socket = net.connect(port, '127.0.0.1');
  const started = Date.now();
  socket.on('error', () => undefined);
  socket.on('connect', () => socket.write(firstBytes));
  socket.resume(); // read what the broker answers, so that its close is seen
  track({ close: () => socket.destroy() });
  return { socket, closed: new Promise((resolve) => socket.once('close', () => resolve(Date.now() - started))) };
}

/** A round trip of one message on a fresh queue: the healthy client's check. */
async function roundTrip(healthy: TestClient, queue: string): Promise<void> {
  const sender = await healthy.openSender(queue);
  expect(await sendAll(sender, [{ body: 'ping' }])).toEqual(['accepted']);
  sender.close();
}

describe('handshakeTimeoutMs', () => {
  test('a client trickling its protocol header, or going silent after it or in SASL, is closed; a client that opened is not', async () => {
    const { port } = await start({ handshakeTimeoutMs: 400 });
    const healthy = await client(port!);
    const trickle = silentSocket(port!, AMQP_HEADER.subarray(0, 1));
    const trickling = setInterval(() => trickle.socket.write(AMQP_HEADER.subarray(1, 2)), 100);
    const afterHeader = silentSocket(port!, AMQP_HEADER);
    const inSasl = silentSocket(port!, Buffer.from([0x41, 0x4d, 0x51, 0x50, 3, 1, 0, 0]));
    try {
      for (const { closed } of [trickle, afterHeader, inSasl]) {
        const ms = await closed;
        expect(ms).toBeGreaterThanOrEqual(350);
        expect(ms).toBeLessThan(2000);
      }
    } finally {
      clearInterval(trickling);
    }
    await sleep(200);
    expect(healthy.connection.is_open()).toBe(true);
    await roundTrip(healthy, 'limits.handshake');
  });
});

describe('maxConnections and maxConnectionsPerAddress', () => {
  test('the connection beyond maxConnectionsPerAddress is answered with amqp:resource-limit-exceeded; one closing makes room', async () => {
    const { port } = await start({ maxConnectionsPerAddress: 2 });
    const first = await client(port!);
    await client(port!);
    expect(await refusedOpen(port!)).toEqual({
      condition: 'amqp:resource-limit-exceeded',
      description: '2 connections from 127.0.0.1 already (maxConnectionsPerAddress)',
    });
    await roundTrip(first, 'limits.per-address');
    await first.close();
    await sleep(200); // the broker counts the connection until its socket has closed
    await roundTrip(await client(port!), 'limits.per-address');
  });

  test('handshaking sockets count: silent ones fill maxConnections until the handshake timeout closes them', async () => {
    const { port } = await start({ maxConnections: 2, handshakeTimeoutMs: 500 });
    const silent = [silentSocket(port!), silentSocket(port!)];
    await sleep(100);
    expect((await refusedOpen(port!)).description).toBe('the broker has 2 connections (maxConnections)');
    await Promise.all(silent.map((s) => s.closed));
    await roundTrip(await client(port!), 'limits.total');
  });
});

describe('sessions: channel-max', () => {
  test('a begin on a channel above channel-max closes that connection with amqp:resource-limit-exceeded; others carry on', async () => {
    const { port } = await start({ channelMax: 3 });
    const healthy = await client(port!);
    const raw = await RawConnection.open(port!);
    track(raw);
    for (const channel of [1, 2, 3]) {
      raw.send(performative(Performative.begin, [undefined, encode.uint(0), encode.uint(2048), encode.uint(2048)]), channel);
      await raw.expect(Performative.begin);
    }
    raw.send(performative(Performative.begin, [undefined, encode.uint(0), encode.uint(2048), encode.uint(2048)]), 4);
    const close = await raw.expect(Performative.close);
    expect((close.fields[0] as { value: unknown[] }).value.slice(0, 2)).toEqual(['amqp:resource-limit-exceeded', 'begin on channel 4: channel-max is 3 (AMQP 1.0 2.7.1)']);
    await waitFor(() => raw.closed, 'the refused connection to be closed');
    await roundTrip(healthy, 'limits.channels');
  });

  test('10,000 begins on one connection: those within channel-max are answered, then the connection is closed', async () => {
    const { port } = await start({});
    const raw = await RawConnection.open(port!);
    track(raw);
    const begin = performative(Performative.begin, [undefined, encode.uint(0), encode.uint(2048), encode.uint(2048)]);
    for (let channel = 1; channel < 10_000; channel++) raw.send(begin, channel);
    let begins = 1;
    for (;;) {
      const frame = await raw.next(10_000);
      if (frame.descriptor === Performative.close) break;
      expect(frame.descriptor).toBe(Performative.begin);
      begins++;
    }
    expect(begins).toBe(1024);
  });

  test('a client that goes on writing and reads late still gets the close that says why', async () => {
    const { port } = await start({ channelMax: 3 });
    const raw = await RawConnection.open(port!);
    track(raw);
    const socket = (raw as unknown as { socket: net.Socket }).socket;
    socket.pause();
    const begin = performative(Performative.begin, [undefined, encode.uint(0), encode.uint(2048), encode.uint(2048)]);
    for (let channel = 1; channel <= 10; channel++) raw.send(begin, channel);
    // Busy writing (empty frames) for a while before it reads: a socket destroyed meanwhile would fail
    // its writes (EPIPE), and Node drops the socket with our close unread.
    for (let i = 0; i < 40; i++) {
      socket.write(frame(0, Buffer.alloc(0)));
      await sleep(15);
    }
    socket.resume();
    let close;
    do close = await raw.next(3000);
    while (close.descriptor !== Performative.close);
    expect((close.fields[0] as { value: unknown[] }).value[0]).toBe('amqp:resource-limit-exceeded');
  });
});

describe('links: maxLinksPerSession and maxLinksPerConnection', () => {
  /** Attaches a consumer on `channel`; the broker's reply: attached, or refused with its error. */
  async function attachOn(raw: RawConnection, channel: number, handle: number): Promise<string> {
    raw.send(attach({ name: `link-${channel}-${handle}`, handle, role: true, source: terminus('source', [encode.string('limits.links')]) }), channel);
    const reply = await raw.expect(Performative.attach);
    if (reply.fields[5] !== null) return 'attached';
    const detach = await raw.expect(Performative.detach);
    const error = (detach.fields[2] as { value: unknown[] }).value;
    return `${error[0]}: ${error[1]}`;
  }

  test('the link beyond a limit is refused with amqp:resource-limit-exceeded; a detach makes room; handle-max tells the client', async () => {
    const { port } = await start({ maxLinksPerSession: 2, maxLinksPerConnection: 3 });
    const raw = await RawConnection.connect(port!, AMQP_HEADER);
    track(raw);
    raw.send(performative(Performative.open, [encode.string('links')]));
    raw.send(performative(Performative.begin, [undefined, encode.uint(0), encode.uint(2048), encode.uint(2048)]));
    await raw.expect(Performative.open);
    const begin = await raw.expect(Performative.begin);
    expect(begin.fields[4], 'handle-max').toBe(1);
    expect(await attachOn(raw, 0, 0)).toBe('attached');
    expect(await attachOn(raw, 0, 1)).toBe('attached');
    expect(await attachOn(raw, 0, 2)).toBe('amqp:resource-limit-exceeded: the session has 2 links (maxLinksPerSession)');
    raw.send(performative(Performative.begin, [undefined, encode.uint(0), encode.uint(2048), encode.uint(2048)]), 1);
    await raw.expect(Performative.begin);
    expect(await attachOn(raw, 1, 0)).toBe('attached');
    expect(await attachOn(raw, 1, 1)).toBe('amqp:resource-limit-exceeded: the connection has 3 links (maxLinksPerConnection)');
    raw.send(performative(Performative.detach, [encode.uint(0), encode.boolean(true)]), 0);
    await raw.expect(Performative.detach);
    expect(await attachOn(raw, 1, 2)).toBe('attached');
  });
});
