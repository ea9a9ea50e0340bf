import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { filter, types, type Message, type Receiver } from 'rhea';
import { MESSAGE_BOOKKEEPING_BYTES } from '../../src/broker/memory-budget';
import type { RunningBroker } from '../../src/broker/server';
import { startTestBroker } from '../support/broker';
import { startLoggedBroker } from '../support/logged-broker';
import { connect, receive, sendAll, sleep, waitFor, type TestClient } from '../support/client';

/**
 * Topics and subscriptions over AMQP, as rhea sees them (README "Topics and subscriptions"): the
 * capabilities and termini Qpid JMS sends, written by hand, so each rule is pinned at the AMQP level.
 */

let broker: RunningBroker;
let client: TestClient;
beforeAll(async () => {
  broker = await startTestBroker({ topics: ['config.topic.*'], queues: { 'grouped.*': { groupKey: 'JMSXGroupID' } } });
  client = await connect(broker.port, { container_id: 'app' } as never);
});
afterAll(async () => {
  await client.close();
  await broker.stop();
});

const topic = (address: string, fields: Record<string, unknown> = {}) => ({ address, capabilities: ['topic'], ...fields });
const durable = (address: string, fields: Record<string, unknown> = {}) => topic(address, { durable: 2, expiry_policy: 'never', distribution_mode: 'copy', ...fields });
const bodies = (received: { message: Message }[]) => received.map((r) => r.message.body as string);
const texts = (...labels: string[]): Message[] => labels.map((body) => ({ body }));

function subscriptionQueues(name: string): string[] {
  return broker.runtime.topicReports().find((t) => t.name === name)?.subscriptions.map((s) => s.queue) ?? [];
}

/** Resolves with the link's remote detach: whether it was closed, and its error if any. */
function detached(link: Receiver): Promise<{ closed: boolean; condition?: string }> {
  return new Promise((resolve) => {
    link.once('receiver_close', () => {
      const detach = (link as unknown as { remote: { detach: { closed?: boolean; error?: { condition?: string } } } }).remote.detach;
      resolve({ closed: detach.closed === true, condition: detach.error?.condition });
    });
  });
}

describe('topics: every subscription gets every message', () => {
  test('two subscribers each receive every message, in order; the copies share one body buffer', async () => {
    const a = await client.openReceiver(topic('t.fanout'));
    const b = await client.openReceiver(topic('t.fanout'));
    const sender = await client.openSender(topic('t.fanout'));
    const queues = subscriptionQueues('t.fanout');
    expect(queues).toHaveLength(2);
    expect(queues.every((queue) => queue.startsWith('t.fanout::'))).toBe(true);
    expect(await sendAll(sender, texts('m1', 'm2', 'm3'))).toEqual(['accepted', 'accepted', 'accepted']);
    const [core1, core2] = queues.map((queue) => [...broker.runtime.state.queues.get(queue)!.main]);
    expect(core1!.map((m) => m.body)).toHaveLength(3);
    core1!.forEach((message, i) => expect(message.body).toBe(core2![i]!.body));
    expect(bodies(await receive(a, 3))).toEqual(['m1', 'm2', 'm3']);
    expect(bodies(await receive(b, 3))).toEqual(['m1', 'm2', 'm3']);
    a.close();
    b.close();
    sender.close();
  });

  test('shared bytes count once against maxMemoryBytes: five copies of a message that fits are not paged out', async () => {
    // Each copy has its own bookkeeping; the body counts once. Three messages stay below the paging
    // threshold (half of maxMemoryBytes), a fourth goes past it. Counted once per copy, the body of the
    // second message would already be paged.
    const body = 20_000;
    const perMessage = 5 * MESSAGE_BOOKKEEPING_BYTES + body;
    const pagingThreshold = 2 * perMessage + MESSAGE_BOOKKEEPING_BYTES + body + perMessage / 2;
    const small = await startTestBroker({ store: 'journal', dataDir: mkdtempSync(join(tmpdir(), 'convoy-topic-memory-')), maxMemoryBytes: 2 * pagingThreshold });
    const c = await connect(small.port);
    for (let i = 0; i < 5; i++) await c.openReceiver(topic('t.memory'));
    await sendAll(await c.openSender(topic('t.memory')), [{ body: Buffer.alloc(body, 1) as never }]);
    const copies = small.runtime.topicReports()[0]!.subscriptions.map((s) => [...small.runtime.state.queues.get(s.queue)!.main][0]!.body);
    expect(copies).toHaveLength(5);
    expect(copies.every((copy) => copy === copies[0] && copy instanceof Uint8Array)).toBe(true);
    await sendAll(await c.openSender(topic('t.memory')), [2, 3, 4].map((n) => ({ body: Buffer.alloc(body, n) as never })));
    const resident = (n: number) => small.runtime.topicReports()[0]!.subscriptions.map((s) => [...small.runtime.state.queues.get(s.queue)!.main][n]!.body instanceof Uint8Array);
    expect([resident(1), resident(2), resident(3)]).toEqual([Array(5).fill(true), Array(5).fill(true), Array(5).fill(false)]);
    await c.close();
    await small.stop();
  });

  test('a message published to a topic without subscriptions goes nowhere and is accepted', async () => {
    const sender = await client.openSender(topic('t.nobody'));
    expect(await sendAll(sender, texts('lost'))).toEqual(['accepted']);
    const late = await client.openReceiver(topic('t.nobody'));
    expect(await receive(late, 1, 300)).toHaveLength(0);
    expect(broker.runtime.topicReports().find((t) => t.name === 't.nobody')!.publishedTotal).toBe(1);
    late.close();
    sender.close();
  });

  test('a non-durable subscription ends with its link: its queue and messages go', async () => {
    const receiver = await client.openReceiver(topic('t.private'));
    const sender = await client.openSender(topic('t.private'));
    const [queue] = subscriptionQueues('t.private');
    await sendAll(sender, texts('kept until detach'));
    expect(broker.runtime.state.queues.get(queue!)!.queuedCount).toBe(1);
    receiver.close();
    await waitFor(() => !broker.runtime.state.queues.has(queue!), 'the subscription queue to go');
    expect(subscriptionQueues('t.private')).toEqual([]);
    sender.close();
  });

  test('the topics option makes a name a topic for clients that do not say so (no capability, anonymous relay)', async () => {
    const a = await client.openReceiver('config.topic.prices');
    const b = await client.openReceiver('config.topic.prices');
    expect(subscriptionQueues('config.topic.prices')).toHaveLength(2);
    await sendAll(await client.openSender('config.topic.prices'), texts('p1'));
    await sendAll(await client.openSender(null), [{ to: 'config.topic.prices', body: 'p2' }]);
    expect(bodies(await receive(a, 2))).toEqual(['p1', 'p2']);
    expect(bodies(await receive(b, 2))).toEqual(['p1', 'p2']);
    a.close();
    b.close();
  });

  test('the anonymous relay routes by x-opt-jms-dest: a topic (1) for a name not used yet', async () => {
    const relay = await client.openSender(null);
    const subscriber = await client.openReceiver(topic('t.relayed'));
    const annotated = (dest: number, body: string): Message => ({ to: 't.relayed', body, message_annotations: { 'x-opt-jms-dest': types.wrap_byte(dest) } });
    expect(await sendAll(relay, [annotated(1, 'r1')])).toEqual(['accepted']);
    expect(bodies(await receive(subscriber, 1))).toEqual(['r1']);
    subscriber.close();
  });
});

describe('one name is a queue or a topic, never both', () => {
  test('a topic subscriber on a queue, a queue consumer or producer on a topic, are refused with amqp:not-found', async () => {
    await sendAll(await client.openSender('clash.queue'), texts('q1'));
    await expect(client.openReceiver(topic('clash.queue'))).rejects.toMatchObject({ condition: 'amqp:not-found', message: expect.stringMatching(/is a queue, not a topic/) });
    await expect(client.openSender(topic('clash.queue'))).rejects.toMatchObject({ condition: 'amqp:not-found' });
    (await client.openReceiver(topic('clash.topic'))).close();
    await expect(client.openReceiver({ address: 'clash.topic', capabilities: ['queue'] })).rejects.toMatchObject({
      condition: 'amqp:not-found',
      message: expect.stringMatching(/is a topic, not a queue/),
    });
    await expect(client.openSender({ address: 'clash.topic', capabilities: ['queue'] })).rejects.toMatchObject({ condition: 'amqp:not-found' });
    await expect(client.openReceiver({ address: 'config.topic.x', capabilities: ['queue'] })).rejects.toMatchObject({
      condition: 'amqp:not-found',
      message: expect.stringMatching(/configured as a topic/),
    });
  });

  test('without a capability, the name keeps its kind: a plain consumer of a topic subscribes, a plain producer publishes', async () => {
    const subscriber = await client.openReceiver(topic('clash.plain'));
    const plain = await client.openReceiver('clash.plain');
    await sendAll(await client.openSender('clash.plain'), texts('x'));
    expect(bodies(await receive(subscriber, 1))).toEqual(['x']);
    expect(bodies(await receive(plain, 1))).toEqual(['x']);
    subscriber.close();
    plain.close();
  });

  test('a relayed message whose x-opt-jms-dest contradicts the name is rejected with amqp:not-found; nothing is created', async () => {
    const relay = await client.openSender(null);
    (await client.openReceiver(topic('clash.relay'))).close();
    const asQueue: Message = { to: 'clash.relay', body: 'no', message_annotations: { 'x-opt-jms-dest': types.wrap_byte(0) } };
    const rejected = await new Promise<{ condition?: string }>((resolve) => {
      relay.once('rejected', (ctx) => resolve((ctx.delivery!.remote_state as { error?: { condition?: string } }).error ?? {}));
      relay.send(asQueue);
    });
    expect(rejected.condition).toBe('amqp:not-found');
    expect(broker.runtime.state.queues.has('clash.relay')).toBe(false);
  });

  test('"::" is reserved for subscription queues: such an address is refused with amqp:invalid-field', async () => {
    await expect(client.openReceiver('a::b')).rejects.toMatchObject({ condition: 'amqp:invalid-field' });
    await expect(client.openSender('a::b')).rejects.toMatchObject({ condition: 'amqp:invalid-field' });
  });
});

describe('durable subscriptions', () => {
  test('survive a detach (closed=false, answered in kind); messages published meanwhile wait; re-attach resumes', async () => {
    const sender = await client.openSender(topic('d.resume'));
    await sendAll(sender, texts('before'));
    let subscriber = await client.openReceiver(durable('d.resume'), { name: 'audit' });
    expect(subscriptionQueues('d.resume')).toEqual(['d.resume::app.audit']);
    const reply = (subscriber as unknown as { remote: { attach: { source: Record<string, unknown> } } }).remote.attach.source;
    expect([reply.durable, reply.expiry_policy, reply.distribution_mode, reply.capabilities]).toEqual([1, 'never', 'copy', ['topic']]);
    await sendAll(sender, texts('d1'));
    const [d1] = await receive(subscriber, 1);
    expect(d1!.message.body).toBe('d1');
    d1!.delivery.accept();
    await waitFor(() => broker.runtime.state.queues.get('d.resume::app.audit')!.inFlightCount === 0, 'd1 accepted');
    const detach = detached(subscriber);
    subscriber.detach();
    expect(await detach).toEqual({ closed: false, condition: undefined });
    await sendAll(sender, texts('d2', 'd3'));
    subscriber = await client.openReceiver(durable('d.resume'), { name: 'audit' });
    expect(bodies(await receive(subscriber, 3, 500))).toEqual(['d2', 'd3']);
    subscriber.close();
    await waitFor(() => subscriptionQueues('d.resume').length === 0, 'closing the link to end the subscription');
  });

  test('an unshared durable subscription takes one consumer at a time: a second is refused with amqp:resource-locked', async () => {
    const first = await client.openReceiver(durable('d.single'), { name: 'one' });
    const other = await connect(broker.port, { container_id: 'app' } as never);
    await expect(other.openReceiver(durable('d.single'), { name: 'one' })).rejects.toMatchObject({ condition: 'amqp:resource-locked' });
    await other.close();
    first.close();
  });

  test('scoped to the container-id: the same name from another client is another subscription', async () => {
    const mine = await client.openReceiver(durable('d.scoped'), { name: 'sub' });
    const other = await connect(broker.port, { container_id: 'other' } as never);
    const theirs = await other.openReceiver(durable('d.scoped'), { name: 'sub' });
    expect(subscriptionQueues('d.scoped').sort()).toEqual(['d.scoped::app.sub', 'd.scoped::other.sub']);
    mine.close();
    theirs.close();
    await other.close();
  });

  test('attached to another topic while it has no consumer, it starts afresh there (its messages go)', async () => {
    const sender = await client.openSender(topic('d.moved.a'));
    const first = await client.openReceiver(durable('d.moved.a'), { name: 'mover' });
    first.detach();
    await waitFor(() => broker.runtime.state.queues.get('d.moved.a::app.mover')!.consumers.length === 0, 'the detach');
    await sendAll(sender, texts('stays behind'));
    const moved = await client.openReceiver(durable('d.moved.b'), { name: 'mover' });
    expect(subscriptionQueues('d.moved.a')).toEqual([]);
    expect(subscriptionQueues('d.moved.b')).toEqual(['d.moved.b::app.mover']);
    expect(await receive(moved, 1, 300)).toHaveLength(0);
    moved.close();
  });

  test('unsubscribe (Qpid JMS): a receiver without a source finds it by link name; closing it removes it and its messages', async () => {
    const subscriber = await client.openReceiver(durable('d.unsub'), { name: 'gone' });
    subscriber.detach();
    await waitFor(() => broker.runtime.state.queues.get('d.unsub::app.gone')?.consumers.length === 0, 'the detach');
    await sendAll(await client.openSender(topic('d.unsub')), texts('u1', 'u2'));
    const lookup = await client.openReceiver(null as never, { name: 'gone', target: {} });
    const source = (lookup as unknown as { remote: { attach: { source: Record<string, unknown> } } }).remote.attach.source;
    expect([source.address, source.durable, source.expiry_policy]).toEqual(['d.unsub', 1, 'never']);
    const closing = detached(lookup);
    lookup.close();
    expect(await closing).toEqual({ closed: true, condition: undefined });
    expect(subscriptionQueues('d.unsub')).toEqual([]);
    expect(broker.runtime.state.queues.has('d.unsub::app.gone')).toBe(false);
    await expect(client.openReceiver(null as never, { name: 'gone', target: {} })).rejects.toMatchObject({ condition: 'amqp:not-found' });
  });

  test('unsubscribe while it has a consumer is refused with amqp:resource-locked', async () => {
    const subscriber = await client.openReceiver(durable('d.busy'), { name: 'busy' });
    const other = await connect(broker.port, { container_id: 'app' } as never);
    await expect(other.openReceiver(null as never, { name: 'busy', target: {} })).rejects.toMatchObject({ condition: 'amqp:resource-locked' });
    await other.close();
    subscriber.close();
  });

  test('a durable subscriber does not receive messages published before it subscribed', async () => {
    const sender = await client.openSender(topic('d.late'));
    await sendAll(sender, texts('early'));
    const subscriber = await client.openReceiver(durable('d.late'), { name: 'late' });
    await sendAll(sender, texts('after'));
    expect(bodies(await receive(subscriber, 2, 500))).toEqual(['after']);
    subscriber.close();
  });
});

describe('shared subscriptions', () => {
  test('the connection offers SHARED-SUBS', () => {
    expect((client.connection as unknown as { remote: { open: { offered_capabilities: string[] } } }).remote.open.offered_capabilities).toContain('SHARED-SUBS');
  });

  test('shared links (Qpid JMS names them sub, sub|2) split the messages of one subscription; groups each go to one consumer, in order', async () => {
    const shared = (name: string) => client.openReceiver(durable('grouped.s', { capabilities: ['topic', 'shared'] }), { name });
    const [one, two] = [await shared('workers'), await shared('workers|2')];
    expect(subscriptionQueues('grouped.s')).toEqual(['grouped.s::app.workers']);
    const sender = await client.openSender(topic('grouped.s'));
    one.add_credit(100);
    two.add_credit(100);
    await waitFor(() => broker.runtime.state.queues.get('grouped.s::app.workers')!.consumersWithCredit === 2, 'credit');
    const got: Record<string, string[]> = { one: [], two: [] };
    one.on('message', (ctx) => got.one!.push(ctx.message!.body as string));
    two.on('message', (ctx) => got.two!.push(ctx.message!.body as string));
    const messages: Message[] = [];
    for (let i = 0; i < 30; i++) messages.push({ body: `${'ABC'[i % 3]}${i}`, application_properties: { JMSXGroupID: 'ABC'[i % 3] } });
    await sendAll(sender, messages);
    await waitFor(() => got.one!.length + got.two!.length === 30, 'all 30');
    expect(got.one!.length).toBeGreaterThan(0);
    expect(got.two!.length).toBeGreaterThan(0);
    for (const group of ['A', 'B', 'C']) {
      const at = Object.entries(got).filter(([, list]) => list.some((body) => body.startsWith(group)));
      expect(at).toHaveLength(1);
      const inOrder = at[0]![1].filter((body) => body.startsWith(group));
      expect(inOrder).toEqual(messages.map((m) => m.body as string).filter((body) => body.startsWith(group)));
    }
    one.close();
    two.close();
  });

  test('a shared non-durable subscription (sub|volatile1, sub|volatile2) ends with its last link', async () => {
    const shared = (name: string) => client.openReceiver(topic('s.volatile', { capabilities: ['topic', 'shared'] }), { name });
    const one = await shared('v|volatile1');
    const two = await shared('v|volatile2');
    expect(subscriptionQueues('s.volatile')).toEqual(['s.volatile::app.v']);
    one.close();
    await sleep(50);
    expect(subscriptionQueues('s.volatile')).toEqual(['s.volatile::app.v']);
    two.close();
    await waitFor(() => subscriptionQueues('s.volatile').length === 0, 'the last link to end it');
  });

  test('global (no client id: sub|global, sub|global2) is shared across containers; attaching unshared to a shared one is refused', async () => {
    const global = (c: TestClient, name: string) => c.openReceiver(durable('s.global', { capabilities: ['topic', 'shared', 'global'] }), { name });
    const other = await connect(broker.port, { container_id: 'elsewhere' } as never);
    const one = await global(client, 'g|global');
    const two = await global(other, 'g|global2');
    expect(subscriptionQueues('s.global')).toEqual(['s.global::g']);
    await expect(other.openReceiver(durable('s.global', { capabilities: ['topic', 'global'] }), { name: 'g' })).rejects.toMatchObject({ condition: 'amqp:not-allowed' });
    one.close();
    two.close();
    await other.close();
  });
});

describe('temporary topics', () => {
  test('a dynamic target with temporary-topic names a new topic; it goes with its connection, and its subscriptions', async () => {
    const owner = await connect(broker.port);
    const creator = await owner.openSender({ dynamic: true, capabilities: ['temporary-topic'], expiry_policy: 'link-detach' });
    const name = (creator as unknown as { remote: { attach: { target: { address: string } } } }).remote.attach.target.address;
    expect(name).toMatch(/^temp\./);
    const subscriber = await owner.openReceiver({ address: name, capabilities: ['temporary-topic'] });
    await sendAll(await owner.openSender({ address: name, capabilities: ['temporary-topic'] }), texts('t1'));
    expect(bodies(await receive(subscriber, 1))).toEqual(['t1']);
    expect(broker.runtime.topics.isTemporary(name)).toBe(true);
    const queues = subscriptionQueues(name);
    await owner.close();
    await waitFor(() => !broker.runtime.topics.isTopic(name), 'the temporary topic to go');
    expect(queues.some((queue) => broker.runtime.state.queues.has(queue))).toBe(false);
    await expect(client.openReceiver({ address: name, capabilities: ['temporary-topic'] })).rejects.toMatchObject({ condition: 'amqp:not-found' });
  });

  test('it also goes when its creating link closes; a subscriber on another connection is detached with amqp:resource-deleted', async () => {
    const owner = await connect(broker.port);
    const creator = await owner.openSender({ dynamic: true, capabilities: ['temporary-topic'] });
    const name = (creator as unknown as { remote: { attach: { target: { address: string } } } }).remote.attach.target.address;
    const stranger = await client.openReceiver({ address: name, capabilities: ['temporary-topic'] });
    const ended = detached(stranger);
    creator.close();
    expect(await ended).toMatchObject({ condition: 'amqp:resource-deleted' });
    expect(broker.runtime.topics.isTopic(name)).toBe(false);
    await owner.close();
  });

  test('a durable subscription on a temporary topic is refused with amqp:not-allowed', async () => {
    await expect(client.openReceiver({ dynamic: true, capabilities: ['temporary-topic'], durable: 2, expiry_policy: 'never' }, { name: 'x' })).rejects.toMatchObject({
      condition: 'amqp:not-allowed',
    });
  });
});

describe('durable subscriptions across a restart', () => {
  test('the subscription and its messages come back; a non-durable one does not; the topic stays a topic', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'convoy-topics-'));
    let journalled = await startTestBroker({ store: 'journal', dataDir });
    let c = await connect(journalled.port, { container_id: 'app' } as never);
    const kept = await c.openReceiver(durable('r.prices'), { name: 'kept' });
    const volatile = await c.openReceiver(topic('r.prices'));
    expect(journalled.runtime.topicReports()[0]!.subscriptions.map((s) => s.durable)).toEqual([true, false]);
    kept.detach();
    await sendAll(await c.openSender(topic('r.prices')), [{ body: 'p1', durable: true }, { body: 'p2', durable: true }, { body: 'transient' }]);
    volatile.close();
    await c.close();
    await journalled.stop();
    journalled = await startTestBroker({ store: 'journal', dataDir });
    expect(journalled.runtime.topicReports().map((t) => [t.name, t.subscriptions.map((s) => s.queue)])).toEqual([['r.prices', ['r.prices::app.kept']]]);
    c = await connect(journalled.port, { container_id: 'app' } as never);
    const resumed = await c.openReceiver(durable('r.prices'), { name: 'kept' });
    expect(bodies(await receive(resumed, 3, 500))).toEqual(['p1', 'p2']);
    await expect(c.openReceiver({ address: 'r.prices', capabilities: ['queue'] })).rejects.toMatchObject({ condition: 'amqp:not-found' });
    await c.close();
    await journalled.stop();
  });

  test('a stored queue that the topics option now names stays a queue, with a warning at start', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'convoy-topics-'));
    const first = await startTestBroker({ store: 'journal', dataDir });
    const c = await connect(first.port);
    await sendAll(await c.openSender('later.prices'), [{ body: 'kept', durable: true }]);
    await c.close();
    await first.stop();
    const { broker: second, log } = await startLoggedBroker({ store: 'journal', dataDir, topics: ['later.*'] });
    expect(log.lines().find((line) => line.msg?.toString().startsWith('a stored queue matches the "topics" option'))).toMatchObject({ queue: 'later.prices', level: 40 });
    const again = await connect(second.port);
    await expect(again.openReceiver(topic('later.prices'))).rejects.toMatchObject({ condition: 'amqp:not-found' });
    expect(bodies(await receive(await again.openReceiver('later.prices'), 1))).toEqual(['kept']);
    await again.close();
    await second.stop();
  });
});

describe('selectors on subscriptions: what a subscription does not select never enters it', () => {
  const red = (address: string, selector = "colour = 'red'") => topic(address, { filter: filter.selector(selector) });
  const coloured = (...colours: string[]): Message[] => colours.map((colour, i) => ({ body: `${colour}${i}`, application_properties: { colour } }));

  test('a subscriber with a selector gets what it selects; one without, everything; nothing else waits in the selecting subscription', async () => {
    const selecting = await client.openReceiver(red('s.private'));
    const all = await client.openReceiver(topic('s.private'));
    const echoed = (selecting as unknown as { remote: { attach: { source: { filter: Record<string, { value: unknown }> } } } }).remote.attach.source.filter;
    expect(echoed['jms-selector']!.value).toBe("colour = 'red'");
    await sendAll(await client.openSender(topic('s.private')), coloured('red', 'blue', 'red', 'green'));
    expect(bodies(await receive(all, 4))).toEqual(['red0', 'blue1', 'red2', 'green3']);
    expect(bodies(await receive(selecting, 4, 300))).toEqual(['red0', 'red2']);
    const reports = broker.runtime.topicReports().find((t) => t.name === 's.private')!.subscriptions;
    expect(reports.map((s) => [s.selector, s.queued])).toEqual([
      ["colour = 'red'", 0],
      [null, 0],
    ]);
  });

  test('a durable subscription keeps its selector across a detach; another selector replaces it while it has no consumer, and is refused while it has one', async () => {
    const sender = await client.openSender(topic('s.durable'));
    let subscriber = await client.openReceiver(durable('s.durable', { filter: filter.selector("colour = 'red'") }), { name: 'reds' });
    subscriber.detach();
    await waitFor(() => broker.runtime.state.queues.get('s.durable::app.reds')!.consumers.length === 0, 'the detach');
    await sendAll(sender, coloured('blue', 'red'));
    expect(broker.runtime.state.queues.get('s.durable::app.reds')!.queuedCount).toBe(1);
    subscriber = await client.openReceiver(durable('s.durable', { filter: filter.selector("colour = 'red'") }), { name: 'reds' });
    expect(bodies(await receive(subscriber, 2, 300))).toEqual(['red1']);
    const other = await connect(broker.port, { container_id: 'app' } as never);
    await expect(other.openReceiver(durable('s.durable', { filter: filter.selector("colour = 'blue'") }), { name: 'reds' })).rejects.toMatchObject({
      condition: 'amqp:resource-locked',
      message: expect.stringContaining('selector'),
    });
    subscriber.detach();
    await waitFor(() => broker.runtime.state.queues.get('s.durable::app.reds')!.consumers.length === 0, 'the detach');
    await sendAll(sender, coloured('red'));
    const replaced = await other.openReceiver(durable('s.durable', { filter: filter.selector("colour = 'blue'") }), { name: 'reds' });
    await sendAll(sender, coloured('blue', 'red'));
    expect(bodies(await receive(replaced, 3, 300))).toEqual(['blue0']);
    replaced.close();
    await other.close();
  });

  test("a durable subscription's selector is stored with it and applies again after a restart", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'convoy-topics-selector-'));
    let journalled = await startTestBroker({ store: 'journal', dataDir });
    let c = await connect(journalled.port, { container_id: 'app' } as never);
    (await c.openReceiver(durable('s.kept', { filter: filter.selector("colour = 'red'") }), { name: 'reds' })).detach();
    await c.close();
    await journalled.stop();
    journalled = await startTestBroker({ store: 'journal', dataDir });
    expect(journalled.runtime.topicReports()[0]!.subscriptions.map((s) => s.selector)).toEqual(["colour = 'red'"]);
    c = await connect(journalled.port, { container_id: 'app' } as never);
    await sendAll(await c.openSender(topic('s.kept')), coloured('blue', 'red', 'blue'));
    const subscriber = await c.openReceiver(durable('s.kept', { filter: filter.selector("colour = 'red'") }), { name: 'reds' });
    expect(bodies(await receive(subscriber, 3, 300))).toEqual(['red1']);
    await c.close();
    await journalled.stop();
  });

  test('an invalid selector on a subscription is refused with amqp:invalid-field; no-local with amqp:not-implemented', async () => {
    await expect(client.openReceiver(red('s.invalid', 'colour ='))).rejects.toMatchObject({ condition: 'amqp:invalid-field' });
    const noLocal = { 'no-local': types.wrap_described(types.wrap_list([]), 'apache.org:no-local-filter:list') };
    await expect(client.openReceiver(topic('s.invalid', { filter: noLocal }))).rejects.toMatchObject({ condition: 'amqp:not-implemented' });
    expect(subscriptionQueues('s.invalid')).toEqual([]);
  });
});
