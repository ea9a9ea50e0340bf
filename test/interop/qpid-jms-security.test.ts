/**
 * Interop: Qpid JMS against the broker's security over TLS (amqps, a PKCS12 trust store the test makes
 * with keytool from a CA it makes with openssl): SCRAM-SHA-256 (Qpid JMS's first choice when offered),
 * PLAIN, EXTERNAL with a client certificate, refusals, and authorisation of consumers, producers and
 * anonymous-producer sends.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningBroker } from '../../src/broker/server';
import { JAVA_STORE_PASSWORD, javaTrustStore, makeTestCertificates, pkcs12KeyStore, type TestCertificates } from '../support/certificates';
import type { CapturedLog } from '../support/log-capture';
import { startInteropSecurityBroker, startLoggedBroker } from '../support/logged-broker';
import { nonLoopbackAddress } from '../support/login';
import { BUILD_TIMEOUT_MS, buildJmsClient, runJmsScenario } from '../support/qpid-jms';

let certificates: TestCertificates;
let trustStore: string;
let broker: RunningBroker;
let log: CapturedLog;

beforeAll(async () => {
  await buildJmsClient();
  certificates = makeTestCertificates();
  trustStore = javaTrustStore(certificates.caFile);
  ({ broker, log } = await startInteropSecurityBroker(certificates));
}, BUILD_TIMEOUT_MS + 30_000);
afterAll(() => broker?.stop());

/** amqps://localhost:PORT with the trust store (the certificate names localhost: Qpid JMS verifies the host). */
function amqps(options = ''): string {
  return `amqps://localhost:${broker.tlsPort}?transport.trustStoreLocation=${trustStore}&transport.trustStorePassword=${JAVA_STORE_PASSWORD}${options}`;
}

const alice = { CONVOY_JMS_USER: 'alice', CONVOY_JMS_PASSWORD: 'alice-pw' };
const lastLogin = (): Record<string, unknown> | undefined => log.lines().filter((line) => line.msg === 'login').at(-1);

describe('Qpid JMS security', () => {
  it('SCRAM-SHA-256 over TLS: what Qpid JMS picks by itself when the broker offers it', async () => {
    await runJmsScenario('security-login', amqps(), alice);
    expect(lastLogin()).toMatchObject({ mechanism: 'SCRAM-SHA-256', user: 'alice' });
  }, 90_000);

  it('PLAIN over TLS (amqp.saslMechanisms=PLAIN)', async () => {
    await runJmsScenario('security-login', amqps('&amqp.saslMechanisms=PLAIN'), alice);
    expect(lastLogin()).toMatchObject({ mechanism: 'PLAIN', user: 'alice' });
  }, 90_000);

  it('EXTERNAL with a client certificate (transport.keyStoreLocation) whose CN is a user', async () => {
    const keyStore = pkcs12KeyStore(certificates.client('robot'));
    await runJmsScenario('security-login', amqps(`&transport.keyStoreLocation=${keyStore}&transport.keyStorePassword=${JAVA_STORE_PASSWORD}&amqp.saslMechanisms=EXTERNAL`));
    expect(lastLogin()).toMatchObject({ mechanism: 'EXTERNAL', user: 'robot' });
  }, 90_000);

  it('a wrong password (SCRAM and PLAIN) and no credentials are refused: a SASL JMSSecurityException', async () => {
    for (const [options, env] of [
      ['', { CONVOY_JMS_USER: 'alice', CONVOY_JMS_PASSWORD: 'guess-9Z' }],
      ['&amqp.saslMechanisms=PLAIN', { CONVOY_JMS_USER: 'alice', CONVOY_JMS_PASSWORD: 'guess-9Z' }],
      ['', {}],
    ] as const) {
      const result = await runJmsScenario('security-refused', amqps(options), env);
      // Qpid JMS's JMSSecurityException for a failed SASL outcome.
      expect(result.exception).toBe('JMSSecuritySaslException');
    }
    const failures = log.lines().filter((line) => line.msg === 'login failed').slice(-3);
    expect(failures.map((line) => [line.mechanism, line.reason])).toEqual([
      ['SCRAM-SHA-256', 'wrong password for user "alice"'],
      ['PLAIN', 'wrong password for user "alice"'],
      ['ANONYMOUS', 'ANONYMOUS is refused (auth.anonymousRole is null): log in with a user name and password'],
    ]);
    expect(log.text()).not.toContain('guess-9Z');
  }, 120_000);

  it('authorisation: consumer, producer and anonymous-producer send outside the role are refused with the permission and address', async () => {
    const result = await runJmsScenario('security-authorization', amqps(), alice);
    const refusal = (text: string) => ({ exception: 'JMSSecurityException', message: `${text} [condition = amqp:unauthorized-access]` });
    expect(result.consumer).toEqual(refusal('user "alice" has no consume permission on "billing.jms"'));
    expect(result.producer).toEqual(refusal('user "alice" has no send permission on "billing.jms"'));
    expect(result.anonymousSend).toMatchObject({ exception: 'JMSSecurityException', message: expect.stringContaining('user "alice" has no send permission on "billing.jms"') });
  }, 90_000);

  it('without a users file: a JMS client from a non-loopback address is refused; on loopback it gets in', async () => {
    const { broker: open, log: openLog } = await startLoggedBroker({ host: '0.0.0.0' });
    try {
      await runJmsScenario('security-login', `amqp://127.0.0.1:${open.port}`);
      const result = await runJmsScenario('security-refused', `amqp://${nonLoopbackAddress()}:${open.port}`);
      expect(result.exception).toBe('JMSSecuritySaslException');
      expect(openLog.lines().filter((line) => line.msg === 'login failed').at(-1)?.reason).toContain('convoy users add NAME --roles ROLE');
    } finally {
      await open.stop();
    }
  }, 120_000);
});
