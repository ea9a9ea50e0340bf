import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { connect as tlsConnect, type PeerCertificate, type TLSSocket } from 'node:tls';
import { create_container, sasl, type ConnectionOptions } from 'rhea';
import { scramClientMechanisms } from '../../src/amqp/sasl-scram-client';
import type { KeyPair } from './certificates';
import { clientOf, type TestClient } from './client';

/** How a test client logs in. */
export type Login =
  | { readonly mechanism: 'PLAIN' | 'SCRAM-SHA-256'; readonly user: string; readonly password: string }
  | { readonly mechanism: 'ANONYMOUS' }
  | { readonly mechanism: 'none' }
  | { readonly mechanism: 'EXTERNAL' }
  /** A mechanism no broker offers: rhea's failure then lists the ones the broker does. */
  | { readonly mechanism: 'X-UNSUPPORTED' };

export interface Endpoint {
  readonly port: number;
  readonly host?: string;
  /** Connect with TLS, trusting this CA file; optionally presenting a client certificate. */
  readonly tls?: { readonly caFile: string; readonly client?: KeyPair };
}

/** rhea connection options for `login` at `endpoint`. */
export function loginOptions(endpoint: Endpoint, login: Login): Partial<ConnectionOptions> {
  const options: Record<string, unknown> = { host: endpoint.host ?? '127.0.0.1', port: endpoint.port };
  if (endpoint.tls) {
    // The test certificates name localhost (and the IP addresses); SNI takes host names only (RFC 6066).
    Object.assign(options, { transport: 'tls', ca: readFileSync(endpoint.tls.caFile), servername: 'localhost' });
    if (endpoint.tls.client) Object.assign(options, { cert: readFileSync(endpoint.tls.client.certFile), key: readFileSync(endpoint.tls.client.keyFile) });
  }
  switch (login.mechanism) {
    case 'PLAIN':
      return { ...options, username: login.user, password: login.password };
    case 'SCRAM-SHA-256':
      return { ...options, sasl_mechanisms: scramClientMechanisms(login.user, login.password) } as never;
    case 'ANONYMOUS': {
      const mechanisms = sasl.client_mechanisms();
      mechanisms.enable_anonymous('test');
      return { ...options, sasl_mechanisms: mechanisms } as never;
    }
    case 'EXTERNAL':
      return { ...options, enable_sasl_external: true } as never;
    case 'none':
      return { ...options, sasl: { enabled: false } } as never;
    case 'X-UNSUPPORTED':
      return { ...options, sasl_mechanisms: { 'X-UNSUPPORTED': () => ({}) } } as never;
  }
}

export type LoginOutcome = { readonly ok: true; readonly client: TestClient } | { readonly ok: false; readonly condition?: string; readonly description: string };

/**
 * Logs in and reports how it went: in (the connection is open and stays open past the broker's
 * answer), or refused with the error rhea reports: a failed SASL outcome (its text carries the
 * outcome code, AMQP 1.0 5.3.3.6: 1 = auth), or the broker's close right after its open.
 */
export function tryLogin(endpoint: Endpoint, how: Login): Promise<LoginOutcome> {
  const connection = create_container().connect({ reconnect: false, ...loginOptions(endpoint, how) } as ConnectionOptions);
  let reported: { condition?: string; description?: string; message?: string } | undefined;
  connection.on('connection_error', (ctx) => {
    reported ??= (ctx.error ?? ctx.connection.error) as typeof reported;
  });
  connection.on('error', () => undefined);
  connection.on('disconnected', () => undefined);
  return new Promise((resolve) => {
    const refused = (): void => resolve({ ok: false, condition: reported?.condition, description: reported?.description ?? reported?.message ?? 'disconnected' });
    connection.once('disconnected', refused);
    connection.once('connection_open', () => {
      // A refused open is answered with open and close in one write: both are read before this timer.
      setTimeout(() => {
        if (reported || !connection.is_open()) {
          connection.removeListener('disconnected', refused);
          connection.close();
          refused();
        } else {
          connection.removeListener('disconnected', refused);
          resolve({ ok: true, client: clientOf(connection) });
        }
      }, 50);
    });
  });
}

/** Logs in, failing the test when refused. */
export async function login(endpoint: Endpoint, how: Login): Promise<TestClient> {
  const outcome = await tryLogin(endpoint, how);
  if (!outcome.ok) throw new Error(`login ${how.mechanism} refused: ${outcome.condition ?? ''} ${outcome.description}`);
  return outcome.client;
}

/** A non-loopback IPv4 address of this machine, to connect from "another host". */
export function nonLoopbackAddress(): string {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const address of addresses ?? []) if (!address.internal && address.family === 'IPv4') return address.address;
  }
  throw new Error('this machine has no non-loopback IPv4 address: the non-loopback refusal test needs one (an interface besides lo)');
}

/** The certificate the TLS listener presents to a new connection. */
export function servedCertificate(port: number, caFile: string): Promise<PeerCertificate> {
  return new Promise((resolve, reject) => {
    const socket: TLSSocket = tlsConnect({ host: '127.0.0.1', port, ca: readFileSync(caFile) }, () => {
      resolve(socket.getPeerCertificate());
      socket.destroy();
    });
    socket.on('error', reject);
  });
}
