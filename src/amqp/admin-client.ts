import { create_container, type Message } from 'rhea';
import { ADMIN_PREFIX } from './admin-link';

/** The broker could not be reached or refused the request; the message says which. */
export class AdminError extends Error {}

export interface AdminTarget {
  readonly host: string;
  readonly port: number;
  readonly timeoutMs: number;
}

/** Reads one admin snapshot (`queues` or `groups/<queue>`) from a running broker. */
export function fetchAdminSnapshot(target: AdminTarget, path: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const connection = create_container({ id: 'convoy-cli' }).connect({ host: target.host, port: target.port, reconnect: false });
    const finish = (error: Error | null, value?: unknown): void => {
      clearTimeout(timer);
      connection.close();
      if (error) reject(error);
      else resolve(value);
    };
    const timer = setTimeout(() => finish(new AdminError(`no answer from ${target.host}:${target.port} within ${target.timeoutMs} ms`)), target.timeoutMs);
    connection.on('disconnected', (ctx) => finish(new AdminError(`cannot reach the broker at ${target.host}:${target.port}: ${String(ctx.error ?? 'disconnected')}`)));
    connection.on('connection_error', () => undefined);
    const receiver = connection.open_receiver({ source: `${ADMIN_PREFIX}${path}`, credit_window: 1 });
    receiver.on('message', (ctx) => {
      try {
        finish(null, JSON.parse(String((ctx.message as Message).body)));
      } catch (error) {
        finish(new AdminError(`unreadable answer from the broker: ${(error as Error).message}`));
      }
    });
    receiver.on('receiver_error', () => {
      const error = receiver.error as { description?: string } | undefined;
      finish(new AdminError(error?.description ?? 'the broker refused the request'));
    });
  });
}
