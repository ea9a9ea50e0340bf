import { describe, expect, test } from 'vitest';
import { subscriptionNameOf, unsubscribeCandidates } from '../../src/amqp/subscription-names';

/** Qpid JMS's link names for subscriptions (AmqpSubscriptionTracker) and the subscription each names. */
describe('subscription names from link names', () => {
  test.each([
    ['audit', true, 'audit'],
    ['audit|2', true, 'audit'],
    ['audit|17', true, 'audit'],
    ['audit|global', true, 'audit'],
    ['audit|global3', true, 'audit'],
    ['audit|volatile1', true, 'audit'],
    ['audit|global-volatile2', true, 'audit'],
    // Only Qpid JMS's numbering is taken off, and only for a shared subscription.
    ['audit|volatile', true, 'audit|volatile'],
    ['a|b', true, 'a|b'],
    ['audit|2', false, 'audit|2'],
  ])('%s (shared: %s) -> %s', (link, shared, name) => {
    expect(subscriptionNameOf(link, shared)).toBe(name);
  });

  test('unsubscribe looks for the client\'s subscription first, then a global one', () => {
    expect(unsubscribeCandidates('audit', 'app')).toEqual([
      { clientId: 'app', name: 'audit' },
      { clientId: null, name: 'audit' },
    ]);
    expect(unsubscribeCandidates('audit|global', 'ID:123')).toEqual([
      { clientId: 'ID:123', name: 'audit|global' },
      { clientId: null, name: 'audit' },
      { clientId: null, name: 'audit|global' },
    ]);
  });
});
