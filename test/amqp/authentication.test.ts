import { copyFileSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { RunningBroker } from '../../src/broker/server';
import { encode, performative, RawConnection, SASL_HEADER } from '../support/amqp-frames';
import { makeTestCertificates, type TestCertificates } from '../support/certificates';
import { receive, sendAll } from '../support/client';
import type { CapturedLog } from '../support/log-capture';
import { startLoggedBroker } from '../support/logged-broker';
import { login, nonLoopbackAddress, servedCertificate, tryLogin, type Endpoint, type Login } from '../support/login';
import { EXAMPLE_ROLES, writeTestUsers } from '../support/users';

/**
 * Authentication over real TCP and TLS with rhea clients (README, "Securing Convoy"): the loopback
 * default, PLAIN, SCRAM-SHA-256, ANONYMOUS, EXTERNAL, the login throttle, per-user connection limits,
 * TLS listeners and certificate reload.
 */
let certificates: TestCertificates;
let remoteAddress: string;

beforeAll(() => {
  remoteAddress = nonLoopbackAddress();
  certificates = makeTestCertificates([remoteAddress]);
});

const plain = (user: string, password: string): Login => ({ mechanism: 'PLAIN', user, password });
const scram = (user: string, password: string): Login => ({ mechanism: 'SCRAM-SHA-256', user, password });
const AUTH_FAILED = 'Failed to authenticate: 1';
// SASL performatives (AMQP 1.0 5.3.3).
const SASL_MECHANISMS = 0x40;
const SASL_INIT = 0x41;
const SASL_OUTCOME = 0x44;

function logLines(log: CapturedLog, msg: string): Record<string, unknown>[] {
  return log.lines().filter((line) => line.msg === msg);
}

/** The connection still works: a message goes round trip on the queue. */
async function roundTrip(client: Awaited<ReturnType<typeof login>>, queue: string): Promise<void> {
  const receiver = await client.openReceiver(queue);
  const sender = await client.openSender(queue);
  expect(await sendAll(sender, [{ body: 'ping' }])).toEqual(['accepted']);
  const [got] = await receive(receiver, 1);
  expect(got?.message.body).toBe('ping');
  got!.delivery.accept();
}

describe('without a users file (the secure default)', () => {
  let broker: RunningBroker;
  let log: CapturedLog;

  beforeAll(async () => {
    ({ broker, log } = await startLoggedBroker({ host: '0.0.0.0' }));
  });
  afterAll(() => broker.stop());

  test('the start-up log says which mode is in force', () => {
    const mode = log.lines().find((line) => String(line.msg).startsWith('security:'));
    expect(mode?.msg).toContain('no users file (auth.usersFile): anonymous clients on a loopback address get every permission');
  });

  test('loopback clients get in without credentials (SASL ANONYMOUS, or no SASL at all) with every permission', async () => {
    for (const how of [{ mechanism: 'ANONYMOUS' }, { mechanism: 'none' }] as const) {
      const client = await login({ port: broker.port! }, how);
      await roundTrip(client, `default.${how.mechanism}`);
      await client.openReceiver('$convoy/queues');
      await client.close();
    }
  });

  test('PLAIN credentials of a loopback client are not checked: it is anonymous', async () => {
    const client = await login({ port: broker.port! }, plain('someone', 'anything'));
    await client.close();
    expect(logLines(log, 'login').at(-1)).toMatchObject({ mechanism: 'PLAIN', user: 'anonymous' });
  });

  test('a client on a non-loopback address is refused with a SASL failure; the log says how to add a user', async () => {
    const endpoint: Endpoint = { port: broker.port!, host: remoteAddress };
    const anonymous = await tryLogin(endpoint, { mechanism: 'ANONYMOUS' });
    expect(anonymous).toMatchObject({ ok: false, condition: 'amqp:unauthorized-access', description: AUTH_FAILED });
    const withCredentials = await tryLogin(endpoint, plain('someone', 'anything'));
    expect(withCredentials).toMatchObject({ ok: false, description: AUTH_FAILED });
    const failures = logLines(log, 'login failed');
    expect(failures.length).toBeGreaterThanOrEqual(2);
    for (const failure of failures.slice(-2)) {
      expect(String(failure.remote)).toMatch(new RegExp(`^(::ffff:)?${remoteAddress.replace(/\./g, '\\.')}:\\d+$`));
      expect(failure.reason).toContain('add a user with `convoy users add NAME --roles ROLE` and set auth.usersFile');
    }
    expect(log.text()).not.toContain('anything');
  });

  test('a non-loopback client that skips SASL gets the open closed with amqp:unauthorized-access', async () => {
    const outcome = await tryLogin({ port: broker.port!, host: remoteAddress }, { mechanism: 'none' });
    expect(outcome).toMatchObject({ ok: false, condition: 'amqp:unauthorized-access' });
    expect(logLines(log, 'login failed').at(-1)).toMatchObject({ mechanism: 'none (SASL skipped)' });
  });
});

describe('with a users file', () => {
  let broker: RunningBroker;
  let log: CapturedLog;
  let usersFile: string;

  /** Waits until earlier failures from 127.0.0.1 are forgotten (maxFailedLoginDelayMs without a failure). */
  const forgetFailures = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 850));

  beforeAll(async () => {
    usersFile = await writeTestUsers({ alice: { password: 'alice-pw', roles: ['app'] }, root: { password: 'root-pw', roles: ['admin'] } });
    ({ broker, log } = await startLoggedBroker({
      auth: { usersFile, failedLoginDelayMs: 200, maxFailedLoginDelayMs: 800, maxConnectionsPerUser: 2 },
      roles: EXAMPLE_ROLES,
    }));
  });
  afterAll(() => broker.stop());

  test('the start-up log names the users file and that ANONYMOUS is refused', () => {
    const mode = log.lines().find((line) => String(line.msg).startsWith('security:'));
    expect(mode?.msg).toContain(`users from ${usersFile} (2 users), roles app, admin; ANONYMOUS is refused`);
  });

  test('the broker offers SCRAM-SHA-256, PLAIN and ANONYMOUS, in that order', async () => {
    const outcome = await tryLogin({ port: broker.port! }, { mechanism: 'X-UNSUPPORTED' });
    expect(outcome).toMatchObject({ ok: false, description: 'No suitable mechanism; server supports SCRAM-SHA-256,PLAIN,ANONYMOUS' });
  });

  test('PLAIN and SCRAM-SHA-256 with the right password get in, as that user', async () => {
    for (const how of [plain('alice', 'alice-pw'), scram('alice', 'alice-pw')]) {
      const client = await login({ port: broker.port! }, how);
      await roundTrip(client, 'orders.login');
      await client.close();
      expect(logLines(log, 'login').at(-1)).toMatchObject({ mechanism: how.mechanism, user: 'alice' });
    }
  });

  test('a wrong password or an unknown user gets the SASL outcome auth; the log has the client address, never the password', async () => {
    for (const how of [plain('alice', 'not-alices-pw'), scram('alice', 'not-alices-pw'), plain('mallory', 'guess-1'), scram('mallory', 'guess-2')]) {
      expect(await tryLogin({ port: broker.port! }, how)).toMatchObject({ ok: false, condition: 'amqp:unauthorized-access', description: AUTH_FAILED });
    }
    const failures = logLines(log, 'login failed').slice(-4);
    expect(failures.map((line) => [line.mechanism, line.user, line.reason])).toEqual([
      ['PLAIN', 'alice', 'wrong password for user "alice"'],
      ['SCRAM-SHA-256', 'alice', 'wrong password for user "alice"'],
      ['PLAIN', 'mallory', 'no user "mallory"'],
      ['SCRAM-SHA-256', 'mallory', 'no user "mallory" with a password'],
    ]);
    for (const failure of failures) expect(String(failure.remote)).toMatch(/^127\.0\.0\.1:\d+$/);
    for (const secret of ['not-alices-pw', 'guess-1', 'guess-2', 'alice-pw']) expect(log.text()).not.toContain(secret);
  });

  test('repeated failures from one address are slowed down: each next attempt waits longer', async () => {
    await forgetFailures();
    const elapsed: number[] = [];
    for (let i = 0; i < 3; i++) {
      const started = Date.now();
      expect((await tryLogin({ port: broker.port! }, plain('alice', 'wrong'))).ok).toBe(false);
      elapsed.push(Date.now() - started);
    }
    // failedLoginDelayMs 200: no wait before the first failure; the next attempt is checked 200 ms after
    // it, the third 400 ms (doubled) after the second failure; the wait counts from the failure.
    const [first, second, third] = logLines(log, 'login failed').slice(-3).map((line) => Number(line.delayedMs));
    expect(first).toBe(0);
    expect(second).toBeGreaterThan(100);
    expect(second).toBeLessThanOrEqual(200);
    expect(third).toBeGreaterThan(300);
    expect(third).toBeLessThanOrEqual(400);
    expect(elapsed[1]).toBeGreaterThanOrEqual(second!);
    expect(elapsed[2]).toBeGreaterThanOrEqual(third!);
    // The right password still gets in after its turn (800, the maximum), and forgets the failures.
    const client = await login({ port: broker.port! }, plain('alice', 'alice-pw'));
    expect(Number(logLines(log, 'login').at(-1)?.delayedMs)).toBeGreaterThan(700);
    await client.close();
    expect((await tryLogin({ port: broker.port! }, plain('alice', 'wrong-again'))).ok).toBe(false);
    expect(logLines(log, 'login failed').at(-1)?.delayedMs).toBe(0);
  });

  test('ANONYMOUS is refused when auth.anonymousRole is null, with SASL and without', async () => {
    expect(await tryLogin({ port: broker.port! }, { mechanism: 'ANONYMOUS' })).toMatchObject({ ok: false, description: AUTH_FAILED });
    await forgetFailures();
    expect(await tryLogin({ port: broker.port! }, { mechanism: 'none' })).toMatchObject({ ok: false, condition: 'amqp:unauthorized-access' });
    expect(logLines(log, 'login failed').at(-1)?.reason).toContain('auth.anonymousRole is null');
  });

  test('a user gets at most maxConnectionsPerUser connections: the next open is closed with amqp:resource-limit-exceeded', async () => {
    await forgetFailures();
    const first = await login({ port: broker.port! }, plain('root', 'root-pw'));
    const second = await login({ port: broker.port! }, scram('root', 'root-pw'));
    const third = await tryLogin({ port: broker.port! }, plain('root', 'root-pw'));
    expect(third).toMatchObject({ ok: false, condition: 'amqp:resource-limit-exceeded', description: 'user "root" already has 2 connections (auth.maxConnectionsPerUser)' });
    const other = await login({ port: broker.port! }, plain('alice', 'alice-pw'));
    await first.close();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const again = await login({ port: broker.port! }, plain('root', 'root-pw'));
    await Promise.all([second.close(), other.close(), again.close()]);
  });

  test('users added or changed with the CLI count from the next login, without a restart', async () => {
    await forgetFailures();
    expect((await tryLogin({ port: broker.port! }, plain('carol', 'carol-pw'))).ok).toBe(false);
    await forgetFailures();
    await writeTestUsers(
      { alice: { password: 'alice-new', roles: ['app'] }, root: { password: 'root-pw', roles: ['admin'] }, carol: { password: 'carol-pw', roles: ['app'] } },
      usersFile,
    );
    (await login({ port: broker.port! }, scram('carol', 'carol-pw'))).close();
    (await login({ port: broker.port! }, plain('alice', 'alice-new'))).close();
    expect(logLines(log, 'users file changed: reloaded').at(-1)).toMatchObject({ users: 3 });
  });
});

describe('ANONYMOUS with auth.anonymousRole', () => {
  test('an anonymous client gets exactly that role', async () => {
    const usersFile = await writeTestUsers({ root: { password: 'pw', roles: ['admin'] } });
    const { broker } = await startLoggedBroker({ auth: { usersFile, anonymousRole: 'app' }, roles: EXAMPLE_ROLES });
    try {
      const client = await login({ port: broker.port! }, { mechanism: 'ANONYMOUS' });
      await roundTrip(client, 'orders.anonymous');
      await expect(client.openReceiver('billing')).rejects.toMatchObject({ condition: 'amqp:unauthorized-access' });
      await client.close();
    } finally {
      await broker.stop();
    }
  });
});

describe('TLS', () => {
  test('amqps beside the plain listener: PLAIN and SCRAM-SHA-256 over TLS; the plain port keeps working', async () => {
    const usersFile = await writeTestUsers({ alice: { password: 'alice-pw', roles: ['app'] } });
    const { broker, log } = await startLoggedBroker({
      auth: { usersFile },
      roles: EXAMPLE_ROLES,
      tls: { port: 0, certFile: certificates.server.certFile, keyFile: certificates.server.keyFile },
    });
    try {
      expect(broker.tlsPort).toBeGreaterThan(0);
      expect(log.lines().find((line) => line.msg === 'listening')).toMatchObject({ tlsPort: broker.tlsPort, port: broker.port });
      const tls: Endpoint = { port: broker.tlsPort!, tls: { caFile: certificates.caFile } };
      for (const how of [plain('alice', 'alice-pw'), scram('alice', 'alice-pw')]) {
        const client = await login(tls, how);
        await roundTrip(client, 'orders.tls');
        await client.close();
      }
      expect(await tryLogin(tls, plain('alice', 'wrong'))).toMatchObject({ ok: false, description: AUTH_FAILED });
      (await login({ port: broker.port! }, scram('alice', 'alice-pw'))).close();
    } finally {
      await broker.stop();
    }
  });

  test('port: null turns the plain listener off: only amqps is served', async () => {
    const { broker, log } = await startLoggedBroker({
      port: null,
      tls: { port: 0, certFile: certificates.server.certFile, keyFile: certificates.server.keyFile },
    });
    try {
      expect(broker.port).toBeNull();
      expect(log.lines().find((line) => String(line.msg).startsWith('security:'))).toMatchObject({ plain: 'off', tls: 'on' });
      const client = await login({ port: broker.tlsPort!, tls: { caFile: certificates.caFile } }, { mechanism: 'ANONYMOUS' });
      await roundTrip(client, 'tls.only');
      await client.close();
    } finally {
      await broker.stop();
    }
  });

  test('requireClientCert: SASL EXTERNAL logs in as the certificate subject CN; no or an untrusted certificate fails the handshake', async () => {
    const usersFile = await writeTestUsers({ robot: { password: null, roles: ['app'] }, alice: { password: 'alice-pw', roles: ['app'] } });
    const { broker, log } = await startLoggedBroker({
      port: null,
      auth: { usersFile },
      roles: EXAMPLE_ROLES,
      tls: { port: 0, ...certificates.server, caFile: certificates.caFile, requireClientCert: true },
    });
    try {
      const endpoint = (client?: ReturnType<TestCertificates['client']>): Endpoint => ({ port: broker.tlsPort!, tls: { caFile: certificates.caFile, client } });
      const robot = await login(endpoint(certificates.client('robot')), { mechanism: 'EXTERNAL' });
      await roundTrip(robot, 'orders.robot');
      await robot.close();
      expect(logLines(log, 'login').at(-1)).toMatchObject({ mechanism: 'EXTERNAL', user: 'robot' });

      // A certificate also carries a password login (SCRAM over mutual TLS).
      (await login(endpoint(certificates.client('robot')), scram('alice', 'alice-pw'))).close();

      // Signed by the CA, but its CN is nobody in the users file.
      expect(await tryLogin(endpoint(certificates.client('stranger')), { mechanism: 'EXTERNAL' })).toMatchObject({ ok: false, description: AUTH_FAILED });
      expect(logLines(log, 'login failed').at(-1)).toMatchObject({ mechanism: 'EXTERNAL', reason: 'no user "stranger" (the client certificate\'s subject CN)' });

      expect((await tryLogin(endpoint(), scram('alice', 'alice-pw'))).ok).toBe(false);
      expect((await tryLogin(endpoint(certificates.client('robot', 'untrusted')), { mechanism: 'EXTERNAL' })).ok).toBe(false);
      expect(logLines(log, 'TLS handshake failed').length).toBeGreaterThanOrEqual(2);
    } finally {
      await broker.stop();
    }
  });

  test('reload (SIGHUP) serves new certificates to new connections without dropping open ones', async () => {
    const certFile = `${certificates.dir}/reload.pem`;
    const keyFile = `${certificates.dir}/reload.key`;
    copyFileSync(certificates.server.certFile, certFile);
    copyFileSync(certificates.server.keyFile, keyFile);
    const { broker, log } = await startLoggedBroker({ tls: { port: 0, certFile, keyFile } });
    try {
      const before = await servedCertificate(broker.tlsPort!, certificates.caFile);
      const open = await login({ port: broker.tlsPort!, tls: { caFile: certificates.caFile } }, { mechanism: 'ANONYMOUS' });

      const renewed = certificates.newServer('renewed');
      copyFileSync(renewed.certFile, certFile);
      copyFileSync(renewed.keyFile, keyFile);
      broker.reload();
      const after = await servedCertificate(broker.tlsPort!, certificates.caFile);
      expect(after.fingerprint256).not.toBe(before.fingerprint256);
      expect(logLines(log, 'TLS certificates reloaded: new connections use them')).toHaveLength(1);
      await roundTrip(open, 'tls.reload');

      // A broken file is refused: the previous certificate stays in force.
      rmSync(keyFile);
      broker.reload();
      expect(logLines(log, 'TLS certificates not reloaded: the previous ones stay in force')).toHaveLength(1);
      expect((await servedCertificate(broker.tlsPort!, certificates.caFile)).fingerprint256).toBe(after.fingerprint256);
      await open.close();
    } finally {
      await broker.stop();
    }
  });

  test('unreadable or mismatched TLS files stop the start with a message naming the field', async () => {
    await expect(startLoggedBroker({ tls: { port: 0, certFile: '/nonexistent.pem', keyFile: certificates.server.keyFile } })).rejects.toThrow(
      /tls.certFile: expected a readable PEM file/,
    );
    const other = certificates.client('mismatch');
    await expect(startLoggedBroker({ tls: { port: 0, certFile: certificates.server.certFile, keyFile: other.keyFile } })).rejects.toThrow(
      /invalid configuration: tls: expected certFile, keyFile and caFile holding a certificate, its private key/,
    );
  });
});

describe('a sasl-init naming a mechanism the broker did not offer', () => {
  let broker: RunningBroker;
  let log: CapturedLog;

  beforeAll(async () => {
    ({ broker, log } = await startLoggedBroker({ host: '127.0.0.1', auth: { failedLoginDelayMs: 0 } }));
  });
  afterAll(() => broker.stop());

  // AMQP 1.0 5.3.3.6: the outcome is `auth` (code 1). Names that are members of every JavaScript object
  // once reached rhea's mechanism lookup and closed the connection with an internal error instead.
  for (const mechanism of ['CRAM-MD5', 'toString', '__proto__', 'constructor', 'hasOwnProperty']) {
    test(`"${mechanism}" gets the SASL outcome auth, logged as a failed login; the broker goes on`, async () => {
      const raw = await RawConnection.connect(broker.port!, SASL_HEADER);
      const mechanisms = await raw.next();
      expect(mechanisms.descriptor).toBe(SASL_MECHANISMS);
      raw.sendSasl(performative(SASL_INIT, [encode.symbol(mechanism), encode.binary(Buffer.from('\0guest\0guest'))]));
      const outcome = await raw.next();
      expect(outcome.descriptor).toBe(SASL_OUTCOME);
      expect(outcome.fields[0]).toBe(1);
      raw.close();
      expect(logLines(log, 'login failed').at(-1)).toMatchObject({ mechanism, reason: `SASL mechanism ${mechanism} is not offered` });
      const client = await login({ port: broker.port! }, { mechanism: 'ANONYMOUS' });
      await roundTrip(client, `sasl.unoffered.${mechanism}`);
      await client.close();
    });
  }
});
