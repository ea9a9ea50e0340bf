import { afterAll, afterEach, beforeAll, describe, expect, test, vi, type MockInstance } from 'vitest';
import type { RunningBroker } from '../../src/broker/server';
import { startTestBroker } from '../support/broker';
import { Described, Performative, attach, encode, message, outcome, performative, terminus, transfer } from '../support/amqp-frames';
import { connect, receive, sendAll, sleep } from '../support/client';
import { TransactionClient, errorOf, transactionalState, type StateView } from '../support/transaction-client';

/**
 * Local transactions at frame level (AMQP 1.0 4): the coordinator link (4.2), declare (4.3), discharge
 * (4.4), transactional sends (4.4.1) and acknowledgements (4.4.2), as raw frames the test writes itself.
 */

let broker: RunningBroker;
let consoleWarnings: MockInstance;
let consoleErrors: MockInstance;
const clients: TransactionClient[] = [];

beforeAll(async () => {
  broker = await startTestBroker();
  consoleWarnings = vi.spyOn(console, 'warn');
  consoleErrors = vi.spyOn(console, 'error');
});
afterEach(() => {
  for (const client of clients.splice(0)) client.close();
});
afterAll(async () => {
  consoleWarnings.mockRestore();
  consoleErrors.mockRestore();
  await broker.stop();
});

async function client(port = broker.port!): Promise<TransactionClient> {
  const opened = await TransactionClient.open(port);
  clients.push(opened);
  return opened;
}

const accepted = (state: StateView | null): boolean => state?.descriptor === 0x24;

/** The bodies a plain rhea consumer gets from `queue` within `quietMs`, accepting each. */
async function drain(queue: string, count: number): Promise<{ body: string; deliveryCount: number }[]> {
  const consumer = await connect(broker.port!);
  try {
    const got = await receive(await consumer.openReceiver(queue), count);
    for (const r of got) r.delivery.accept();
    await sleep(50);
    return got.map((r) => ({ body: Buffer.from(r.message.body.content ?? r.message.body).toString(), deliveryCount: r.message.delivery_count ?? 0 }));
  } finally {
    await consumer.close();
  }
}

describe('the coordinator link (AMQP 1.0 4.2, 4.5.1)', () => {
  test('is attached with a coordinator target stating what it can do, and credit', async () => {
    const c = await client();
    const { target } = await c.attachCoordinator();
    expect(target).toEqual(new Described(0x30, [['amqp:local-transactions', 'amqp:multi-txns-per-ssn', 'amqp:multi-ssns-per-txn']]));
  });

  test('declare is answered settled with declared{txn-id}; each transaction gets its own id (4.3, 4.5.5)', async () => {
    const c = await client();
    const { handle } = await c.attachCoordinator();
    const first = await c.declare(handle);
    const second = await c.declare(handle);
    expect(first.descriptor).toBe(0x33);
    expect(Buffer.isBuffer(first.fields[0])).toBe(true);
    expect((first.fields[0] as Buffer).equals(second.fields[0] as Buffer)).toBe(false);
  });

  test('a declare with a global-id (distributed transactions) is rejected with amqp:not-implemented', async () => {
    const c = await client();
    const { handle } = await c.attachCoordinator();
    const state = await c.declare(handle, encode.binary(Buffer.from('xid')));
    expect(state.descriptor).toBe(0x25);
    expect(errorOf(state).condition).toBe('amqp:not-implemented');
  });

  test('a discharge of an unknown txn-id, or of one already discharged, is rejected with amqp:transaction:unknown-id (4.4)', async () => {
    const c = await client();
    const { handle } = await c.attachCoordinator();
    const unknown = await c.discharge(handle, Buffer.from('nope'), false);
    expect(unknown.descriptor).toBe(0x25);
    expect(errorOf(unknown)).toEqual({ condition: 'amqp:transaction:unknown-id', description: expect.stringContaining('0x6e6f7065') });
    const txnId = await c.begin(handle);
    expect(accepted(await c.discharge(handle, txnId, true))).toBe(true);
    expect(errorOf(await c.discharge(handle, txnId, false)).condition).toBe('amqp:transaction:unknown-id');
  });

  test("another connection's txn-id is unknown here", async () => {
    const owner = await client();
    const other = await client();
    const { handle: ownerCoordinator } = await owner.attachCoordinator();
    const txnId = await owner.begin(ownerCoordinator);
    const { handle } = await other.attachCoordinator();
    expect(errorOf(await other.discharge(handle, txnId, false)).condition).toBe('amqp:transaction:unknown-id');
    expect(accepted(await owner.discharge(ownerCoordinator, txnId, false))).toBe(true);
  });

  test('a coordinator message that is not a declare or discharge is rejected with amqp:decode-error; the link goes on', async () => {
    const c = await client();
    const { handle } = await c.attachCoordinator();
    const { state } = await c.outcomeOf(c.send(handle, message({ data: 'commit please' })));
    expect(errorOf(state!).condition).toBe('amqp:decode-error');
    const { state: notControl } = await c.outcomeOf(c.send(handle, message({ value: encode.described(0x24, encode.list0()) })));
    expect(errorOf(notControl!).condition).toBe('amqp:decode-error');
    expect((await c.declare(handle)).descriptor).toBe(0x33);
  });

  test('a controller whose source does not take rejected gets a failed discharge as a detach carrying the error (4.4)', async () => {
    const c = await client();
    const { handle } = await c.attachCoordinator({ outcomes: ['amqp:accepted:list'] });
    c.send(handle, message({ value: encode.described(0x32, encode.list([encode.binary(Buffer.from('nope')), encode.boolean(false)])) }));
    expect((await c.detachOf(handle))?.condition).toBe('amqp:transaction:unknown-id');
  });
});

describe('transactional sends (AMQP 1.0 4.4.1)', () => {
  test('are answered transactional-state{txn-id, accepted}, not visible before commit, in the queue in send order after', async () => {
    const c = await client();
    const { handle: coordinator } = await c.attachCoordinator();
    const sender = await c.attachSender('tx.send.commit');
    const receiver = await c.attachReceiver('tx.send.commit', 10);
    const txnId = await c.begin(coordinator);
    for (const body of ['one', 'two', 'three']) {
      const { settled, state } = await c.outcomeOf(c.send(sender, message({ data: body }), { state: transactionalState(txnId) }));
      expect(settled).toBe(true);
      expect(state?.descriptor).toBe(0x34);
      expect((state!.fields[0] as Buffer).equals(txnId)).toBe(true);
      expect((state!.fields[1] as Described).descriptor).toBe(0x24);
    }
    await c.expectNothing(receiver);
    expect(accepted(await c.discharge(coordinator, txnId, false))).toBe(true);
    const got = [await c.receive(receiver), await c.receive(receiver), await c.receive(receiver)];
    expect(got.map((r) => r.body)).toEqual(['one', 'two', 'three']);
  });

  test('are discarded on rollback', async () => {
    const c = await client();
    const { handle: coordinator } = await c.attachCoordinator();
    const sender = await c.attachSender('tx.send.rollback');
    const txnId = await c.begin(coordinator);
    await c.outcomeOf(c.send(sender, message({ data: 'never' }), { state: transactionalState(txnId) }));
    expect(accepted(await c.discharge(coordinator, txnId, true))).toBe(true);
    c.send(sender, message({ data: 'after' }), { settled: true });
    expect((await drain('tx.send.rollback', 1)).map((m) => m.body)).toEqual(['after']);
  });

  test('pre-settled transactional sends join the transaction too', async () => {
    const c = await client();
    const { handle: coordinator } = await c.attachCoordinator();
    const sender = await c.attachSender('tx.send.presettled');
    const txnId = await c.begin(coordinator);
    c.send(sender, message({ data: 'a' }), { state: transactionalState(txnId), settled: true });
    c.send(sender, message({ data: 'b' }), { state: transactionalState(txnId), settled: true });
    expect(accepted(await c.discharge(coordinator, txnId, false))).toBe(true);
    expect((await drain('tx.send.presettled', 2)).map((m) => m.body)).toEqual(['a', 'b']);
  });

  test('with a txn-id that is not open are rejected with amqp:transaction:unknown-id', async () => {
    const c = await client();
    const sender = await c.attachSender('tx.send.unknown');
    const { state } = await c.outcomeOf(c.send(sender, message({ data: 'x' }), { state: transactionalState(Buffer.alloc(8, 7)) }));
    expect(state?.descriptor).toBe(0x25);
    expect(errorOf(state!).condition).toBe('amqp:transaction:unknown-id');
  });

  test('a message the broker would refuse anyway is rejected inside the transaction, which goes on', async () => {
    const c = await client();
    const { handle: coordinator } = await c.attachCoordinator();
    const relay = await c.attachSender('');
    const txnId = await c.begin(coordinator);
    const { state } = await c.outcomeOf(c.send(relay, message({ data: 'no to' }), { state: transactionalState(txnId) }));
    expect(state?.descriptor).toBe(0x34);
    const inner = state!.fields[1] as Described;
    expect(inner.descriptor).toBe(0x25);
    expect(accepted(await c.discharge(coordinator, txnId, false))).toBe(true);
  });

  test('one transaction spans links and sessions of its connection, and commits to several queues at once', async () => {
    const c = await client();
    const { handle: coordinator } = await c.attachCoordinator();
    const a = await c.attachSender('tx.multi.a');
    const b = await c.attachSender('tx.multi.b');
    const txnId = await c.begin(coordinator);
    await c.outcomeOf(c.send(a, message({ data: 'to a' }), { state: transactionalState(txnId) }));
    await c.outcomeOf(c.send(b, message({ data: 'to b' }), { state: transactionalState(txnId) }));
    // A second session (channel 1) works in the same transaction (amqp:multi-ssns-per-txn).
    c.connection.send(performative(Performative.begin, [undefined, encode.uint(0), encode.uint(2048), encode.uint(2048)]), 1);
    await c.frame((f) => f.descriptor === Performative.begin && f.channel === 1, 'the second session');
    c.connection.send(attach({ name: 'second-session-sender', handle: 0, role: false, source: terminus('source', []), target: terminus('target', [encode.string('tx.multi.c')]) }), 1);
    await c.frame((f) => f.descriptor === Performative.flow && f.channel === 1, 'credit on the second session');
    c.connection.send(transfer({ handle: 0, deliveryId: 0, payload: message({ data: 'to c' }), state: transactionalState(txnId) }), 1);
    const onSecond = await c.frame((f) => f.descriptor === Performative.disposition && f.channel === 1, 'the answer on the second session');
    expect((onSecond.fields[4] as Described).descriptor).toBe(0x34);
    expect(broker.runtime.queueReports().find((q) => q.name === 'tx.multi.c')).toMatchObject({ queued: 0 });
    expect(accepted(await c.discharge(coordinator, txnId, false))).toBe(true);
    expect((await drain('tx.multi.a', 1)).map((m) => m.body)).toEqual(['to a']);
    expect((await drain('tx.multi.b', 1)).map((m) => m.body)).toEqual(['to b']);
    expect((await drain('tx.multi.c', 1)).map((m) => m.body)).toEqual(['to c']);
  });

  test('a coordinator message larger than it can be detaches the coordinator link with amqp:link:message-size-exceeded', async () => {
    const c = await client();
    const { handle } = await c.attachCoordinator();
    c.send(handle, message({ value: encode.described(0x31, encode.list([encode.binary(Buffer.alloc(5000))])) }));
    expect((await c.detachOf(handle))?.condition).toBe('amqp:link:message-size-exceeded');
  });
});

describe('transactional acknowledgements (AMQP 1.0 4.4.2)', () => {
  async function prepare(queue: string, bodies: string[], groupId?: string): Promise<void> {
    const producer = await connect(broker.port!);
    await sendAll(await producer.openSender(queue), bodies.map((body) => ({ body, group_id: groupId })));
    await producer.close();
  }

  test('take effect at commit: until then the messages stay with their consumer, then they are gone', async () => {
    await prepare('tx.ack.commit', ['m1', 'm2', 'm3']);
    const c = await client();
    const { handle: coordinator } = await c.attachCoordinator();
    const receiver = await c.attachReceiver('tx.ack.commit', 3);
    const got = [await c.receive(receiver), await c.receive(receiver), await c.receive(receiver)];
    const txnId = await c.begin(coordinator);
    for (const r of got) c.acknowledge(r.deliveryId, transactionalState(txnId, outcome.accepted()));
    // Still acquired: the queue reports them in flight, and another consumer gets nothing.
    const other = await connect(broker.port!);
    const otherReceived: string[] = [];
    (await other.openReceiver('tx.ack.commit')).on('message', (ctx) => otherReceived.push(String(ctx.message!.body)));
    await sleep(200);
    expect(broker.runtime.queueReports().find((q) => q.name === 'tx.ack.commit')).toMatchObject({ queued: 0, inFlight: 3 });
    expect(accepted(await c.discharge(coordinator, txnId, false))).toBe(true);
    c.detach(receiver);
    await sleep(200);
    expect(broker.runtime.queueReports().find((q) => q.name === 'tx.ack.commit')).toMatchObject({ queued: 0, inFlight: 0, enqueuedTotal: 3 });
    expect(otherReceived).toEqual([]);
    await other.close();
  });

  test('rollback returns them to their positions with delivery-count + 1, in group order', async () => {
    await prepare('tx.ack.rollback', ['g1', 'g2', 'g3', 'g4'], 'G');
    const c = await client();
    const { handle: coordinator } = await c.attachCoordinator();
    const receiver = await c.attachReceiver('tx.ack.rollback', 3);
    const got = [await c.receive(receiver), await c.receive(receiver), await c.receive(receiver)];
    expect(got.map((r) => r.body)).toEqual(['g1', 'g2', 'g3']);
    const txnId = await c.begin(coordinator);
    // Acknowledged out of order: the rollback still returns them earliest first.
    for (const r of [got[2]!, got[0]!, got[1]!]) c.acknowledge(r.deliveryId, transactionalState(txnId, outcome.accepted()));
    expect(accepted(await c.discharge(coordinator, txnId, true))).toBe(true);
    c.grant(receiver, 10);
    const again = [await c.receive(receiver), await c.receive(receiver), await c.receive(receiver), await c.receive(receiver)];
    expect(again.map((r) => [r.body, r.deliveryCount])).toEqual([
      ['g1', 1],
      ['g2', 1],
      ['g3', 1],
      ['g4', 0],
    ]);
  });

  test('rollback while the consumer has credit: each message is sent again as it returns, earliest first', async () => {
    await prepare('tx.ack.rollback-credit', ['h1', 'h2', 'h3', 'h4', 'h5'], 'H');
    const c = await client();
    const { handle: coordinator } = await c.attachCoordinator();
    const receiver = await c.attachReceiver('tx.ack.rollback-credit', 3);
    const got = [await c.receive(receiver), await c.receive(receiver), await c.receive(receiver)];
    const txnId = await c.begin(coordinator);
    for (const r of [...got].reverse()) c.acknowledge(r.deliveryId, transactionalState(txnId, outcome.accepted()));
    c.grant(receiver, 5);
    const later = [await c.receive(receiver), await c.receive(receiver)];
    expect(accepted(await c.discharge(coordinator, txnId, true))).toBe(true);
    const again = [await c.receive(receiver), await c.receive(receiver), await c.receive(receiver)];
    expect([...later, ...again].map((r) => [r.body, r.deliveryCount])).toEqual([
      ['h4', 0],
      ['h5', 0],
      ['h1', 1],
      ['h2', 1],
      ['h3', 1],
    ]);
  });

  test('the outcome given in the transaction is the one applied at commit (released stays queued)', async () => {
    await prepare('tx.ack.outcomes', ['keep', 'drop']);
    const c = await client();
    const { handle: coordinator } = await c.attachCoordinator();
    const receiver = await c.attachReceiver('tx.ack.outcomes', 2);
    const [keep, drop] = [await c.receive(receiver), await c.receive(receiver)];
    const txnId = await c.begin(coordinator);
    c.acknowledge(keep!.deliveryId, transactionalState(txnId, outcome.released()));
    c.acknowledge(drop!.deliveryId, transactionalState(txnId, outcome.accepted()));
    expect(accepted(await c.discharge(coordinator, txnId, false))).toBe(true);
    c.detach(receiver);
    expect(await drain('tx.ack.outcomes', 1)).toEqual([{ body: 'keep', deliveryCount: 0 }]);
  });

  test('an acknowledgement in a txn-id that is not open detaches the consumer with amqp:transaction:unknown-id; the message returns', async () => {
    await prepare('tx.ack.unknown', ['u1']);
    const c = await client();
    const receiver = await c.attachReceiver('tx.ack.unknown', 1);
    const got = await c.receive(receiver);
    c.acknowledge(got.deliveryId, transactionalState(Buffer.alloc(8, 9), outcome.accepted()));
    expect((await c.detachOf(receiver))?.condition).toBe('amqp:transaction:unknown-id');
    expect(await drain('tx.ack.unknown', 1)).toEqual([{ body: 'u1', deliveryCount: 1 }]);
  });

  test('a consumer that detaches with acknowledgements in an open transaction: its messages return, and commit is refused with amqp:precondition-failed', async () => {
    await prepare('tx.ack.detached', ['d1', 'd2']);
    const c = await client();
    const { handle: coordinator } = await c.attachCoordinator();
    const sender = await c.attachSender('tx.ack.detached-out');
    const receiver = await c.attachReceiver('tx.ack.detached', 2);
    const got = [await c.receive(receiver), await c.receive(receiver)];
    const txnId = await c.begin(coordinator);
    await c.outcomeOf(c.send(sender, message({ data: 'derived' }), { state: transactionalState(txnId) }));
    for (const r of got) c.acknowledge(r.deliveryId, transactionalState(txnId, outcome.accepted()));
    c.detach(receiver);
    const refused = await c.discharge(coordinator, txnId, false);
    expect(refused.descriptor).toBe(0x25);
    expect(errorOf(refused)).toEqual({ condition: 'amqp:precondition-failed', description: expect.stringContaining('rolled back: a consumer whose messages it acknowledged detached') });
    expect(await drain('tx.ack.detached', 2)).toEqual([
      { body: 'd1', deliveryCount: 1 },
      { body: 'd2', deliveryCount: 1 },
    ]);
    expect(broker.runtime.queueReports().find((q) => q.name === 'tx.ack.detached-out')).toMatchObject({ queued: 0 });
  });

  test('a transaction mixing sends and acknowledgements across queues commits them together', async () => {
    await prepare('tx.mix.in', ['work-1', 'work-2']);
    const c = await client();
    const { handle: coordinator } = await c.attachCoordinator();
    const receiver = await c.attachReceiver('tx.mix.in', 2);
    const sender = await c.attachSender('tx.mix.out');
    const txnId = await c.begin(coordinator);
    for (const r of [await c.receive(receiver), await c.receive(receiver)]) {
      c.acknowledge(r.deliveryId, transactionalState(txnId, outcome.accepted()));
      await c.outcomeOf(c.send(sender, message({ data: `done ${r.body}` }), { state: transactionalState(txnId) }));
    }
    expect(broker.runtime.queueReports().find((q) => q.name === 'tx.mix.out')).toMatchObject({ queued: 0 });
    expect(accepted(await c.discharge(coordinator, txnId, false))).toBe(true);
    c.detach(receiver);
    expect((await drain('tx.mix.out', 2)).map((m) => m.body)).toEqual(['done work-1', 'done work-2']);
    expect(broker.runtime.queueReports().find((q) => q.name === 'tx.mix.in')).toMatchObject({ queued: 0, inFlight: 0 });
  });
});

describe('open transactions end with their link or connection', () => {
  test('detaching the coordinator rolls back what was declared on it', async () => {
    const producer = await connect(broker.port!);
    await sendAll(await producer.openSender('tx.end.link'), [{ body: 'l1' }]);
    await producer.close();
    const c = await client();
    const { handle: coordinator } = await c.attachCoordinator();
    const receiver = await c.attachReceiver('tx.end.link', 1);
    const sender = await c.attachSender('tx.end.link-out');
    const got = await c.receive(receiver);
    const txnId = await c.begin(coordinator);
    await c.outcomeOf(c.send(sender, message({ data: 'lost' }), { state: transactionalState(txnId) }));
    c.acknowledge(got.deliveryId, transactionalState(txnId, outcome.accepted()));
    c.detach(coordinator);
    await c.detachOf(coordinator);
    c.detach(receiver);
    expect(await drain('tx.end.link', 1)).toEqual([{ body: 'l1', deliveryCount: 1 }]);
    expect(broker.runtime.queueReports().find((q) => q.name === 'tx.end.link-out')).toMatchObject({ queued: 0 });
  });

  test('connection loss rolls back every open transaction: sends are gone, acknowledged messages return once counted', async () => {
    const producer = await connect(broker.port!);
    await sendAll(await producer.openSender('tx.end.connection'), [{ body: 'c1' }, { body: 'c2' }]);
    await producer.close();
    const c = await TransactionClient.open(broker.port!);
    const { handle: coordinator } = await c.attachCoordinator();
    const receiver = await c.attachReceiver('tx.end.connection', 2);
    const sender = await c.attachSender('tx.end.connection-out');
    const got = [await c.receive(receiver), await c.receive(receiver)];
    const txnId = await c.begin(coordinator);
    c.acknowledge(got[0]!.deliveryId, transactionalState(txnId, outcome.accepted()));
    await c.outcomeOf(c.send(sender, message({ data: 'lost' }), { state: transactionalState(txnId) }));
    c.close();
    await sleep(100);
    expect(await drain('tx.end.connection', 2)).toEqual([
      { body: 'c1', deliveryCount: 1 },
      { body: 'c2', deliveryCount: 1 },
    ]);
    expect(broker.runtime.queueReports().find((q) => q.name === 'tx.end.connection-out')).toMatchObject({ queued: 0 });
  });
});

describe('limits', () => {
  let limited: RunningBroker;
  beforeAll(async () => {
    limited = await startTestBroker({ maxTransactionsPerConnection: 2, maxTransactionOperations: 3, maxTransactionBytesPerConnection: 1000 });
  });
  afterAll(async () => {
    await limited.stop();
  });

  test('maxTransactionsPerConnection: a further declare is rejected with amqp:resource-limit-exceeded until one ends', async () => {
    const c = await client(limited.port!);
    const { handle } = await c.attachCoordinator();
    const first = await c.begin(handle);
    await c.begin(handle);
    const refused = await c.declare(handle);
    expect(errorOf(refused)).toEqual({ condition: 'amqp:resource-limit-exceeded', description: expect.stringContaining('maxTransactionsPerConnection') });
    await c.discharge(handle, first, true);
    expect((await c.declare(handle)).descriptor).toBe(0x33);
  });

  test('maxTransactionOperations: a further send is rejected and the transaction goes on; a further acknowledgement makes it roll back', async () => {
    const producer = await connect(limited.port!);
    await sendAll(await producer.openSender('limits.in'), [{ body: 'a' }, { body: 'b' }, { body: 'c' }, { body: 'd' }]);
    await producer.close();
    const c = await client(limited.port!);
    const { handle: coordinator } = await c.attachCoordinator();
    const sender = await c.attachSender('limits.out');
    const txnId = await c.begin(coordinator);
    for (let i = 0; i < 3; i++) await c.outcomeOf(c.send(sender, message({ data: `s${i}` }), { state: transactionalState(txnId) }));
    const { state } = await c.outcomeOf(c.send(sender, message({ data: 's3' }), { state: transactionalState(txnId) }));
    expect(errorOf({ descriptor: 0x25, fields: (state!.fields[1] as Described).value as unknown[] })).toEqual({
      condition: 'amqp:resource-limit-exceeded',
      description: expect.stringContaining('maxTransactionOperations'),
    });
    expect(accepted(await c.discharge(coordinator, txnId, false))).toBe(true);

    const receiver = await c.attachReceiver('limits.in', 4);
    const got = [await c.receive(receiver), await c.receive(receiver), await c.receive(receiver), await c.receive(receiver)];
    const second = await c.begin(coordinator);
    for (const r of got) c.acknowledge(r.deliveryId, transactionalState(second, outcome.accepted()));
    // Marked to roll back: a send is refused with amqp:transaction:rollback, the commit with the limit it passed.
    const { state: late } = await c.outcomeOf(c.send(sender, message({ data: 'late' }), { state: transactionalState(second) }));
    expect(((late!.fields[1] as Described).value as Described[])[0]!.value).toEqual(['amqp:transaction:rollback', expect.stringContaining('can only be rolled back')]);
    const refused = await c.discharge(coordinator, second, false);
    expect(errorOf(refused)).toEqual({ condition: 'amqp:resource-limit-exceeded', description: expect.stringContaining('rolled back: it passed maxTransactionOperations') });
    c.grant(receiver, 4);
    const again = [await c.receive(receiver), await c.receive(receiver), await c.receive(receiver), await c.receive(receiver)];
    expect(again.map((r) => [r.body, r.deliveryCount])).toEqual([
      ['a', 1],
      ['b', 1],
      ['c', 1],
      ['d', 1],
    ]);
  });

  test('maxTransactionBytesPerConnection counts the messages of all open transactions of the connection', async () => {
    const c = await client(limited.port!);
    const { handle: coordinator } = await c.attachCoordinator();
    const sender = await c.attachSender('limits.bytes');
    const one = await c.begin(coordinator);
    const two = await c.begin(coordinator);
    const big = 'x'.repeat(600);
    expect((await c.outcomeOf(c.send(sender, message({ data: big }), { state: transactionalState(one) }))).state?.fields[1]).toEqual(new Described(0x24, []));
    const { state } = await c.outcomeOf(c.send(sender, message({ data: big }), { state: transactionalState(two) }));
    expect(((state!.fields[1] as Described).value as Described[])[0]!.value).toEqual(['amqp:resource-limit-exceeded', expect.stringContaining('maxTransactionBytesPerConnection')]);
    await c.discharge(coordinator, one, false);
    expect((await c.outcomeOf(c.send(sender, message({ data: big }), { state: transactionalState(two) }))).state?.fields[1]).toEqual(new Described(0x24, []));
  });
});

test('nothing above made rhea write to the console (transactional states, declared, the coordinator terminus)', () => {
  expect(consoleWarnings).not.toHaveBeenCalled();
  expect(consoleErrors).not.toHaveBeenCalled();
});
