/**
 * Interop: Qpid Proton Python (Debian python3-qpid-proton) against the broker's security, over TCP
 * and TLS, with certificates this test makes with openssl. Debian's Proton has no Cyrus SASL: it logs
 * in with PLAIN or EXTERNAL (SCRAM-SHA-256 is proven with Qpid JMS and rhea).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningBroker } from '../../src/broker/server';
import { makeTestCertificates, type TestCertificates } from '../support/certificates';
import type { CapturedLog } from '../support/log-capture';
import { startInteropSecurityBroker, startLoggedBroker } from '../support/logged-broker';
import { nonLoopbackAddress } from '../support/login';
import { runPythonScript, TEST_TIMEOUT_MS } from '../support/proton-python';

let certificates: TestCertificates;
let secured: RunningBroker;
let securedLog: CapturedLog;
let open: RunningBroker;
let openLog: CapturedLog;

beforeAll(async () => {
  certificates = makeTestCertificates();
  ({ broker: secured, log: securedLog } = await startInteropSecurityBroker(certificates));
  ({ broker: open, log: openLog } = await startLoggedBroker({ host: '0.0.0.0' }));
});
afterAll(async () => {
  await secured?.stop();
  await open?.stop();
});

const tls = (): string[] => ['--url', `amqps://localhost:${secured.tlsPort}`, '--ca', certificates.caFile];
const lastLogin = (log: CapturedLog): Record<string, unknown> | undefined => log.lines().filter((line) => line.msg === 'login').at(-1);

describe('Qpid Proton Python: logins', () => {
  it('PLAIN over TLS (the broker offers SCRAM-SHA-256 first; Proton picks PLAIN)', async () => {
    await runPythonScript('security.py', [...tls(), '--check', 'login', '--user', 'alice', '--password', 'alice-pw']);
    expect(lastLogin(securedLog)).toMatchObject({ mechanism: 'PLAIN', user: 'alice' });
  }, TEST_TIMEOUT_MS);

  it('PLAIN over plain TCP (allowed by the client only with allow_insecure_mechs)', async () => {
    await runPythonScript('security.py', ['--url', `amqp://127.0.0.1:${secured.port}`, '--check', 'login', '--user', 'alice', '--password', 'alice-pw', '--insecure']);
    expect(lastLogin(securedLog)).toMatchObject({ mechanism: 'PLAIN', user: 'alice' });
  }, TEST_TIMEOUT_MS);

  it('EXTERNAL with a client certificate whose CN is a user', async () => {
    const robot = certificates.client('robot');
    await runPythonScript('security.py', [...tls(), '--check', 'login', '--mechs', 'EXTERNAL', '--cert', robot.certFile, '--key', robot.keyFile]);
    expect(lastLogin(securedLog)).toMatchObject({ mechanism: 'EXTERNAL', user: 'robot' });
  }, TEST_TIMEOUT_MS);

  it('a wrong password, an unknown user and no credentials are refused with amqp:unauthorized-access', async () => {
    for (const credentials of [['--user', 'alice', '--password', 'guess-7Q'], ['--user', 'mallory', '--password', 'x'], []]) {
      const result = await runPythonScript('security.py', [...tls(), '--check', 'refused', ...credentials]);
      expect(String(result.error)).toContain('amqp:unauthorized-access');
    }
    const failures = securedLog.lines().filter((line) => line.msg === 'login failed').slice(-3);
    expect(failures.map((line) => line.reason)).toEqual([
      'wrong password for user "alice"',
      'no user "mallory"',
      'ANONYMOUS is refused (auth.anonymousRole is null): log in with a user name and password',
    ]);
    expect(securedLog.text()).not.toContain('guess-7Q');
  }, TEST_TIMEOUT_MS);

  it('without a users file: anonymous on loopback gets in; from a non-loopback address it is refused', async () => {
    await runPythonScript('security.py', ['--url', `amqp://127.0.0.1:${open.port}`, '--check', 'login', '--queue', 'anything']);
    const result = await runPythonScript('security.py', ['--url', `amqp://${nonLoopbackAddress()}:${open.port}`, '--check', 'refused']);
    expect(String(result.error)).toContain('amqp:unauthorized-access');
    expect(openLog.lines().filter((line) => line.msg === 'login failed').at(-1)?.reason).toContain('convoy users add NAME --roles ROLE');
  }, TEST_TIMEOUT_MS);
});

describe('Qpid Proton Python: authorisation', () => {
  for (const transport of ['tcp', 'tls'] as const) {
    it(`over ${transport}: refused receiver and sender name the permission and address; a relayed message is rejected; the rest goes on`, async () => {
      const url = transport === 'tls' ? tls() : ['--url', `amqp://127.0.0.1:${secured.port}`, '--insecure'];
      const result = await runPythonScript('security.py', [...url, '--check', 'authorization', '--user', 'alice', '--password', 'alice-pw', '--queue', `orders.${transport}`]);
      expect(result.receiver).toEqual({ condition: 'amqp:unauthorized-access', description: 'user "alice" has no consume permission on "billing.python"' });
      expect(result.sender).toEqual({ condition: 'amqp:unauthorized-access', description: 'user "alice" has no send permission on "billing.python"' });
      expect(result.relay).toEqual({ condition: 'amqp:unauthorized-access', description: 'user "alice" has no send permission on "billing.python"' });
    }, TEST_TIMEOUT_MS);
  }
});
