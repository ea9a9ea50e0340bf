import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { RunningBroker } from '../../src/broker/server';
import { connect, receive, sendAll, waitFor, type TestClient } from '../support/client';
import { startTestBroker } from '../support/broker';
import { httpCall } from '../support/http';

/**
 * The JSON API over real HTTP against a broker with real AMQP clients: what it shows (queues with
 * counters and consumers, groups paged by prefix with owners and blocking reasons, connections) and
 * what it does (purge, release a group, retry dead letters, close a connection).
 */
describe('HTTP API', () => {
  let broker: RunningBroker;
  let port: number;
  let client: TestClient;

  beforeAll(async () => {
    broker = await startTestBroker({ http: { port: 0 }, queues: { 'orders.*': { maxDeliveryAttempts: 3 } }, topics: ['api.ticks'] });
    port = broker.httpPort!;
    client = await connect(broker.port!, { container_id: 'api-test-client' });
  });

  afterAll(async () => {
    await client.close();
    await broker.stop();
  });

  const get = async (path: string) => {
    const answer = await httpCall({ port, path });
    expect(answer.status, answer.text).toBe(200);
    return answer.json;
  };
  const post = async (path: string, body: unknown = {}) => {
    const answer = await httpCall({ port, path, body });
    expect(answer.status, answer.text).toBe(200);
    return answer.json;
  };

  test('queues with counters and consumers: client, address, credit, unsettled, priority, exclusive and the active one', async () => {
    const sender = await client.openSender('orders.eu');
    await sendAll(sender, [1, 2, 3].map((i) => ({ body: `m${i}`, group_id: i === 3 ? 'B' : 'A' })));
    const first = await client.openReceiver('orders.eu?consumer.exclusive=true&consumer.priority=5', { name: 'first' });
    const second = await client.openReceiver({ address: 'orders.eu' }, { name: 'second', properties: { exclusive: true } });
    const got = await receive(first, 2, 2000, 2);
    expect(got).toHaveLength(2);
    got[0]!.delivery.accept();
    await waitFor(() => broker.runtime.counters.of('orders.eu').acknowledged === 1, 'the acceptance');
    const { queues } = await get('/api/queues');
    const queue = queues.find((q: { name: string }) => q.name === 'orders.eu');
    expect(queue).toMatchObject({
      messages: 1,
      inFlight: 1,
      counters: { enqueued: 3, delivered: 2, acknowledged: 1, redelivered: 0, deadLettered: 0, expired: 0 },
      // Group A went wholly to the exclusive consumer (outside the group) and is forgotten; B waits.
      groups: { total: 1, owned: 0, unassigned: 1, blocked: 1 },
    });
    expect(queue.consumers).toHaveLength(2);
    const [active, waiting] = queue.consumers;
    expect(active).toMatchObject({ link: 'first', address: 'orders.eu?consumer.exclusive=true&consumer.priority=5', priority: 5, exclusive: true, active: true, credit: 0, unsettled: 1 });
    expect(active.container).toBe('api-test-client');
    expect(active.remote).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(active.connection).toMatch(/^c\d+$/);
    expect(waiting).toMatchObject({ link: 'second', exclusive: true, active: false });
    expect(await get('/api/queues/orders.eu')).toMatchObject({ name: 'orders.eu', messages: 1 });
    first.close();
    second.close();
    await waitFor(() => broker.runtime.state.queues.get('orders.eu')!.consumers.length === 0, 'the detach');
  });

  test('groups: paged and searched by prefix, each with owner, queued, in flight, state and why it waits', async () => {
    const sender = await client.openSender('orders.groups');
    await sendAll(sender, ['acct-1', 'acct-2', 'acct-3', 'acct-10', 'other'].flatMap((group) => [{ body: group, group_id: group }, { body: group, group_id: group }]));
    const receiver = await client.openReceiver('orders.groups', { name: 'owner' });
    await receive(receiver, 5, 2000, 5);
    const page1 = await get('/api/queues/orders.groups/groups?prefix=acct-&limit=2');
    expect(page1.total).toBe(5);
    expect(page1.groups.map((g: { id: string }) => g.id)).toEqual(['acct-1', 'acct-2']);
    expect(page1.next).toBe('acct-2');
    const page2 = await get(`/api/queues/orders.groups/groups?prefix=acct-&limit=2&after=${page1.next}`);
    expect(page2.groups.map((g: { id: string }) => g.id)).toEqual(['acct-3', 'acct-10']);
    const page3 = await get(`/api/queues/orders.groups/groups?prefix=acct-&limit=2&after=${page2.next}`);
    expect(page3).toMatchObject({ groups: [], next: null, scanned: 1 });
    expect((await httpCall({ port, path: '/api/queues/orders.groups/groups?after=forgotten' })).status).toBe(410);
    expect(await get('/api/queues/orders.groups/groups/acct-1')).toMatchObject({ queued: 0, inFlight: 2, blockedReason: null });
    const group = await get('/api/queues/orders.groups/groups/acct-3');
    expect(group).toMatchObject({ id: 'acct-3', queued: 1, inFlight: 1, state: 'owned', blockedReason: 'owner-has-no-credit', wakesOn: 'owner-credit' });
    expect(group.owner).toMatch(/^c\d+\/\d+$/);
    expect((await httpCall({ port, path: '/api/queues/orders.groups/groups/nope' })).status).toBe(404);
    expect((await httpCall({ port, path: '/api/queues/orders.groups/groups?limit=0' })).status).toBe(400);
    expect((await httpCall({ port, path: '/api/queues/orders.groups/groups?limit=100000' })).status).toBe(400);
    expect((await httpCall({ port, path: '/api/queues/nowhere/groups' })).status).toBe(404);
    receiver.close();
  });

  test('release a group: it moves once its in-flight messages settle, never to two owners', async () => {
    const sender = await client.openSender('orders.release');
    await sendAll(sender, [{ body: 'A1', group_id: 'A' }, { body: 'A2', group_id: 'A' }]);
    const owner = await client.openReceiver('orders.release', { name: 'slow-owner' });
    const [a1] = await receive(owner, 1, 2000, 1);
    const other = await client.openReceiver('orders.release', { name: 'other' });
    const atOther = receive(other, 1, 3000, 10);
    const released = await post('/api/queues/orders.release/groups/A/release');
    expect(released).toMatchObject({ released: 'after-settlement', group: { state: 'moving', blockedReason: 'awaiting-settlement-before-move', moveTo: null } });
    owner.add_credit(5);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(broker.runtime.state.queues.get('orders.release')!.groups.get('A')!.owner!.id).toBe(released.group.owner);
    a1!.delivery.accept();
    const [a2] = await atOther;
    expect(a2!.message.body).toBe('A2');
    const again = await httpCall({ port, path: '/api/queues/orders.release/groups/nope/release', body: {} });
    expect(again.status).toBe(404);
    owner.close();
    other.close();
  });

  test('purge removes queued messages and leaves in-flight ones; dlq-retry sends dead letters back to their queue', async () => {
    const sender = await client.openSender('orders.retry');
    await sendAll(sender, ['r1', 'r2', 'r3'].map((body) => ({ body })));
    const receiver = await client.openReceiver('orders.retry', { name: 'rejecter' });
    const got = await receive(receiver, 3, 2000, 3);
    got[0]!.delivery.reject();
    got[1]!.delivery.reject();
    await waitFor(() => broker.runtime.counters.of('orders.retry').deadLettered === 2, 'the dead-lettering');
    const { queues } = await get('/api/queues');
    expect(queues.find((q: { name: string }) => q.name === 'DLQ')).toMatchObject({ messages: 2, isDeadLetterQueue: true });
    expect(await post('/api/queues/DLQ/dlq-retry', { from: 'orders.retry', limit: 1 })).toMatchObject({ retried: 1, remaining: 1 });
    expect(await post('/api/queues/DLQ/dlq-retry')).toMatchObject({ retried: 1, remaining: 0 });
    expect(await get('/api/queues/orders.retry')).toMatchObject({ messages: 2, inFlight: 1 });
    expect(await post('/api/queues/orders.retry/purge')).toEqual({ queue: 'orders.retry', purged: 2, inFlight: 1 });
    expect(await get('/api/queues/orders.retry')).toMatchObject({ messages: 0, inFlight: 1, counters: { purged: 2 } });
    expect((await httpCall({ port, path: '/api/queues/nowhere/purge', body: {} })).status).toBe(404);
    expect((await httpCall({ port, path: '/api/queues/DLQ/dlq-retry', body: { limit: -1 } })).status).toBe(400);
    receiver.close();
  });

  test('delete a queue with its messages: its consumer is detached with amqp:resource-deleted; a subscription is refused', async () => {
    const sender = await client.openSender('orders.delete');
    await sendAll(sender, [{ body: 'd1' }, { body: 'd2' }, { body: 'd3' }]);
    sender.close();
    const receiver = await client.openReceiver('orders.delete', { name: 'still-here' });
    const [inFlight] = await receive(receiver, 1, 2000, 1);
    const detached = new Promise<unknown>((resolve) => receiver.once('receiver_close', () => resolve(receiver.error)));
    const deleted = await httpCall({ port, path: '/api/queues/orders.delete', method: 'DELETE', body: {} });
    expect(deleted.status).toBe(200);
    // The one in flight returned to the queue when its consumer was detached, and went with it.
    expect(deleted.json).toEqual({ queue: 'orders.delete', deleted: true, messages: 3 });
    expect(await detached).toMatchObject({ condition: 'amqp:resource-deleted', description: 'queue "orders.delete" was deleted' });
    inFlight!.delivery.accept();
    expect(broker.runtime.state.queues.has('orders.delete')).toBe(false);
    expect((await httpCall({ port, path: '/api/queues/orders.delete', method: 'DELETE', body: {} })).status).toBe(404);
    const subscriber = await client.openReceiver('api.ticks', { name: 'ticker' });
    const subscription = [...broker.runtime.state.queues.keys()].find((name) => name.startsWith('api.ticks::'))!;
    const notHere = await httpCall({ port, path: `/api/queues/${encodeURIComponent(subscription)}`, method: 'DELETE', body: {} });
    expect(notHere.status).toBe(409);
    expect(notHere.json.error).toContain('is a subscription of topic "api.ticks"');
    subscriber.close();
  });

  test('connections with their links, and closing one: its unsettled messages return', async () => {
    const other = await connect(broker.port!, { container_id: 'to-be-closed' });
    const sender = await other.openSender('orders.close');
    await sendAll(sender, [{ body: 'x' }]);
    const receiver = await other.openReceiver('orders.close', { name: 'holder' });
    await receive(receiver, 1, 2000, 1);
    const { connections } = await get('/api/connections');
    const found = connections.find((c: { container: string }) => c.container === 'to-be-closed');
    expect(found).toMatchObject({ user: 'anonymous', tls: false });
    expect(found.consumers).toEqual([{ consumerId: expect.stringMatching(/^c\d+\/\d+$/), link: 'holder', address: 'orders.close' }]);
    expect(found.producers).toEqual([expect.objectContaining({ address: 'orders.close' })]);
    const closed = new Promise<string | undefined>((resolve) =>
      other.connection.once('connection_error', (ctx) => resolve((ctx.connection.error as { condition?: string } | undefined)?.condition)),
    );
    const answer = await httpCall({ port, path: `/api/connections/${found.id}`, method: 'DELETE', body: {} });
    expect(answer.status, answer.text).toBe(200);
    expect(await closed).toBe('amqp:connection:forced');
    await waitFor(() => broker.runtime.state.queues.get('orders.close')!.queuedCount === 1, 'the unsettled message to return');
    expect((await httpCall({ port, path: `/api/connections/${found.id}`, method: 'DELETE', body: {} })).status).toBe(404);
  });

  test('actions must be JSON from the same origin; unknown paths and methods are refused clearly', async () => {
    const formPost = await httpCall({ port, path: '/api/queues/DLQ/purge', method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(formPost.status).toBe(415);
    const crossOrigin = await httpCall({ port, path: '/api/queues/DLQ/purge', body: {}, headers: { origin: 'http://evil.example' } });
    expect(crossOrigin.status).toBe(403);
    const sameOrigin = await httpCall({ port, path: '/api/queues/DLQ/purge', body: {}, headers: { origin: `http://127.0.0.1:${port}` } });
    expect(sameOrigin.status).toBe(200);
    expect((await httpCall({ port, path: '/api/nothing' })).status).toBe(404);
    expect((await httpCall({ port, path: '/api/queues', method: 'DELETE', body: {} })).status).toBe(405);
    expect((await httpCall({ port, path: '/api/queues/DLQ/purge', body: 'x'.repeat(70_000) })).status).toBe(413);
    const notJson = await httpCall({ port, path: '/api/queues/DLQ/purge', method: 'POST', headers: { 'content-type': 'application/json' }, body: undefined });
    expect(notJson.status).toBe(200);
  });

  test('without users: a request naming the broker by a non-loopback host (DNS rebinding) is refused', async () => {
    const rebinding = await httpCall({ port, path: '/api/queues', headers: { host: `attacker.example:${port}` } });
    expect(rebinding.status).toBe(403);
    expect(rebinding.json.error).toContain('loopback name');
    expect((await httpCall({ port, path: '/api/queues', headers: { host: `localhost:${port}` } })).status).toBe(200);
    expect((await httpCall({ port, path: '/api/queues', headers: { host: `[::1]:${port}` } })).status).toBe(200);
  });
});
