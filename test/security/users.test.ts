import { mkdtempSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { Authenticator } from '../../src/security/authenticator';
import { MIN_SCRAM_ITERATIONS, ScramClientExchange, ScramServerExchange, deriveScramCredentials } from '../../src/security/scram';
import { UserDirectory } from '../../src/security/user-directory';
import { UserLimits } from '../../src/security/user-limits';
import { parseUsers, readUsersFile, serializeUsers, writeUsersFile } from '../../src/security/users-file';
import { EXAMPLE_ROLES, writeTestUsers } from '../support/users';

const tempPath = (name = 'users.json'): string => join(mkdtempSync(join(tmpdir(), 'convoy-users-test-')), name);

function quietDirectory(path: string, roles = Object.keys(EXAMPLE_ROLES)) {
  const events = { reloaded: [] as number[], failed: [] as string[] };
  const directory = UserDirectory.load(path, new Set(roles), {
    reloaded: (users) => events.reloaded.push(users),
    reloadFailed: (error) => events.failed.push(error.message),
  });
  return { directory, events };
}

describe('users file', () => {
  test('round trip: written atomically, owner-only, no password in it, read back equal', async () => {
    const path = tempPath();
    const scram = await deriveScramCredentials('s3cret-Pa55', MIN_SCRAM_ITERATIONS);
    writeUsersFile(path, new Map([['alice', { roles: ['app'], scramSha256: scram }], ['cert-only', { roles: ['admin'], scramSha256: null }]]));
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const text = readFileSync(path, 'utf8');
    expect(text).not.toContain('s3cret-Pa55');
    expect(JSON.parse(text).version).toBe(1);
    const users = readUsersFile(path);
    expect(users.get('alice')?.roles).toEqual(['app']);
    expect(users.get('alice')?.scramSha256?.storedKey.equals(scram.storedKey)).toBe(true);
    expect(users.get('cert-only')?.scramSha256).toBeNull();
    expect(serializeUsers(users)).toBe(text);
  });

  test('a user named __proto__ is an ordinary user', async () => {
    const path = await writeTestUsers(JSON.parse('{ "__proto__": { "password": "x", "roles": ["app"] } }'));
    expect([...readUsersFile(path).keys()]).toEqual(['__proto__']);
  });

  test('every problem names the file and the field', () => {
    const scram = { salt: 'c2FsdA==', iterations: 4096, storedKey: Buffer.alloc(32).toString('base64'), serverKey: Buffer.alloc(32).toString('base64') };
    const bad = (users: unknown, version: unknown = 1) => () => parseUsers({ version, users }, 'u.json');
    expect(bad({}, 2)).toThrow('u.json: version: expected 1, got 2');
    expect(bad({ alice: { roles: 'app', scramSha256: scram } })).toThrow('u.json: users["alice"].roles: expected an array of role names');
    expect(bad({ alice: { roles: ['app'], scramSha256: { ...scram, iterations: 10 } } })).toThrow(
      'u.json: users["alice"].scramSha256.iterations: expected an integer from 4096',
    );
    expect(bad({ alice: { roles: ['app'], scramSha256: { ...scram, storedKey: 'AAAA' } } })).toThrow('u.json: users["alice"].scramSha256.storedKey: expected base64 of 32 bytes');
    expect(bad({ anonymous: { roles: ['app'], scramSha256: scram } })).toThrow('u.json: users["anonymous"]: expected a user name of a name other than "anonymous"');
    expect(bad({ 'a\nb': { roles: ['app'], scramSha256: scram } })).toThrow('no control characters');
  });

  test('at start: a missing file, or a user with a role the configuration does not define, stops the start', async () => {
    expect(() => quietDirectory(tempPath('missing.json'))).toThrow(/auth.usersFile: expected an existing users file \(create it with `convoy users add/);
    const path = await writeTestUsers({ alice: { password: 'pw', roles: ['app', 'ops'] } });
    expect(() => quietDirectory(path)).toThrow(`${path}: users["alice"].roles: expected roles defined in the configuration's roles (app, admin), got "ops"`);
  });

  test('a changed file is read again at the next lookup; a broken one keeps the previous users and is reported once', async () => {
    const path = await writeTestUsers({ alice: { password: 'pw', roles: ['app'] } });
    const { directory, events } = quietDirectory(path);
    expect(await directory.lookup('bob')).toBeUndefined();
    await writeTestUsers({ alice: { password: 'pw', roles: ['app'] }, bob: { password: 'pw2', roles: ['admin'] } }, path);
    expect((await directory.lookup('bob'))?.roles).toEqual(['admin']);
    expect(events.reloaded).toEqual([2]);

    writeFileSync(path, '{ broken');
    utimesSync(path, new Date(), new Date(Date.now() + 5000));
    expect((await directory.lookup('bob'))?.roles).toEqual(['admin']);
    expect(await directory.lookup('bob')).toBeDefined();
    expect(events.failed).toHaveLength(1);
    expect(events.failed[0]).toContain('valid JSON');
  });
});

describe('authenticator', () => {
  test('without a users file: loopback clients are anonymous with every permission, others are refused with how to add users', async () => {
    const auth = new Authenticator(null, {}, { anonymousRole: null });
    expect(auth.mechanisms(false)).toEqual(['PLAIN', 'ANONYMOUS']);
    const local = auth.anonymous('127.0.0.1');
    expect(local.ok && local.principal.rights.manage && local.principal.anonymous).toBe(true);
    const remote = auth.anonymous('192.0.2.2');
    expect(remote.ok).toBe(false);
    expect(!remote.ok && remote.reason).toContain('convoy users add NAME --roles ROLE');
    const plain = await auth.plain('whoever', 'whatever', '::1');
    expect(plain.ok && plain.principal.user).toBe('anonymous');
    expect((await auth.plain('whoever', 'whatever', '192.0.2.2')).ok).toBe(false);
    expect(auth.describeMode()).toContain('no users file');
  });

  test('with a users file: PLAIN and SCRAM are checked; ANONYMOUS follows auth.anonymousRole; EXTERNAL takes the certificate CN', async () => {
    const path = await writeTestUsers({ alice: { password: 'pw', roles: ['app'] }, robot: { password: null, roles: ['admin'] } });
    const { directory } = quietDirectory(path);
    const refusing = new Authenticator(directory, EXAMPLE_ROLES, { anonymousRole: null });
    expect(refusing.mechanisms(false)).toEqual(['SCRAM-SHA-256', 'PLAIN', 'ANONYMOUS']);
    expect(refusing.mechanisms(true)).toEqual(['EXTERNAL', 'SCRAM-SHA-256', 'PLAIN', 'ANONYMOUS']);
    expect(refusing.anonymous('127.0.0.1').ok).toBe(false);

    const ok = await refusing.plain('alice', 'pw', '192.0.2.2');
    expect(ok.ok && ok.principal.rights.allows('send', 'orders.1') && !ok.principal.rights.allows('send', 'billing')).toBe(true);
    const wrong = await refusing.plain('alice', 'nope', '127.0.0.1');
    expect(!wrong.ok && wrong.reason).toBe('wrong password for user "alice"');
    expect(await refusing.plain('nobody', 'pw', '127.0.0.1')).toEqual({ ok: false, reason: 'no user "nobody"' });
    expect((await refusing.plain('robot', '', '127.0.0.1')).ok).toBe(false);

    const scram = async (user: string, password: string) => {
      const login = await refusing.scramLogin(user);
      const server = new ScramServerExchange();
      const client = new ScramClientExchange(user, password);
      server.receiveClientFirst(client.clientFirstMessage());
      const serverFinal = server.receiveClientFinal(await client.clientFinalMessage(server.serverFirstMessage(login.credentials)));
      return refusing.scramResult(login, serverFinal !== null);
    };
    expect((await scram('alice', 'pw')).ok).toBe(true);
    expect((await scram('alice', 'bad')).ok).toBe(false);
    expect(await scram('ghost', 'pw')).toEqual({ ok: false, reason: 'no user "ghost" with a password' });
    // An unknown user gets the same salt every time, as a real one would.
    expect((await refusing.scramLogin('ghost')).credentials.salt.equals((await refusing.scramLogin('ghost')).credentials.salt)).toBe(true);

    const external = await refusing.external('robot', '');
    expect(external.ok && external.principal.rights.manage).toBe(true);
    expect((await refusing.external('robot', 'alice')).ok).toBe(false);
    expect((await refusing.external('stranger', '')).ok).toBe(false);
    expect((await refusing.external(undefined, '')).ok).toBe(false);

    const welcoming = new Authenticator(directory, EXAMPLE_ROLES, { anonymousRole: 'app' });
    const anonymous = welcoming.anonymous('192.0.2.2');
    expect(anonymous.ok && anonymous.principal.rights.allows('consume', 'orders.x') && !anonymous.principal.rights.manage).toBe(true);
    expect(welcoming.describeMode()).toContain('ANONYMOUS clients get role "app"');
  });
});

describe('per-user limits', () => {
  test('connections: counted per user, refused at the limit, freed on close', () => {
    const limits = new UserLimits({ maxConnectionsPerUser: 2, maxQueuesPerUser: null });
    expect(limits.openConnection('alice')).toBe(true);
    expect(limits.openConnection('alice')).toBe(true);
    expect(limits.openConnection('alice')).toBe(false);
    expect(limits.openConnection('bob')).toBe(true);
    limits.closeConnection('alice');
    expect(limits.openConnection('alice')).toBe(true);
    expect(limits.connectionsOf('alice')).toBe(2);
  });

  test('queues created: counted per user; null is unlimited', () => {
    const limits = new UserLimits({ maxConnectionsPerUser: null, maxQueuesPerUser: 1 });
    expect(limits.mayCreateQueue('alice')).toBe(true);
    limits.queueCreated('alice');
    expect(limits.mayCreateQueue('alice')).toBe(false);
    expect(limits.mayCreateQueue('bob')).toBe(true);
    const unlimited = new UserLimits({ maxConnectionsPerUser: null, maxQueuesPerUser: null });
    for (let i = 0; i < 1000; i++) expect(unlimited.openConnection('x')).toBe(true);
  });
});
