import net from 'node:net';
import { create_container, types as rheaTypes, type Receiver } from 'rhea';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { giveFramesTheirOwnEmptyLists } from '../../src/amqp/rhea/own-empty-lists';
import type { RunningBroker } from '../../src/broker/server';
import { startTestBroker } from '../support/broker';
import { connect, receive, sendAll } from '../support/client';
import {
  Described,
  Performative,
  RawConnection,
  SASL_HEADER,
  attach,
  encode,
  performative,
  terminus,
  type Frame,
} from '../support/amqp-frames';

/**
 * rhea decodes every empty list (0x45) to one array shared by the whole process. If anything writes into
 * a decoded value, what every later frame on every connection decodes to changes with it: a go-amqp
 * sender's empty source, filled in by rhea's set_source, made every later empty target decode with 11
 * fields. These tests send every kind of frame with empty lists wherever they can go, on one connection,
 * and check that rhea's shared empty list is still empty and that the attaches of another connection
 * are answered exactly as before.
 */

let broker: RunningBroker;
beforeAll(async () => {
  broker = await startTestBroker();
});
afterAll(async () => {
  await broker.stop();
});
// A failure must not spill into the next test: empty rhea's shared list again, whatever happened to it.
afterEach(() => {
  rheaEmptyList().length = 0;
});

/** What rhea decodes an empty list to right now: its one shared array (types.js List0). */
function rheaEmptyList(): unknown[] {
  const Reader = (rheaTypes as unknown as { Reader: new (bytes: Buffer) => { read(): { value: unknown[] } } }).Reader;
  return new Reader(Buffer.from([0x45])).read().value;
}

const list0 = encode.list0;
const emptySource = (): Buffer => encode.described(0x28, list0());
const emptyTarget = (): Buffer => encode.described(0x29, list0());

async function attachReply(connection: RawConnection, name: string): Promise<Frame> {
  for (;;) {
    const frame = await connection.next();
    if (frame.descriptor === Performative.attach && frame.fields[0] === name) return frame;
  }
}

/** The exact field lists of a described terminus in a reply. */
function terminusFields(value: unknown): unknown[] {
  expect(value).toBeInstanceOf(Described);
  return (value as Described).value as unknown[];
}

/**
 * The attaches go-amqp makes, on a connection of their own: a receiver with an empty target and an
 * anonymous sender (empty source, empty target). Their replies must echo the empty termini as empty.
 */
async function expectEmptyTerminiAnsweredExactly(queue: string): Promise<void> {
  const connection = await RawConnection.open(broker.port);
  try {
    connection.send(attach({ name: 'receiver', handle: 0, role: true, source: terminus('source', [encode.string(queue)]), target: emptyTarget() }));
    const receiver = await attachReply(connection, 'receiver');
    expect(terminusFields(receiver.fields[6]), "the client's empty target, echoed").toEqual([]);
    connection.send(attach({ name: 'anonymous', handle: 1, role: false, source: emptySource(), target: emptyTarget() }));
    const sender = await attachReply(connection, 'anonymous');
    expect(terminusFields(sender.fields[5]), "the client's empty source, echoed").toEqual([]);
    expect(terminusFields(sender.fields[6]), 'the relay target: no address, durable none, link-detach, no timeout').toEqual([null, 0, 'link-detach', 0]);
  } finally {
    connection.close();
  }
}

/** Frames that put empty lists everywhere rhea or the broker might keep or write into a decoded value. */
const HOSTILE: readonly { readonly name: string; send(connection: RawConnection): void }[] = [
  {
    name: 'a go-amqp sender: empty source',
    send: (c) => c.send(attach({ name: 'go-sender', handle: 0, role: false, sndSettleMode: 0, source: emptySource(), target: terminus('target', [encode.string('decoded.q')]) })),
  },
  {
    name: 'a dynamic source whose other fields are empty lists',
    send: (c) =>
      c.send(attach({ name: 'dyn', handle: 0, role: true, source: terminus('source', [undefined, undefined, undefined, undefined, encode.boolean(true), encode.map([[encode.symbol('k'), list0()]])]), target: emptyTarget() })),
  },
  {
    name: 'an attach whose properties, filter values and default-outcome are empty lists',
    send: (c) =>
      c.send(
        attach({
          name: 'everything-empty',
          handle: 0,
          role: true,
          source: terminus('source', [
            encode.string('decoded.q'),
            undefined,
            undefined,
            undefined,
            undefined,
            encode.map([[encode.symbol('lifetime-policy'), encode.described(0x2b, list0())]]),
            undefined,
            encode.map([]),
            encode.described(0x26, list0()),
          ]),
          target: emptyTarget(),
          properties: encode.map([[encode.symbol('x-empty'), list0()]]),
        }),
      ),
  },
  { name: 'an attach that is an empty list', send: (c) => c.send(encode.described(Performative.attach, list0())) },
  { name: 'a flow that is an empty list', send: (c) => c.send(encode.described(Performative.flow, list0())) },
  { name: 'a disposition that is an empty list', send: (c) => c.send(encode.described(Performative.disposition, list0())) },
  {
    name: 'a disposition whose state is an empty-list outcome',
    send: (c) => c.send(performative(Performative.disposition, [encode.boolean(true), encode.uint(0), undefined, encode.boolean(true), encode.described(0x24, list0())])),
  },
  { name: 'a detach that is an empty list', send: (c) => c.send(encode.described(Performative.detach, list0())) },
  { name: 'an end that is an empty list', send: (c) => c.send(encode.described(Performative.end, list0())) },
  { name: 'a close that is an empty list', send: (c) => c.send(encode.described(Performative.close, list0())) },
  { name: 'a begin that is an empty list', send: (c) => c.send(encode.described(Performative.begin, list0()), 1) },
];

describe("one client's frames cannot change what another client's frames decode to", () => {
  test('go-amqp: a sender with an empty source, then a receiver with an empty target and an anonymous sender elsewhere', async () => {
    const goSender = await RawConnection.open(broker.port);
    goSender.send(attach({ name: 'go-sender', handle: 0, role: false, sndSettleMode: 0, source: emptySource(), target: terminus('target', [encode.string('decoded.go')]) }));
    const reply = await attachReply(goSender, 'go-sender');
    expect(reply.fields[3], 'snd-settle-mode unsettled, echoed').toBe(0);
    expect(terminusFields(reply.fields[5])).toEqual([]);
    expect(rheaEmptyList()).toEqual([]);
    await expectEmptyTerminiAnsweredExactly('decoded.go');
    goSender.close();
  });

  for (const hostile of HOSTILE) {
    test(`${hostile.name}: rhea's empty list stays empty; other connections are answered as before`, async () => {
      const connection = await RawConnection.open(broker.port);
      hostile.send(connection);
      // Whatever the broker answers (a reply, a refusal, a close), wait until it has read the frame.
      await connection.next(500).catch(() => undefined);
      expect(rheaEmptyList()).toEqual([]);
      await expectEmptyTerminiAnsweredExactly('decoded.q');
      connection.close();
    });
  }

  test('an open whose properties and capabilities hold empty lists', async () => {
    const open = performative(Performative.open, [
      encode.string('hostile-open'),
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      encode.map([[encode.symbol('x-empty'), list0()]]),
    ]);
    const connection = await RawConnection.open(broker.port, open);
    expect(rheaEmptyList()).toEqual([]);
    await expectEmptyTerminiAnsweredExactly('decoded.q');
    connection.close();
  });

  test('a SASL init that is an empty list', async () => {
    const connection = await RawConnection.connect(broker.port, SASL_HEADER);
    const mechanisms = await connection.next();
    expect(mechanisms.descriptor).toBe(0x40);
    connection.sendSasl(encode.described(0x41, list0()));
    const outcome = await connection.next();
    expect(outcome.descriptor, 'sasl-outcome').toBe(0x44);
    expect(outcome.fields[0], 'auth failed: no mechanism named').toBe(1);
    expect(rheaEmptyList()).toEqual([]);
    await expectEmptyTerminiAnsweredExactly('decoded.q');
    connection.close();
  });

  test('an attach that is an empty list closes only its own connection, with amqp:decode-error', async () => {
    const connection = await RawConnection.open(broker.port);
    connection.send(encode.described(Performative.attach, list0()));
    const close = await connection.expect(Performative.close);
    expect(((close.fields[0] as Described).value as unknown[])[0]).toBe('amqp:decode-error');
    const client = await connect(broker.port);
    const sender = await client.openSender('decoded.after-close');
    expect(await sendAll(sender, [{ body: 'still here' }])).toEqual(['accepted']);
    expect((await receive(await client.openReceiver('decoded.after-close'), 1)).map((r) => r.message.body)).toEqual(['still here']);
    await client.close();
  });

  test('a delivery state that is an empty-list outcome settles as that outcome, and nothing else changes', async () => {
    const client = await connect(broker.port);
    const sender = await client.openSender('decoded.settle');
    await sendAll(sender, [{ body: 'once' }]);
    const receiver = await client.openReceiver('decoded.settle');
    const [got] = await receive(receiver, 1);
    // rhea's own client encodes released as `00 53 26 45`: the broker decodes it into its own list.
    got!.delivery.release();
    const [again] = await receive(receiver, 1);
    expect(again!.message.body).toBe('once');
    expect(again!.message.delivery_count ?? 0).toBe(0);
    again!.delivery.accept();
    expect(rheaEmptyList()).toEqual([]);
    await client.close();
  });
});

/**
 * rhea keeps decoded frames in its state for as long as the link, session or connection lives
 * (remote.attach, remote.end, ...). On a connection patched like the broker's, those values have their
 * own lists: writing into them later (as rhea's own set_source did) cannot reach any other frame.
 */
describe('decoded values rhea keeps in link and session state are their own', () => {
  test('a go-amqp empty source kept as remote.attach.source, and an end that is an empty list kept as remote.end', async () => {
    const container = create_container({ id: 'own-lists' });
    const attached = new Promise<Receiver>((resolve) => container.on('receiver_open', (ctx) => resolve(ctx.receiver!)));
    const ended = new Promise<{ remote: { end: { value: unknown[] } } }>((resolve) => container.on('session_close', (ctx) => resolve(ctx.session as never)));
    const server = net.createServer((socket) => {
      const connection = container.create_connection({ id: 'own-lists' } as never);
      connection.on('disconnected', () => undefined);
      giveFramesTheirOwnEmptyLists(connection);
      connection.accept(socket);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const connection = await RawConnection.open((server.address() as net.AddressInfo).port);
    try {
      connection.send(attach({ name: 'go-sender', handle: 0, role: false, source: emptySource(), target: terminus('target', [encode.string('q')]) }));
      const kept = (await attached) as unknown as { remote: { attach: { source: { value: unknown[]; address?: string } } } };
      expect(kept.remote.attach.source.value).not.toBe(rheaEmptyList());
      kept.remote.attach.source.address = 'written later';
      expect(rheaEmptyList()).toEqual([]);

      connection.send(encode.described(Performative.end, list0()));
      const session = await ended;
      expect(session.remote.end.value).not.toBe(rheaEmptyList());
      session.remote.end.value.push('written later');
      expect(rheaEmptyList()).toEqual([]);
    } finally {
      connection.close();
      server.close();
    }
  });
});
