import type { Receiver, Sender } from 'rhea';
import type { Logger } from '../broker/logger';
import { NodeKindError, SubscriptionError, type SubscriptionRefusal } from '../broker/topics';
import { AddressError } from './address';
import { AccessRefusedError } from './authorization';
import { Condition, type AmqpError } from './conditions';
import { linkInternals } from './rhea';

/** Something a client asked for that the broker does not do (yet): refuses the link with amqp:not-implemented. */
export class NotImplementedError extends Error {}

/**
 * Refuses a link: null terminus in the attach reply, then a detach with the error (AMQP 1.0 2.6.3).
 * Nothing else on the connection changes.
 */
export function refuseLink(link: Sender | Receiver, error: unknown, logger: Logger): void {
  const amqpError = refusalOf(error);
  if (amqpError.condition === Condition.internalError) logger.error({ err: error }, 'link refused after an internal error');
  else logger.info({ link: link.name, condition: amqpError.condition, reason: amqpError.description }, 'link refused');
  const internals = linkInternals(link);
  internals.local.attach.source = null;
  internals.local.attach.target = null;
  link.close(amqpError);
}

/**
 * AMQP 1.0 2.8.15 conditions for a subscription that cannot be served. Qpid JMS raises amqp:not-found
 * as InvalidDestinationException (an unknown subscription, a topic that is a queue), the others as
 * JMSException.
 */
const SUBSCRIPTION_CONDITIONS: Record<SubscriptionRefusal, string> = {
  'not-found': Condition.notFound,
  'in-use': Condition.resourceLocked,
  'not-allowed': Condition.notAllowed,
};

export function refusalOf(error: unknown): AmqpError {
  if (error instanceof AddressError) return { condition: Condition.invalidField, description: error.message };
  if (error instanceof NotImplementedError) return { condition: Condition.notImplemented, description: error.message };
  if (error instanceof AccessRefusedError) return error.amqpError;
  if (error instanceof NodeKindError) return { condition: Condition.notFound, description: error.message };
  if (error instanceof SubscriptionError) return { condition: SUBSCRIPTION_CONDITIONS[error.refusal], description: error.message };
  return { condition: Condition.internalError, description: (error as Error).message ?? String(error) };
}
