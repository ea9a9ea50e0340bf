import { randomUUID } from 'node:crypto';
import type { BrokerRuntime } from '../broker/runtime';
import type { Link } from './connection-links';

const TEMPORARY_PREFIX = 'temp.';

/** A dynamic source or target (AMQP 1.0 3.5.3, 3.5.4) gets a queue, or a temporary topic, with a fresh name. */
export function temporaryQueueName(): string {
  return `${TEMPORARY_PREFIX}${randomUUID()}`;
}

/** Names of temporary queues and topics are the broker's: no client creates one by using the name. */
export function isTemporaryQueueName(queue: string): boolean {
  return queue.startsWith(TEMPORARY_PREFIX);
}

/**
 * The temporary queues of one connection (dynamic sources and targets, AMQP 1.0 3.5.3, 3.5.4): each is
 * owned by the link that asked for it and deleted with its messages when that link is gone (detached,
 * its session ended, its connection closed or lost): the lifetime-policy delete-on-close (3.5.10),
 * which is what Qpid JMS asks for its temporary queues. Names are `temp.<uuid>`; the broker creates no
 * queue of such a name for anyone else (src/amqp/authorization.ts).
 */
export class TemporaryQueues {
  private readonly owned = new Map<Link, string>();

  constructor(private readonly runtime: BrokerRuntime) {}

  /** `link` created `queue`; the queue exists from now on, also before its first message. */
  own(link: Link, queue: string): void {
    this.owned.set(link, queue);
    if (!this.runtime.state.queues.has(queue)) this.runtime.execute({ type: 'declare', queue });
  }

  /** The link is gone: its temporary queue, if it made one, goes with it. */
  released(link: Link): void {
    const queue = this.owned.get(link);
    if (queue === undefined) return;
    this.owned.delete(link);
    this.runtime.deleteQueue(queue);
  }
}
