import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { message as rheaMessage, types, type Connection, type Receiver } from 'rhea';
import type { RunningBroker } from '../../src/broker/server';
import { startTestBroker } from '../support/broker';
import { connect, receive, sendAll, sleep, waitFor, type TestClient } from '../support/client';
import { attach, encode, Performative, RawConnection, terminus, transfer, type Described } from '../support/amqp-frames';
import { encodedMessage } from '../support/raw-amqp';

let broker: RunningBroker;
let client: TestClient;
beforeAll(async () => {
  broker = await startTestBroker({ maxMessageBytes: 12 * 1024 * 1024 });
  client = await connect(broker.port);
});
afterAll(async () => {
  await client.close();
  await broker.stop();
});

/** Makes a client connection hand over raw message bytes, the way the broker receives them. */
function receiveRawBytes(connection: Connection): void {
  const internals = connection as unknown as { on_transfer(frame: { performative: { message_format?: number | null } }): void };
  const original = internals.on_transfer.bind(connection);
  internals.on_transfer = (frame) => {
    if (frame.performative.message_format === 0) frame.performative.message_format = null;
    original(frame);
  };
}

async function rawClient(): Promise<TestClient> {
  const raw = await connect(broker.port);
  receiveRawBytes(raw.connection);
  return raw;
}

function receiveRaw(receiver: Receiver, count: number): Promise<Buffer[]> {
  return receive(receiver, count).then((got) => got.map((r) => r.message as unknown as Buffer));
}

describe('messages', () => {
  test('every AMQP type in every section arrives exactly as sent: the bytes are forwarded unchanged', async () => {
    const encoded = rheaMessage.encode({
      durable: false,
      message_annotations: {
        'x-opt-jms-msg-type': types.wrap_byte(5),
        'x-opt-long': types.wrap_long(-5),
        'x-opt-ulong': types.wrap_ulong(5),
      },
      message_id: types.wrap_ulong(42),
      subject: 'typed',
      application_properties: {
        byte: types.wrap_byte(-1),
        short: types.wrap_short(-2),
        int: types.wrap_int(-3),
        long: types.wrap_long(-4),
        ubyte: types.wrap_ubyte(1),
        ushort: types.wrap_ushort(2),
        uint: types.wrap_uint(3),
        ulong: types.wrap_ulong(4),
        float: types.wrap_float(1.5),
        double: types.wrap_double(2.5),
        bool: true,
        symbol: types.wrap_symbol('sym'),
        timestamp: types.wrap_timestamp(1_700_000_000_000),
        binary: Buffer.from([1, 2, 3]),
        string: 'text',
        nothing: null,
      },
      body: types.wrap_list([types.wrap_byte(1), types.wrap_long(2)]),
    } as never);
    const sender = await client.openSender('messages.types');
    const sent = new Promise<void>((resolve) => sender.once('accepted', () => resolve()));
    sender.send(encoded as never, undefined, 0);
    await sent;
    const raw = await rawClient();
    const got = await receiveRaw(await raw.openReceiver('messages.types'), 1);
    expect(Buffer.compare(got[0]!, encoded)).toBe(0);
    await raw.close();
  });

  test('a redelivered message differs only in its header: delivery-count rewritten, every other byte kept', async () => {
    const encoded = rheaMessage.encode({ ttl: 60_000, priority: 7, application_properties: { b: types.wrap_byte(3) }, body: 'x' } as never);
    const sender = await client.openSender('messages.header');
    sender.send(encoded as never, undefined, 0);
    const raw = await rawClient();
    const receiver = await raw.openReceiver('messages.header');
    const first = await receive(receiver, 1);
    first[0]!.delivery.modified({ delivery_failed: true });
    const again = await receiveRaw(receiver, 1);
    const decoded = rheaMessage.decode(again[0]!) as unknown as Record<string, unknown>;
    expect(decoded.delivery_count).toBe(1);
    expect(decoded.ttl).toBe(60_000);
    expect(decoded.priority).toBe(7);
    // Header section: descriptor 00 53 70, then a list8 (C0 size) or list32 (D0 size32).
    const headerEnd = (bytes: Buffer): number => (bytes[3] === 0xd0 ? 8 + bytes.readUInt32BE(4) : 5 + bytes[4]!);
    expect(Buffer.compare(again[0]!.subarray(headerEnd(again[0]!)), encoded.subarray(headerEnd(encoded)))).toBe(0);
    await raw.close();
  });

  test('a 10 MiB body crosses in many frames and arrives intact', async () => {
    const body = Buffer.alloc(10 * 1024 * 1024);
    for (let i = 0; i < body.length; i += 4096) body[i] = i % 251;
    const sender = await client.openSender('messages.large');
    expect(await sendAll(sender, [{ body: types.wrap_binary(body) } as never])).toEqual(['accepted']);
    const got = await receive(await client.openReceiver('messages.large'), 1, 10_000);
    const received = got[0]!.message.body as { content?: Buffer } | Buffer;
    const bytes = Buffer.isBuffer(received) ? received : (received.content as Buffer);
    expect(Buffer.compare(bytes, body)).toBe(0);
  });

  test('a message above maxMessageBytes is refused with amqp:link:message-size-exceeded; nothing is kept', async () => {
    const sender = await client.openSender('messages.too-big');
    const closed = new Promise<{ condition?: string }>((resolve) =>
      sender.once('sender_error', () => resolve((sender.error ?? {}) as { condition?: string })),
    );
    sender.send({ body: types.wrap_binary(Buffer.alloc(13 * 1024 * 1024)) } as never);
    expect((await closed).condition).toBe('amqp:link:message-size-exceeded');
    expect(broker.runtime.state.queues.get('messages.too-big')?.queuedCount ?? 0).toBe(0);
    const fine = await client.openSender('messages.too-big');
    expect(await sendAll(fine, [{ body: 'small' }])).toEqual(['accepted']);
  });

  test('the attach reply announces max-message-size', async () => {
    const sender = await client.openSender('messages.limit');
    expect((sender as unknown as { remote: { attach: { max_message_size: number } } }).remote.attach.max_message_size).toBe(12 * 1024 * 1024);
  });

  test('an aborted multi-frame transfer is discarded', async () => {
    // The frames are written by hand, which leaves this client's session state behind: own connection.
    const own = await connect(broker.port);
    const sender = await own.openSender('messages.aborted');
    // A whole valid message in a first frame marked more, then an aborted final frame (AMQP 1.0 2.7.5):
    // only the abort tells the broker to drop it.
    const session = (sender as unknown as { session: { output(frame: unknown, payload?: Buffer): void } }).session;
    const frames = (await import('rhea/lib/frames.js' as string)) as { transfer(fields: Record<string, unknown>): unknown };
    const handle = (sender as unknown as { local: { handle: number } }).local.handle;
    const outgoing = (sender as unknown as { session: { outgoing: { next_delivery_id: number; next_transfer_id: number } } }).session.outgoing;
    const deliveryId = outgoing.next_delivery_id++;
    const payload = rheaMessage.encode({ body: 'partial' } as never);
    outgoing.next_transfer_id++;
    session.output(frames.transfer({ handle, delivery_id: deliveryId, delivery_tag: Buffer.from('a'), message_format: 0, more: true }), payload);
    outgoing.next_transfer_id++;
    session.output(frames.transfer({ handle, more: false, aborted: true }), Buffer.alloc(0));
    await sleep(100);
    expect(broker.runtime.state.queues.get('messages.aborted')?.queuedCount ?? 0).toBe(0);
    own.connection.close();
  });

  test('a transfer without a payload is refused with amqp:decode-error; the connection goes on', async () => {
    const raw = await RawConnection.open(broker.port);
    try {
      raw.send(attach({ name: 'empty', handle: 0, role: false, source: terminus('source'), target: terminus('target', [encode.string('messages.empty')]) }));
      await raw.expect(Performative.attach);
      await raw.expect(Performative.flow);
      raw.send(transfer({ handle: 0, deliveryId: 0, payload: Buffer.alloc(0) }));
      const refused = await raw.expect(Performative.disposition);
      const rejected = refused.fields[4] as Described;
      expect(rejected.descriptor).toBe(0x25);
      expect(((rejected.value as unknown[])[0] as Described).value).toEqual(['amqp:decode-error', expect.stringMatching(/carries no message/)]);
      raw.send(transfer({ handle: 0, deliveryId: 1, payload: encodedMessage('after') }));
      expect(((await raw.expect(Performative.disposition)).fields[4] as Described).descriptor).toBe(0x24);
      expect(broker.runtime.state.queues.get('messages.empty')?.queuedCount).toBe(1);
    } finally {
      raw.close();
    }
  });

  test('TTL: a message whose ttl passed while queued is never delivered', async () => {
    const sender = await client.openSender('messages.ttl');
    await sendAll(sender, [{ body: 'short', ttl: 100 }, { body: 'long', ttl: 60_000 }, { body: 'forever' }]);
    await sleep(250);
    const got = await receive(await client.openReceiver('messages.ttl'), 3, 500);
    expect(got.map((r) => r.message.body)).toEqual(['long', 'forever']);
  });

  test('absolute-expiry-time in the past: never delivered', async () => {
    const sender = await client.openSender('messages.expiry');
    await sendAll(sender, [{ body: 'gone', absolute_expiry_time: new Date(Date.now() - 1000) }, { body: 'kept' }]);
    const got = await receive(await client.openReceiver('messages.expiry'), 2, 500);
    expect(got.map((r) => r.message.body)).toEqual(['kept']);
  });

  test('competing consumers share a queue round-robin among consumers with credit', async () => {
    const receivers = [await client.openReceiver('messages.rr'), await client.openReceiver('messages.rr'), await client.openReceiver('messages.rr')];
    const pending = receivers.map((r) => receive(r, 3, 1000, 10));
    await waitFor(() => broker.runtime.state.queues.get('messages.rr')!.consumersWithCredit === 3, 'credit on all three');
    const sender = await client.openSender('messages.rr');
    await sendAll(sender, Array.from({ length: 9 }, (_, i) => ({ body: i })));
    const got = await Promise.all(pending);
    expect(got.map((g) => g.map((r) => r.message.body))).toEqual([[0, 3, 6], [1, 4, 7], [2, 5, 8]]);
  });
});

describe('limits on names', () => {
  test('a group id longer than 65535 bytes is rejected with amqp:invalid-field; the link goes on', async () => {
    const sender = await client.openSender('messages.long-group');
    const outcomes = await sendAll(sender, [{ body: 'x', group_id: 'g'.repeat(70_000), durable: true }, { body: 'ok', group_id: 'fine' }]);
    expect(outcomes).toEqual(['rejected', 'accepted']);
    expect(broker.runtime.state.queues.get('messages.long-group')!.queuedCount).toBe(1);
  });
});
