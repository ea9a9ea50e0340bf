import type { Receiver, Sender, Session } from 'rhea';
import { Condition, type AmqpError } from './conditions';
import type { ConnectionContext } from './connection-context';
import type { LinkEnd } from './consumer-link';

export type Link = Sender | Receiver;

export interface LinkLimits {
  readonly maxLinksPerSession: number;
  readonly maxLinksPerConnection: number;
}

/**
 * The links a client has attached on one connection, by session: what maxLinksPerSession and
 * maxLinksPerConnection count, and what goes when a session ends. Every operation is O(1) in the
 * number of links (except ending a session, which touches that session's links once).
 */
export class ConnectionLinks {
  private readonly bySession = new Map<Session, Set<Link>>();
  private count = 0;

  constructor(private readonly limits: LinkLimits) {}

  get size(): number {
    return this.count;
  }

  /** Counts a link the client attached; returns the error to refuse it with when a limit is reached. */
  admit(link: Link): AmqpError | null {
    const links = this.bySession.get(link.session);
    const inSession = links?.size ?? 0;
    if (inSession >= this.limits.maxLinksPerSession) {
      return { condition: Condition.resourceLimitExceeded, description: `the session has ${inSession} links (maxLinksPerSession)` };
    }
    if (this.count >= this.limits.maxLinksPerConnection) {
      return { condition: Condition.resourceLimitExceeded, description: `the connection has ${this.count} links (maxLinksPerConnection)` };
    }
    if (links) links.add(link);
    else this.bySession.set(link.session, new Set([link]));
    this.count++;
    return null;
  }

  /** The link is detached; true when it was counted. */
  remove(link: Link): boolean {
    const links = this.bySession.get(link.session);
    if (!links?.delete(link)) return false;
    this.count--;
    if (links.size === 0) this.bySession.delete(link.session);
    return true;
  }

  /** The session ended: its links, no longer counted. */
  removeSession(session: Session): Link[] {
    const links = this.bySession.get(session);
    if (!links) return [];
    this.bySession.delete(session);
    this.count -= links.size;
    return [...links];
  }

  /** The connection is gone: every link, no longer counted. */
  removeAll(): Link[] {
    const all = [...this.bySession.values()].flatMap((links) => [...links]);
    this.bySession.clear();
    this.count = 0;
    return all;
  }
}

/**
 * Links that are gone (detached, their session ended, their connection closed): consumers first, so
 * that their unsettled messages go back before their transaction coordinators stop; then producers and
 * coordinators; last, the temporary queues the links created are deleted, with what came back to them.
 * `end` tells a consumer's backend whether the client detached or its session or connection went.
 */
export function forgetLinks(context: ConnectionContext, links: readonly Link[], end: LinkEnd = 'detached'): void {
  for (const link of links) {
    const consumer = context.consumers.get(link as Sender);
    if (!consumer) continue;
    consumer.close(end);
    context.consumers.delete(link as Sender);
  }
  for (const link of links) {
    context.producers.get(link as Receiver)?.close();
    context.producers.delete(link as Receiver);
    context.coordinators.get(link as Receiver)?.close();
    context.coordinators.delete(link as Receiver);
  }
  for (const link of links) context.temporaryQueues.released(link);
}
