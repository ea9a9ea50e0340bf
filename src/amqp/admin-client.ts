import { isIP } from 'node:net';
import { create_container, type ConnectionOptions, type Message } from 'rhea';
import { ADMIN_PREFIX } from './admin-link';
import { scramClientMechanisms } from './sasl-scram-client';

/** The broker could not be reached or refused the request; the message says which. */
export class AdminError extends Error {}

export interface AdminTarget {
  readonly host: string;
  readonly port: number;
  readonly timeoutMs: number;
  /** Log in with SCRAM-SHA-256 as this user; without it the CLI connects anonymously. */
  readonly credentials?: { readonly user: string; readonly password: string };
  /** Connect with TLS (amqps); `ca` verifies the broker's certificate; `cert`/`key` present a client certificate. */
  readonly tls?: { readonly ca?: Buffer; readonly cert?: Buffer; readonly key?: Buffer };
}

/** Reads one admin snapshot (`queues` or `groups/<queue>`) from a running broker. */
export function fetchAdminSnapshot(target: AdminTarget, path: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const connection = create_container({ id: 'convoy-cli' }).connect(connectionOptions(target));
    const finish = (error: Error | null, value?: unknown): void => {
      clearTimeout(timer);
      connection.close();
      if (error) reject(error);
      else resolve(value);
    };
    const timer = setTimeout(() => finish(new AdminError(`no answer from ${target.host}:${target.port} within ${target.timeoutMs} ms`)), target.timeoutMs);
    connection.on('disconnected', (ctx) => finish(new AdminError(`cannot reach the broker at ${target.host}:${target.port}: ${String(ctx.error ?? 'disconnected')}`)));
    connection.on('connection_error', (ctx) => {
      // A failed SASL login is reported by rhea itself (ctx.error); a close from the broker carries its error.
      const error = (ctx.error ?? ctx.connection.error) as { condition?: string; description?: string; message?: string } | undefined;
      const login = error?.condition === 'amqp:unauthorized-access' ? ' (check --user and its password, or the client certificate)' : '';
      finish(new AdminError(`the broker refused the connection: ${error?.description ?? error?.message ?? 'no reason given'}${login}`));
    });
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

function connectionOptions(target: AdminTarget): ConnectionOptions {
  const options: Record<string, unknown> = { host: target.host, port: target.port, reconnect: false };
  if (target.credentials) options.sasl_mechanisms = scramClientMechanisms(target.credentials.user, target.credentials.password);
  if (target.tls) {
    // SNI carries host names only (RFC 6066): none for an IP address ('' keeps rhea from sending the IP;
    // the certificate is still checked against it).
    const servername = isIP(target.host) ? '' : target.host;
    Object.assign(options, { transport: 'tls', servername, ca: target.tls.ca, cert: target.tls.cert, key: target.tls.key });
    // With a user name the login is SCRAM (over mutual TLS); without one, the certificate's (EXTERNAL).
    if (target.tls.cert && !target.credentials) options.enable_sasl_external = true;
  }
  return options as unknown as ConnectionOptions;
}
