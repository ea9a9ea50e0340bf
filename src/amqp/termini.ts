import { randomUUID } from 'node:crypto';
import type { Receiver, Sender } from 'rhea';
import type { Logger } from '../broker/logger';
import { AddressError } from './address';
import { Condition, type AmqpError } from './conditions';
import { linkInternals } from './rhea';

/** A dynamic source or target (AMQP 1.0 3.5.3, 3.5.4) gets a queue with a fresh name. */
export function temporaryQueueName(): string {
  return `temp.${randomUUID()}`;
}

/** Encodes a terminus as rhea does for its own links (described source/target, AMQP 1.0 3.5.3/3.5.4). */
export function setTerminus(link: Sender | Receiver, which: 'source' | 'target', fields: unknown): void {
  const settable = link as unknown as { set_source(fields: unknown): void; set_target(fields: unknown): void };
  if (fields === null || fields === undefined) linkInternals(link).local.attach[which] = null;
  else if (which === 'source') settable.set_source(fields);
  else settable.set_target(fields);
}

/** Refuses a link: null terminus in the attach reply, then a detach with the error (AMQP 1.0 2.6.3). */
export function refuseLink(link: Sender | Receiver, error: unknown, logger: Logger): void {
  const amqpError: AmqpError =
    error instanceof AddressError
      ? { condition: Condition.invalidField, description: error.message }
      : { condition: Condition.internalError, description: (error as Error).message ?? String(error) };
  if (!(error instanceof AddressError)) logger.error({ err: error }, 'link refused after an internal error');
  else logger.info({ link: link.name, reason: amqpError.description }, 'link refused');
  const internals = linkInternals(link);
  internals.local.attach.source = null;
  internals.local.attach.target = null;
  link.close(amqpError);
}
