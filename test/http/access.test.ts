import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { RunningBroker } from '../../src/broker/server';
import { resolveBrokerOptions } from '../../src/config/options';
import { startTestBroker } from '../support/broker';
import { makeTestCertificates } from '../support/certificates';
import { httpCall } from '../support/http';
import { nonLoopbackAddress } from '../support/login';
import { EXAMPLE_ROLES, writeTestUsers } from '../support/users';

/** README "Watching Convoy", access: the rules of AMQP, over HTTP. */
describe('HTTP access with users configured, over HTTPS', () => {
  let broker: RunningBroker;
  let ca: Buffer;

  beforeAll(async () => {
    const certificates = makeTestCertificates();
    ca = readFileSync(certificates.caFile);
    const usersFile = await writeTestUsers({ ops: { password: 'ops-secret', roles: ['admin'] }, alice: { password: 'alice-secret', roles: ['app'] } });
    broker = await startTestBroker({
      http: { port: 0 },
      auth: { usersFile, failedLoginDelayMs: 300, maxFailedLoginDelayMs: 1000 },
      roles: EXAMPLE_ROLES,
      tls: { port: 0, certFile: certificates.server.certFile, keyFile: certificates.server.keyFile },
    });
  });

  afterAll(async () => {
    await broker.stop();
  });

  const call = (path: string, extra: Partial<Parameters<typeof httpCall>[0]> = {}) =>
    httpCall({ port: broker.httpPort!, path, ca, host: 'localhost', ...extra });

  test('the API, the metrics and the console need a user with manage: HTTP Basic', async () => {
    const anonymous = await call('/api/queues');
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers['www-authenticate']).toContain('Basic');
    expect((await call('/metrics')).status).toBe(401);
    expect((await call('/api/queues', { auth: { user: 'ops', password: 'ops-secret' } })).status).toBe(200);
    expect((await call('/metrics', { auth: { user: 'ops', password: 'ops-secret' } })).status).toBe(200);
    const noManage = await call('/api/queues', { auth: { user: 'alice', password: 'alice-secret' } });
    expect(noManage.status).toBe(403);
    expect(noManage.json.error).toContain('no manage permission');
  });

  test('a console session: login sets an HttpOnly, SameSite=Strict, Secure cookie; logout ends it', async () => {
    const console = { 'x-convoy-console': '1' };
    const before = await call('/api/overview', { headers: console });
    expect(before.status).toBe(401);
    expect(before.headers['www-authenticate']).toBeUndefined();
    const login = await call('/api/login', { body: { user: 'ops', password: 'ops-secret' }, headers: console });
    expect(login.status, login.text).toBe(200);
    const setCookie = String(login.headers['set-cookie']);
    expect(setCookie).toMatch(/^convoy_session=[\w-]{43}; HttpOnly; SameSite=Strict; Path=\/; Secure$/);
    const cookie = setCookie.split(';')[0]!;
    const overview = await call('/api/overview', { headers: { ...console, cookie } });
    expect(overview.status).toBe(200);
    expect(overview.json.user).toBe('ops');
    expect((await call('/api/logout', { body: {}, headers: { ...console, cookie } })).status).toBe(200);
    expect((await call('/api/overview', { headers: { ...console, cookie } })).status).toBe(401);
    expect((await call('/api/overview', { headers: { ...console, cookie: 'convoy_session=made-up' } })).status).toBe(401);
  });

  test('a wrong password is refused, and the next attempt from that address waits (the AMQP login throttle)', async () => {
    const wrong = await call('/api/login', { body: { user: 'ops', password: 'nope' } });
    expect(wrong.status).toBe(401);
    const started = Date.now();
    expect((await call('/api/queues', { auth: { user: 'ops', password: 'ops-secret' } })).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
  });
});

describe('HTTP access with users configured, plain HTTP', () => {
  let broker: RunningBroker;
  const remote = nonLoopbackAddress();

  beforeAll(async () => {
    const usersFile = await writeTestUsers({ ops: { password: 'ops-secret', roles: ['admin'] } });
    broker = await startTestBroker({ host: '0.0.0.0', http: { port: 0, host: '0.0.0.0' }, auth: { usersFile }, roles: EXAMPLE_ROLES });
  });

  afterAll(async () => {
    await broker.stop();
  });

  test('passwords are taken from a loopback client only: nothing crosses the network in clear', async () => {
    const auth = { user: 'ops', password: 'ops-secret' };
    expect((await httpCall({ port: broker.httpPort!, path: '/api/queues', auth })).status).toBe(200);
    const fromNetwork = await httpCall({ port: broker.httpPort!, path: '/api/queues', auth, host: remote, localAddress: remote });
    expect(fromNetwork.status).toBe(403);
    expect(fromNetwork.json.error).toContain('HTTPS');
  });
});

describe('HTTP access without users', () => {
  let broker: RunningBroker;
  const remote = nonLoopbackAddress();

  beforeAll(async () => {
    broker = await startTestBroker({ host: '0.0.0.0', http: { port: 0, host: '0.0.0.0' } });
  });

  afterAll(async () => {
    await broker.stop();
  });

  test('loopback clients only, as for AMQP; the refusal says how to add a user', async () => {
    expect((await httpCall({ port: broker.httpPort!, path: '/api/queues' })).status).toBe(200);
    const fromNetwork = await httpCall({ port: broker.httpPort!, path: '/api/queues', host: remote, localAddress: remote });
    expect(fromNetwork.status).toBe(403);
    expect(fromNetwork.json.error).toContain('convoy users add');
    expect((await httpCall({ port: broker.httpPort!, path: '/', host: remote, localAddress: remote })).status).toBe(403);
  });
});

describe('HTTP listener options', () => {
  test('on by default on 127.0.0.1:8161; http.port null turns the listener off; layers merge key by key', async () => {
    expect(resolveBrokerOptions({}).http).toMatchObject({ host: '127.0.0.1', port: 8161 });
    expect(resolveBrokerOptions({ http: { host: '0.0.0.0' } }, { http: { port: 9000 } }).http).toMatchObject({ host: '0.0.0.0', port: 9000 });
    const off = await startTestBroker({ http: { port: null } });
    expect(off.httpPort).toBeNull();
    await off.stop();
  });

  test('a port in use stops the start with a message naming http.port and the ways out', async () => {
    const first = await startTestBroker({ http: { port: 0 } });
    try {
      await expect(startTestBroker({ http: { port: first.httpPort! } })).rejects.toThrow(
        `invalid configuration: http.port: expected a port no other program listens on (127.0.0.1:${first.httpPort} is in use)`,
      );
    } finally {
      await first.stop();
    }
  });

  test('a bad http option stops the start with a message naming the field', async () => {
    await expect(startTestBroker({ http: { port: 'high' as unknown as number } })).rejects.toThrow('http.port');
    await expect(startTestBroker({ http: { colour: 1 } as never })).rejects.toThrow('http.colour');
  });
});
