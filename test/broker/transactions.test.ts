import fc from 'fast-check';
import pino from 'pino';
import { describe, expect, test } from 'vitest';
import { ConnectionTransactions } from '../../src/broker/transactions';
import { BrokerRuntime, type DeliverEffect } from '../../src/broker/runtime';
import { DEFAULT_QUEUE_OPTIONS } from '../../src/config/queue-policies';
import type { Command } from '../../src/core/types';
import { MemoryStore } from '../../src/store/memory-store';

/**
 * The runtime's side of local transactions (src/broker/transactions.ts), on a real runtime and store:
 * what a commit and a rollback do to queues, groups and the store, whatever the order of acknowledgements.
 */

interface Delivered {
  readonly consumer: string;
  readonly deliveryId: number;
  readonly body: string;
  readonly deliveryCount: number;
}

const LIMITS = { maxTransactionsPerConnection: 10, maxTransactionOperations: 1000, maxTransactionBytesPerConnection: 1 << 20 };

function setUp() {
  const store = new MemoryStore();
  const units = { begun: 0, ended: 0 };
  const beginAtomic = store.beginAtomic.bind(store);
  const endAtomic = store.endAtomic.bind(store);
  store.beginAtomic = () => {
    units.begun++;
    beginAtomic();
  };
  store.endAtomic = () => {
    units.ended++;
    endAtomic();
  };
  const runtime = new BrokerRuntime(() => DEFAULT_QUEUE_OPTIONS, store, { maxMemoryBytes: 1 << 30, maxDiskBytes: 1 << 30 }, pino({ level: 'silent' }));
  runtime.recover();
  const delivered: Delivered[] = [];
  let nextId = 1;
  const transactions = new ConnectionTransactions(runtime, LIMITS, () => nextId++);
  const attach = (consumer: string, queue: string, credit: number): void => {
    runtime.attachConsumer(
      { type: 'attach', consumerId: consumer, queue, priority: 0, exclusive: false, settleOnSend: false },
      {
        deliver: (effect: DeliverEffect, bytes: Uint8Array) =>
          delivered.push({ consumer, deliveryId: effect.deliveryId, body: Buffer.from(bytes).toString(), deliveryCount: effect.message.deliveryCount }),
        drained: () => undefined,
        end: () => undefined,
      },
      consumer,
    );
    runtime.execute({ type: 'credit', consumerId: consumer, credit, drain: false });
  };
  return { runtime, transactions, delivered, attach, units };
}

function enqueue(queue: string, body: string, group: string | null = null): Command {
  return { type: 'enqueue', queue, meta: { groupId: group, closesGroup: false, expiresAtMs: null, deliveryCount: 0, durable: true }, body: Buffer.from(body) };
}

describe('ConnectionTransactions', () => {
  test('a commit is one atomic unit in the store; sends enter their queues only then; a transaction ends once', () => {
    const { runtime, transactions, units } = setUp();
    const transaction = transactions.declare({});
    transactions.send(transaction, enqueue('out', 'a'), 1, true);
    transactions.send(transaction, enqueue('out', 'b'), 1, true);
    expect(runtime.state.queues.get('out')).toBeUndefined();
    expect(transactions.commit(transaction)).toEqual({ durable: true });
    expect(units).toEqual({ begun: 1, ended: 1 });
    expect(runtime.queueReports().find((q) => q.name === 'out')).toMatchObject({ queued: 2 });
    expect(transactions.find(transaction.id)).toBeUndefined();
    expect(() => transactions.commit(transaction)).toThrow(expect.objectContaining({ code: 'unknown-id' }));
    expect(() => transactions.rollback(transaction)).toThrow(expect.objectContaining({ code: 'unknown-id' }));
    expect(runtime.queueReports().find((q) => q.name === 'out')).toMatchObject({ queued: 2 });
  });

  test('a transaction touching only non-durable messages needs no fsync; one acknowledging a durable message does', () => {
    const { runtime, transactions, delivered, attach } = setUp();
    const sendOnly = transactions.declare({});
    const transient: Command = { type: 'enqueue', queue: 'out', meta: { groupId: null, closesGroup: false, expiresAtMs: null, deliveryCount: 0, durable: false }, body: Buffer.from('t') };
    transactions.send(sendOnly, transient, 1, false);
    expect(transactions.commit(sendOnly)).toEqual({ durable: false });
    runtime.execute(enqueue('in', 'd'));
    attach('c1', 'in', 1);
    const acknowledging = transactions.declare({});
    transactions.acknowledge(acknowledging, 'c1', delivered[0]!.deliveryId, { type: 'accepted' });
    expect(transactions.commit(acknowledging)).toEqual({ durable: true });
  });

  test('rollbackDeclaredBy ends only what that declarer declared', () => {
    const { transactions } = setUp();
    const link = {};
    const mine = transactions.declare(link);
    const other = transactions.declare({});
    transactions.rollbackDeclaredBy(link);
    expect(transactions.find(mine.id)).toBeUndefined();
    expect(transactions.find(other.id)).toBe(other);
    expect(transactions.size).toBe(1);
  });

  test('limits: open transactions per connection; bytes across all of its open transactions, freed when one ends', () => {
    let nextId = 1;
    const limited = new ConnectionTransactions(setUp().runtime, { maxTransactionsPerConnection: 2, maxTransactionOperations: 5, maxTransactionBytesPerConnection: 10 }, () => nextId++);
    const one = limited.declare({});
    const two = limited.declare({});
    expect(() => limited.declare({})).toThrow(expect.objectContaining({ code: 'limit', message: expect.stringContaining('maxTransactionsPerConnection') }));
    limited.send(one, enqueue('q', '123456'), 6, false);
    expect(() => limited.send(two, enqueue('q', '123456'), 6, false)).toThrow(expect.objectContaining({ code: 'limit', message: expect.stringContaining('maxTransactionBytesPerConnection') }));
    limited.rollback(one);
    limited.send(two, enqueue('q', '123456'), 6, false);
    expect(limited.declare({})).toBeDefined();
  });

  test('rollback, in any order of acknowledgement and with or without credit: each group comes back in send order, counted once more; commit removes them all', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('A', 'B', 'C', null), { minLength: 1, maxLength: 12 }),
        fc.integer({ min: 1, max: 12 }),
        fc.array(fc.nat(), { minLength: 12, maxLength: 12 }),
        fc.boolean(),
        fc.boolean(),
        (groups, credit, randomness, creditDuringRollback, commit) => {
          const { runtime, transactions, delivered, attach } = setUp();
          groups.forEach((group, i) => runtime.execute(enqueue('q', `m${i}`, group)));
          attach('c1', 'q', credit);
          const first = [...delivered];
          const order = first.map((d, i) => ({ d, key: randomness[i] ?? 0 })).sort((a, b) => a.key - b.key).map(({ d }) => d);
          const transaction = transactions.declare({});
          for (const d of order) transactions.acknowledge(transaction, d.consumer, d.deliveryId, { type: 'accepted' });
          delivered.length = 0;
          // With credit, each message is sent again the moment it returns: returning them earliest first matters.
          runtime.execute({ type: 'credit', consumerId: 'c1', credit: creditDuringRollback ? 100 : 0, drain: false });
          if (commit) transactions.commit(transaction);
          else transactions.rollback(transaction);
          runtime.execute({ type: 'credit', consumerId: 'c1', credit: 100, drain: false });
          const acknowledged = new Set(first.map((d) => d.body));
          const all = groups.map((_, i) => `m${i}`);
          if (commit) {
            expect(delivered.map((d) => d.body).sort()).toEqual(all.filter((body) => !acknowledged.has(body)).sort());
            return;
          }
          expect(delivered.map((d) => d.body).sort()).toEqual([...all].sort());
          for (const d of delivered) expect(d.deliveryCount).toBe(acknowledged.has(d.body) ? 1 : 0);
          for (const group of ['A', 'B', 'C']) {
            const returned = groups.flatMap((g, i) => (g === group && acknowledged.has(`m${i}`) ? [`m${i}`] : []));
            expect(delivered.filter((d) => returned.includes(d.body)).map((d) => d.body)).toEqual(returned);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  test('a message published to a topic in a transaction goes to the subscriptions the topic has at the commit', () => {
    const { runtime, transactions, delivered, attach } = setUp();
    runtime.topics.declare('t');
    const subscribe = (consumer: string) => runtime.topics.subscribe({ topic: 't', name: null, clientId: null, durable: false, shared: false, consumerId: consumer, selector: null });
    const leaving = subscribe('gone');
    const staying = subscribe('kept');
    attach('kept', staying.queue, 10);
    const transaction = transactions.declare({});
    const meta = { groupId: null, closesGroup: false, expiresAtMs: null, deliveryCount: 0, durable: false };
    const body = Buffer.from('p1');
    transactions.sendRouted(transaction, () => runtime.topics.copiesAtCommit('t', meta, body), body.length, false);
    // The first subscription ends before the commit (its consumer left); a new one starts.
    runtime.topics.consumerLeft(leaving, false);
    const joined = subscribe('joined');
    attach('joined', joined.queue, 10);
    expect(delivered).toEqual([]);
    transactions.commit(transaction);
    expect(delivered.map((d) => [d.consumer, d.body])).toEqual([
      ['kept', 'p1'],
      ['joined', 'p1'],
    ]);
    expect(runtime.state.queues.has(leaving.queue)).toBe(false);
  });

  test('a consumer detaching with acknowledgements in a transaction makes it roll back only, with precondition', () => {
    const { runtime, transactions, delivered, attach } = setUp();
    runtime.execute(enqueue('q', 'x'));
    attach('c1', 'q', 1);
    const transaction = transactions.declare({});
    transactions.acknowledge(transaction, 'c1', delivered[0]!.deliveryId, { type: 'accepted' });
    transactions.consumerDetached('c1');
    runtime.detachConsumer('c1');
    expect(() => transactions.commit(transaction)).toThrow(expect.objectContaining({ code: 'precondition' }));
    expect(runtime.queueReports().find((q) => q.name === 'q')).toMatchObject({ queued: 1, inFlight: 0 });
  });
});
