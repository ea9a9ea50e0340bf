import type { Receiver, Sender } from 'rhea';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { RunningBroker } from '../../src/broker/server';
import { makeTestCertificates } from '../support/certificates';
import { receive, sendAll, waitFor, type TestClient } from '../support/client';
import type { CapturedLog } from '../support/log-capture';
import { startLoggedBroker } from '../support/logged-broker';
import { login, type Endpoint } from '../support/login';
import { writeTestUsers } from '../support/users';

/**
 * Authorisation over real TCP and TLS with rhea clients: every attach and every anonymous-relay
 * message is checked against the user's roles; a refused attach gets a null terminus and a detach
 * with amqp:unauthorized-access naming the permission and the address; nothing else on the
 * connection is disturbed.
 */
const ROLES = {
  producer: { send: ['in.*'] },
  consumer: { consume: ['in.*', 'temp.*'] },
  browser: { browse: ['in.*'] },
  admin: { send: ['*'], consume: ['*'], browse: ['*'], manage: true },
};

let broker: RunningBroker;
let log: CapturedLog;

beforeAll(async () => {
  const usersFile = await writeTestUsers({
    pat: { password: 'pat-pw', roles: ['producer'] },
    cora: { password: 'cora-pw', roles: ['consumer'] },
    bea: { password: 'bea-pw', roles: ['browser'] },
    both: { password: 'both-pw', roles: ['producer', 'consumer'] },
    root: { password: 'root-pw', roles: ['admin'] },
    limited: { password: 'limited-pw', roles: ['producer', 'consumer'] },
    sub: { password: 'sub-pw', roles: ['consumer'] },
  });
  const certificates = makeTestCertificates();
  ({ broker, log } = await startLoggedBroker({ auth: { usersFile, maxQueuesPerUser: 3 }, roles: ROLES, tls: { port: 0, ...certificates.server } }));
  endpoints = { tcp: { port: broker.port! }, tls: { port: broker.tlsPort!, tls: { caFile: certificates.caFile } } };
});
afterAll(() => broker.stop());

let endpoints: Record<'tcp' | 'tls', Endpoint>;
const as = (user: string, transport: 'tcp' | 'tls' = 'tcp'): Promise<TestClient> =>
  login(endpoints[transport], { mechanism: 'SCRAM-SHA-256', user, password: `${user}-pw` });

interface Refusal {
  readonly condition?: string;
  readonly message: string;
  /** The attach reply's terminus on the refused side: null (AMQP 1.0 2.6.3). */
  readonly replyTerminus: unknown;
}

async function refusedAttach(attach: Promise<Receiver | Sender>, link: () => Receiver | Sender): Promise<Refusal> {
  const error = (await attach.then(
    () => {
      throw new Error('the attach was accepted');
    },
    (refusal: Error & { condition?: string }) => refusal,
  )) as Error & { condition?: string };
  const remote = (link() as unknown as { remote: { attach?: { source?: unknown; target?: unknown } } }).remote.attach;
  const terminus = link().is_receiver() ? remote?.source : remote?.target;
  // rhea keeps a described null as a Typed value.
  const replyTerminus = terminus !== null && typeof terminus === 'object' && 'value' in terminus ? (terminus as { value: unknown }).value : terminus;
  return { condition: error.condition, message: error.message, replyTerminus };
}

for (const transport of ['tcp', 'tls'] as const) {
  describe(`attach checks over ${transport}`, () => {
    test('a consumer without consume permission gets a null source and amqp:unauthorized-access naming consume and the queue', async () => {
      const client = await as('pat', transport);
      const sender = await client.openSender(`in.${transport}.a`);
      const receiver = client.connection.open_receiver({ source: `in.${transport}.a`, autoaccept: false, credit_window: 0 });
      const refusal = await refusedAttach(linkOutcome(receiver), () => receiver);
      expect(refusal).toEqual({
        condition: 'amqp:unauthorized-access',
        message: `user "pat" has no consume permission on "in.${transport}.a"`,
        replyTerminus: null,
      });
      // Nothing else on the connection is disturbed: the sender goes on.
      expect(await sendAll(sender, [{ body: 1 }])).toEqual(['accepted']);
      expect(client.connection.is_open()).toBe(true);
      await client.close();
    });

    test('a producer without send permission is refused with a null target, naming send and the address', async () => {
      const client = await as('cora', transport);
      const receiver = await client.openReceiver(`in.${transport}.b`);
      const sender = client.connection.open_sender({ target: `in.${transport}.b` });
      const refusal = await refusedAttach(linkOutcome(sender), () => sender);
      expect(refusal).toEqual({ condition: 'amqp:unauthorized-access', message: `user "cora" has no send permission on "in.${transport}.b"`, replyTerminus: null });
      expect(receiver.is_open()).toBe(true);
      await client.close();
    });
  });
}

describe('permissions', () => {
  test('each permission covers only its own patterns', async () => {
    const client = await as('both');
    await client.openSender('in.orders');
    await client.openReceiver('in.orders');
    await expect(client.openSender('out.orders')).rejects.toMatchObject({ condition: 'amqp:unauthorized-access', message: 'user "both" has no send permission on "out.orders"' });
    await expect(client.openReceiver('out.orders')).rejects.toMatchObject({ message: 'user "both" has no consume permission on "out.orders"' });
    await client.close();
  });

  test('browse covers browsing (distribution-mode copy), not consuming; consume does not cover browsing', async () => {
    const owner = await as('both');
    await sendAll(await owner.openSender('in.browsed'), [{ body: 'seen' }]);
    const bea = await as('bea');
    await expect(bea.openReceiver('in.browsed')).rejects.toMatchObject({ condition: 'amqp:unauthorized-access', message: 'user "bea" has no consume permission on "in.browsed"' });
    const browser = await bea.openReceiver({ address: 'in.browsed', distribution_mode: 'copy' });
    expect((await receive(browser, 1)).map((r) => r.message.body)).toEqual(['seen']);
    await expect(owner.openReceiver({ address: 'out.browsed', distribution_mode: 'copy' })).rejects.toMatchObject({
      condition: 'amqp:unauthorized-access',
      message: 'user "both" has no browse permission on "out.browsed"',
    });
    // Browsing took nothing: the consumer still gets the message.
    expect((await receive(await owner.openReceiver('in.browsed'), 1)).map((r) => r.message.body)).toEqual(['seen']);
    await Promise.all([owner.close(), bea.close()]);
  });

  test('$convoy/... operator sources need manage', async () => {
    const cora = await as('cora');
    await expect(cora.openReceiver('$convoy/queues')).rejects.toMatchObject({
      condition: 'amqp:unauthorized-access',
      message: 'user "cora" has no manage permission, needed for "$convoy/queues"',
    });
    const root = await as('root');
    const snapshot = await root.openReceiver('$convoy/queues');
    const [message] = await receive(snapshot, 1);
    expect(JSON.parse(String(message?.message.body)).queues).toBeInstanceOf(Array);
    await Promise.all([cora.close(), root.close()]);
  });

  test('a dynamic source creates a temporary queue: it needs consume on temp.*', async () => {
    const cora = await as('cora');
    const temporary = await cora.openReceiver({ dynamic: true });
    expect(String((temporary as unknown as { remote: { attach: { source: { address: string } } } }).remote.attach.source.address)).toMatch(/^temp\./);
    const pat = await as('pat');
    await expect(pat.openReceiver({ dynamic: true })).rejects.toMatchObject({ condition: 'amqp:unauthorized-access', message: expect.stringMatching(/^user "pat" has no consume permission on "temp\./) });
    await Promise.all([cora.close(), pat.close()]);
  });
});

describe('topics', () => {
  test('a subscription needs consume on the topic, durable ones (distribution-mode copy) too: browse does not do; publishing needs send', async () => {
    const durable = { address: 'in.prices', capabilities: ['topic'], durable: 2, expiry_policy: 'never', distribution_mode: 'copy' };
    const sub = await as('sub');
    const subscriber = await sub.openReceiver(durable, { name: 'audit' });
    const bea = await as('bea');
    await expect(bea.openReceiver(durable, { name: 'audit' })).rejects.toMatchObject({
      condition: 'amqp:unauthorized-access',
      message: 'user "bea" has no consume permission on "in.prices"',
    });
    await expect(sub.openSender({ address: 'in.prices', capabilities: ['topic'] })).rejects.toMatchObject({ message: 'user "sub" has no send permission on "in.prices"' });
    const pat = await as('pat');
    expect(await sendAll(await pat.openSender({ address: 'in.prices', capabilities: ['topic'] }), [{ body: 'p' }])).toEqual(['accepted']);
    expect((await receive(subscriber, 1)).map((r) => r.message.body)).toEqual(['p']);
    await Promise.all([sub.close(), bea.close(), pat.close()]);
  });

  test('unsubscribing (a receiver without a source) needs consume on the subscription\'s topic', async () => {
    // A global shared subscription (no client id: Qpid JMS names its links "<name>|global"), so another user can name it.
    const root = await as('root');
    const source = { address: 'out.topic', capabilities: ['topic', 'shared', 'global'], durable: 2, expiry_policy: 'never' };
    (await root.openReceiver(source, { name: 'kept|global' })).detach();
    const cora = await as('cora');
    await expect(cora.openReceiver(null as never, { name: 'kept|global', target: {} })).rejects.toMatchObject({
      condition: 'amqp:unauthorized-access',
      message: 'user "cora" has no consume permission on "out.topic"',
    });
    const lookup = await root.openReceiver(null as never, { name: 'kept|global', target: {} });
    lookup.close();
    await waitFor(() => broker.runtime.topicReports().find((t) => t.name === 'out.topic')!.subscriptions.length === 0, 'the unsubscribe');
    await Promise.all([root.close(), cora.close()]);
  });
});

describe('anonymous relay: every message is checked', () => {
  test('a message to an address without send permission is rejected with amqp:unauthorized-access; the link and the other messages go on', async () => {
    const client = await as('pat');
    const relay = await client.openSender(null);
    const outcomes = await sendAllWithErrors(relay, [
      { to: 'in.relay', body: 1 },
      { to: 'out.relay', body: 2 },
      { to: 'in.relay', body: 3 },
    ]);
    expect(outcomes.map((o) => o.outcome)).toEqual(['accepted', 'rejected', 'accepted']);
    expect(outcomes[1]?.error).toEqual({ condition: 'amqp:unauthorized-access', description: 'user "pat" has no send permission on "out.relay"' });
    expect(broker.runtime.state.queues.has('out.relay')).toBe(false);
    expect(relay.is_open()).toBe(true);
    await client.close();
  });
});

describe('maxQueuesPerUser', () => {
  test('queues a user creates on first use are counted; past the limit the attach or relayed message is refused with amqp:resource-limit-exceeded', async () => {
    const client = await as('limited');
    await client.openReceiver('in.limit.1');
    const relay = await client.openSender(null);
    expect((await sendAllWithErrors(relay, [{ to: 'in.limit.2', body: 1 }]))[0]?.outcome).toBe('accepted');
    const sender = await client.openSender('in.limit.3');
    expect(await sendAll(sender, [{ body: 1 }])).toEqual(['accepted']);

    await expect(client.openReceiver('in.limit.4')).rejects.toMatchObject({
      condition: 'amqp:resource-limit-exceeded',
      message: 'user "limited" has created 3 queues (auth.maxQueuesPerUser); cannot create "in.limit.4"',
    });
    await expect(client.openSender('in.limit.4')).rejects.toMatchObject({ condition: 'amqp:resource-limit-exceeded' });
    const [refused] = await sendAllWithErrors(relay, [{ to: 'in.limit.4', body: 2 }]);
    expect(refused?.error?.condition).toBe('amqp:resource-limit-exceeded');
    // Queues that exist are no creation: still fine, and another user's allowance is its own.
    await client.openReceiver('in.limit.1');
    await client.openReceiver('in.relay');
    const other = await as('both');
    await other.openReceiver('in.limit.4');
    await Promise.all([client.close(), other.close()]);
  });
});

test('every refusal is in the log with the user, the condition and the reason', () => {
  const refusals = log.lines().filter((line) => line.msg === 'link refused' && line.condition !== 'amqp:not-implemented');
  expect(refusals.length).toBeGreaterThanOrEqual(8);
  for (const refusal of refusals) {
    expect(refusal.condition).toMatch(/^amqp:(unauthorized-access|resource-limit-exceeded)$/);
    expect(String(refusal.reason)).toMatch(/^user "/);
    expect(String(refusal.remote)).toMatch(/^127\.0\.0\.1:\d+$/);
  }
});

function errorOf(link: Receiver | Sender): Error & { condition?: string } {
  const error = link.error as { condition?: string; description?: string } | undefined;
  return Object.assign(new Error(error?.description ?? 'refused'), { condition: error?.condition });
}

function linkOutcome<T extends Receiver | Sender>(link: T): Promise<T> {
  return new Promise((resolve, reject) => {
    const event = link.is_sender() ? 'sender' : 'receiver';
    link.once(`${event}_open`, () => setImmediate(() => (link.is_closed() || link.error ? reject(errorOf(link)) : resolve(link))));
    link.once(`${event}_error`, () => reject(errorOf(link)));
  });
}

/** Sends each message and collects its outcome and, for a rejection, the error (AMQP 1.0 3.4.2). */
function sendAllWithErrors(sender: Sender, messages: Record<string, unknown>[]): Promise<{ outcome: string; error?: { condition: string; description: string } }[]> {
  return new Promise((resolve) => {
    const outcomes: { outcome: string; error?: { condition: string; description: string } }[] = [];
    let pending = messages.length;
    const settle = (index: number, outcome: string, error?: { condition: string; description: string }) => {
      outcomes[index] = error ? { outcome, error } : { outcome };
      if (--pending === 0) resolve(outcomes);
    };
    const deliveries = new Map<unknown, number>();
    sender.on('accepted', (ctx) => settle(deliveries.get(ctx.delivery)!, 'accepted'));
    sender.on('rejected', (ctx) => {
      const error = (ctx.delivery!.remote_state as { error?: { condition: string; description: string } }).error;
      settle(deliveries.get(ctx.delivery)!, 'rejected', error && { condition: error.condition, description: error.description });
    });
    messages.forEach((message, index) => deliveries.set(sender.send(message as never), index));
  });
}
