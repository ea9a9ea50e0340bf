import { message as rheaMessage } from 'rhea';
import { describe, expect, test } from 'vitest';
import { outcomeOf } from '../../src/amqp/consumer-link';
import type { Outcome } from '../../src/core/types';

const accepted: Outcome = { type: 'accepted' };
const deliveryFailed: Outcome = { type: 'modified', deliveryFailed: true, undeliverableHere: false };

describe('outcomes (AMQP 1.0 3.4) as rhea reports them', () => {
  test('each terminal outcome maps to its core outcome', () => {
    expect(outcomeOf(rheaMessage.accepted(), deliveryFailed)).toEqual(accepted);
    expect(outcomeOf(rheaMessage.released(), accepted)).toEqual({ type: 'released' });
    expect(outcomeOf(rheaMessage.rejected({}), accepted)).toEqual({ type: 'rejected' });
    expect(outcomeOf(rheaMessage.modified({ delivery_failed: true, undeliverable_here: true }), accepted)).toEqual({
      type: 'modified',
      deliveryFailed: true,
      undeliverableHere: true,
    });
  });

  test('a delivery settled without an outcome takes the default-outcome (Qpid JMS sets modified{delivery-failed})', () => {
    expect(outcomeOf(undefined, deliveryFailed)).toEqual(deliveryFailed);
    expect(outcomeOf(undefined, accepted)).toEqual(accepted);
  });
});
