import type { Sender } from 'rhea';
import type { BrokerRuntime } from '../broker/runtime';
import { AddressError } from './address';

/**
 * Operator views over AMQP itself: a consumer attaching to `$convoy/queues` or `$convoy/groups/<queue>`
 * receives one JSON message with the current state, then the broker closes the link. Any AMQP client
 * whose user has `manage` can read it (src/amqp/authorization.ts); `convoy queues` and `convoy groups` do.
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

/** Sends the snapshot once the client grants credit, then detaches. */
export function serveAdminLink(sender: Sender, snapshot: unknown): void {
  let sent = false;
  const send = (): void => {
    if (sent || !sender.sendable()) return;
    sent = true;
    sender.send({ content_type: 'application/json', body: JSON.stringify(snapshot) });
    sender.close();
  };
  sender.on('sendable', send);
  setImmediate(send);
}
