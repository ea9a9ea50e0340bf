import type { Sender } from 'rhea';
import type { BrokerRuntime } from '../broker/runtime';
import { AddressError } from './address';
import { connectionInternals } from './rhea';

/**
 * Operator views over AMQP itself: a consumer attaching to `$convoy/queues` or `$convoy/groups/<queue>`
 * receives one JSON message with the current state; once the client has settled it, the broker detaches
 * the link. Any AMQP client whose user has `manage` can read it (src/amqp/authorization.ts); `convoy
 * queues` and `convoy groups` do.
 */
export const ADMIN_PREFIX = '$convoy/';

export function isAdminAddress(address: unknown): address is string {
  return typeof address === 'string' && address.startsWith(ADMIN_PREFIX);
}

export function adminSnapshot(runtime: BrokerRuntime, address: string): unknown {
  const path = address.slice(ADMIN_PREFIX.length);
  if (path === 'queues') return { queues: runtime.queueReports(), topics: runtime.topicReports() };
  if (path.startsWith('groups/')) {
    const name = path.slice('groups/'.length);
    const report = runtime.groupReport(name);
    if (!report) throw new AddressError(`no queue named "${name}"`);
    return report;
  }
  throw new AddressError(`unknown admin address "${address}" (known: ${ADMIN_PREFIX}queues, ${ADMIN_PREFIX}groups/<queue>)`);
}

/**
 * Sends the snapshot once the client grants credit, and detaches once the client has settled it. The
 * attach reply is written first: the client's flow often comes in the same read as its attach, and
 * rhea writes a session's transfers before a new link's attach (AMQP 1.0 2.6.3 wants the attach first;
 * Qpid Proton closes the connection with "no such handle"). The detach waits for the settlement, not
 * just the transfer: a detach right behind the transfer reaches a blocking receiver (Qpid Proton's
 * BlockingReceiver) while it is still opening, and it gives up on the link.
 */
export function serveAdminLink(sender: Sender, snapshot: unknown): void {
  connectionInternals(sender.connection)._process();
  let sent = false;
  const send = (): void => {
    if (sent || !sender.sendable()) return;
    sent = true;
    sender.send({ content_type: 'application/json', body: JSON.stringify(snapshot) });
  };
  sender.on('sendable', send);
  sender.on('settled', () => sender.close());
  setImmediate(send);
}
