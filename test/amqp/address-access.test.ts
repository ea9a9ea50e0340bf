import { describe, expect, test } from 'vitest';
import type { BrokerRuntime } from '../../src/broker/runtime';
import { AccessRefusedError, AddressAccess } from '../../src/amqp/authorization';
import type { RequestedSource } from '../../src/amqp/attach-request';
import { AccessRights } from '../../src/security/access-rights';
import { UserLimits } from '../../src/security/user-limits';

/** AddressAccess on its own: which permission each attach needs, and queue creation. */
function accessFor(rights: AccessRights, existingQueues: string[] = [], maxQueuesPerUser: number | null = null, existingTopics: string[] = [], maxQueues = 10_000) {
  const runtime = {
    state: { queues: new Map(existingQueues.map((name) => [name, {}])) },
    topics: { isTopic: (name: string) => existingTopics.includes(name) },
  } as unknown as BrokerRuntime;
  const limits = new UserLimits({ maxConnectionsPerUser: null, maxQueuesPerUser });
  const access = new AddressAccess(runtime, limits, maxQueues);
  access.grant({ user: 'u', anonymous: false, rights });
  return { access, limits };
}

const source = (distributionMode: string | null): RequestedSource => ({ distributionMode }) as unknown as RequestedSource;

function refusal(action: () => unknown): string {
  try {
    action();
  } catch (error) {
    if (error instanceof AccessRefusedError) return `${error.amqpError.condition}: ${error.amqpError.description}`;
    throw error;
  }
  return 'allowed';
}

const role = (fields: Partial<Record<'send' | 'consume' | 'browse', string[]>>) => ({ send: [], consume: [], browse: [], manage: false, ...fields });

describe('address access', () => {
  test('a browsing receiver (distribution-mode copy) needs browse; any other needs consume', () => {
    const { access } = accessFor(AccessRights.of([role({ browse: ['q'] })]), ['q']);
    expect(refusal(() => access.checkConsumer('q', source('copy')))).toBe('allowed');
    expect(refusal(() => access.checkConsumer('q', source(null)))).toBe('amqp:unauthorized-access: user "u" has no consume permission on "q"');
    expect(refusal(() => access.checkConsumer('q', source('move')))).toContain('no consume permission');
  });

  test('browse alone does not create a queue; consume does, and it is counted', () => {
    const browser = accessFor(AccessRights.of([role({ browse: ['*'] })]));
    expect(refusal(() => browser.access.checkConsumer('new', source('copy')))).toBe(
      'amqp:unauthorized-access: user "u" may not create queue "new" (needs send or consume permission on it)',
    );
    const consumer = accessFor(AccessRights.of([role({ consume: ['*'] })]));
    consumer.access.checkConsumer('new', source(null));
    expect(consumer.limits.queuesCreatedBy('u')).toBe(1);
  });

  test('a subscriber needs consume on the topic, whatever its distribution mode; a new topic and a new durable subscription count as queues', () => {
    const { access, limits } = accessFor(AccessRights.of([role({ consume: ['prices.*'], browse: ['*'] })]), [], 3, ['prices.old']);
    access.checkSubscriber('prices.old', false);
    expect(limits.queuesCreatedBy('u')).toBe(0);
    access.checkSubscriber('prices.new', false);
    expect(limits.queuesCreatedBy('u')).toBe(1);
    access.checkSubscriber('prices.old', true);
    expect(limits.queuesCreatedBy('u')).toBe(2);
    expect(refusal(() => access.checkSubscriber('orders', false))).toBe('amqp:unauthorized-access: user "u" has no consume permission on "orders"');
    expect(refusal(() => access.checkUnsubscribe('orders'))).toBe('amqp:unauthorized-access: user "u" has no consume permission on "orders"');
    expect(refusal(() => access.checkUnsubscribe('prices.old'))).toBe('allowed');
  });

  test('a message to an existing topic creates nothing; to a new one it counts', () => {
    const { access, limits } = accessFor(AccessRights.of([role({ send: ['*'] })]), [], null, ['prices']);
    expect(access.admitMessage('prices', true)).toBeNull();
    expect(limits.queuesCreatedBy('u')).toBe(0);
  });

  test('a connection that never logged in may do nothing', () => {
    const runtime = { state: { queues: new Map() }, topics: { isTopic: () => false } } as unknown as BrokerRuntime;
    const access = new AddressAccess(runtime, new UserLimits({ maxConnectionsPerUser: null, maxQueuesPerUser: null }), 10_000);
    expect(refusal(() => access.checkProducer('q'))).toBe('amqp:unauthorized-access: the connection is not logged in');
    expect(access.admitMessage('q', true)).toEqual({ condition: 'amqp:unauthorized-access', description: 'the connection is not logged in' });
  });

  test('messages on a sender with a fixed target are checked for queue creation only; relayed ones for send too', () => {
    // The sender's own target was checked for send at attach (checkProducer).
    const { access, limits } = accessFor(AccessRights.of([role({ send: ['b*'] })]), [], 1);
    expect(access.admitMessage('b', false)).toBeNull();
    expect(limits.queuesCreatedBy('u')).toBe(1);
    expect(access.admitMessage('b2', false)?.condition).toBe('amqp:resource-limit-exceeded');
    expect(access.admitMessage('c', true)).toEqual({ condition: 'amqp:unauthorized-access', description: 'user "u" has no send permission on "c"' });
  });

  test('maxQueues: a client creates no queue once that many exist, whoever created them; existing ones stay usable', () => {
    const { access, limits } = accessFor(AccessRights.of([role({ send: ['*'], consume: ['*'] })]), ['a', 'b'], null, [], 2);
    const refused = 'amqp:resource-limit-exceeded: the broker has 2 queues (maxQueues); cannot create "c"';
    expect(refusal(() => access.checkConsumer('c', source(null)))).toBe(refused);
    expect(refusal(() => access.checkProducer('c'))).toBe(refused);
    expect(access.admitMessage('c', true)).toEqual({ condition: 'amqp:resource-limit-exceeded', description: refused.slice('amqp:resource-limit-exceeded: '.length) });
    expect(limits.queuesCreatedBy('u')).toBe(0);
    expect(refusal(() => access.checkConsumer('a', source(null)))).toBe('allowed');
    expect(access.admitMessage('b', true)).toBeNull();
  });
});
