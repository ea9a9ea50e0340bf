import { startBroker, type RunningBroker } from '../../src/broker/server';
import type { BrokerOptionsInput } from '../../src/config/options';
import type { TestCertificates } from './certificates';
import { captureLog, type CapturedLog } from './log-capture';
import { EXAMPLE_ROLES, writeTestUsers } from './users';

/** An in-process broker (memory store, 127.0.0.1, free port unless `options` say otherwise) whose log the test reads. */
export async function startLoggedBroker(options: BrokerOptionsInput): Promise<{ broker: RunningBroker; log: CapturedLog }> {
  const log = captureLog();
  const broker = await startBroker({ host: '127.0.0.1', port: 0, store: 'memory', http: { port: null }, ...options }, log.logger);
  return { broker, log };
}

/**
 * The broker the interop security suites log in to: users alice (password alice-pw, role app) and robot
 * (client certificate only, role app), the README's example roles, TLS with client certificates
 * verified against the test CA, on every interface (hosts connect as "localhost"), and no login delay
 * so that deliberate failures do not slow the next test down.
 */
export async function startInteropSecurityBroker(certificates: TestCertificates): Promise<{ broker: RunningBroker; log: CapturedLog }> {
  const usersFile = await writeTestUsers({ alice: { password: 'alice-pw', roles: ['app'] }, robot: { password: null, roles: ['app'] } });
  return startLoggedBroker({
    host: '0.0.0.0',
    auth: { usersFile, failedLoginDelayMs: 0, maxFailedLoginDelayMs: 0 },
    roles: EXAMPLE_ROLES,
    tls: { port: 0, ...certificates.server, caFile: certificates.caFile },
  });
}
