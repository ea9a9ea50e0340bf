import type { BrokerRuntime } from '../broker/runtime';
import type { AddressPermission } from '../security/access-rights';
import type { Principal } from '../security/authenticator';
import type { UserLimits } from '../security/user-limits';
import type { RequestedSource } from './attach-request';
import { Condition, type AmqpError } from './conditions';
import { isBrowser } from './served-termini';
import { isTemporaryQueueName } from './temporary-queues';

/** A link or message the client's rights or limits do not allow; refused with this error. */
export class AccessRefusedError extends Error {
  constructor(readonly amqpError: AmqpError) {
    super(amqpError.description);
  }
}

/**
 * Authorisation of one connection (README, "Securing Convoy"): every attach, and every message sent
 * through the anonymous relay, is checked against the rights of the client's principal; queues it
 * creates on first use count against its user's maxQueuesPerUser. Refusals name the permission and
 * the address (AMQP 1.0 2.8.15 amqp:unauthorized-access).
 */
export class AddressAccess {
  private principal: Principal | null = null;

  constructor(
    private readonly runtime: BrokerRuntime,
    private readonly limits: UserLimits,
    /** Queues that may exist at once (maxQueues); clients create no more. */
    private readonly maxQueues: number,
    /** Whether a queue exists: on a cluster node, anywhere in the cluster (README, "Cluster"). */
    private readonly queueExists: (queue: string) => boolean = (queue) => this.runtime.state.queues.has(queue),
  ) {}

  /** The client logged in (or was let in without SASL) as `principal`. */
  grant(principal: Principal): void {
    this.principal = principal;
  }

  /** A receiver consuming from `queue`, or browsing it (source distribution-mode `copy`, AMQP 1.0 3.5.3). */
  checkConsumer(queue: string, source: RequestedSource): void {
    this.require(isBrowser(source) ? 'browse' : 'consume', queue);
    this.createIfMissing(queue, source.dynamic);
  }

  /**
   * A receiver subscribing to `topic` needs `consume` on the topic's name, whatever its distribution
   * mode (Qpid JMS asks `copy` for a durable subscription: that is subscribing, not browsing). Creating
   * the topic counts as creating a queue, and so does a new durable subscription (it outlives the link).
   */
  checkSubscriber(topic: string, createsDurableSubscription: boolean, dynamic = false): void {
    this.require('consume', topic);
    this.createIfMissing(topic, dynamic);
    if (createsDurableSubscription) {
      this.checkQueueAllowance(topic, false);
      this.limits.queueCreated(this.loggedIn().user);
    }
  }

  /** Removing a durable subscription of `topic` (JMS unsubscribe) needs `consume` on the topic. */
  checkUnsubscribe(topic: string): void {
    this.require('consume', topic);
  }

  /** The `$convoy/...` operator sources need `manage`. */
  checkAdmin(address: string): void {
    const principal = this.loggedIn();
    if (!principal.rights.manage) throw refused(Condition.unauthorizedAccess, `user "${principal.user}" has no manage permission, needed for "${address}"`);
  }

  /** A sender to `queue` (`dynamic`: a temporary queue it asked for); null is the anonymous relay, checked per message (admitMessage). */
  checkProducer(queue: string | null, dynamic = false): void {
    if (queue === null) return;
    this.require('send', queue);
    if (!this.exists(queue)) this.checkQueueAllowance(queue, dynamic);
  }

  /**
   * One message to `queue`: through the anonymous relay it needs `send` there; creating the queue
   * counts against the allowance. Returns the error to reject it with, or null.
   */
  admitMessage(queue: string, relayed: boolean): AmqpError | null {
    try {
      if (relayed) this.require('send', queue);
      this.createIfMissing(queue, false);
      return null;
    } catch (error) {
      if (error instanceof AccessRefusedError) return error.amqpError;
      throw error;
    }
  }

  private require(permission: AddressPermission, address: string): void {
    const principal = this.loggedIn();
    if (!principal.rights.allows(permission, address)) {
      throw refused(Condition.unauthorizedAccess, `user "${principal.user}" has no ${permission} permission on "${address}"`);
    }
  }

  /** A queue or a topic of that name exists. */
  private exists(name: string): boolean {
    return this.queueExists(name) || this.runtime.topics.isTopic(name);
  }

  /** Creating a queue or topic on first use needs `send` or `consume` on its name, and the user's allowance. */
  private createIfMissing(queue: string, dynamic: boolean): void {
    if (this.exists(queue)) return;
    const principal = this.loggedIn();
    if (!principal.rights.mayCreateQueue(queue)) {
      throw refused(Condition.unauthorizedAccess, `user "${principal.user}" may not create queue "${queue}" (needs send or consume permission on it)`);
    }
    this.checkQueueAllowance(queue, dynamic);
    this.limits.queueCreated(principal.user);
  }

  /**
   * Whether a client may create `queue` now: maxQueues, the user's maxQueuesPerUser, and only a dynamic
   * terminus names a temporary queue (one that is gone stays gone: amqp:not-found).
   */
  private checkQueueAllowance(queue: string, dynamic: boolean): void {
    if (!dynamic && isTemporaryQueueName(queue)) {
      throw refused(Condition.notFound, `temporary queue "${queue}" does not exist (it is deleted with the link that created it)`);
    }
    const principal = this.loggedIn();
    const queues = this.runtime.state.queues.size;
    if (queues >= this.maxQueues) throw refused(Condition.resourceLimitExceeded, `the broker has ${queues} queues (maxQueues); cannot create "${queue}"`);
    if (!this.limits.mayCreateQueue(principal.user)) {
      throw refused(
        Condition.resourceLimitExceeded,
        `user "${principal.user}" has created ${this.limits.queuesCreatedBy(principal.user)} queues (auth.maxQueuesPerUser); cannot create "${queue}"`,
      );
    }
  }

  private loggedIn(): Principal {
    if (!this.principal) throw refused(Condition.unauthorizedAccess, 'the connection is not logged in');
    return this.principal;
  }
}

function refused(condition: string, description: string): AccessRefusedError {
  return new AccessRefusedError({ condition, description });
}
