import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { readUsersFile } from '../../src/security/users-file';
import { passwordMatches } from '../../src/security/scram';
import { CONVOY_BIN, startBrokerProcess } from '../support/broker-process';
import { makeTestCertificates } from '../support/certificates';
import { EXAMPLE_ROLES } from '../support/users';

/** Runs `convoy ARGS` with `stdin` piped in (or nothing), in `cwd`. */
function convoy(args: string[], options: { stdin?: string; cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [CONVOY_BIN, ...args], { timeout: 20_000, cwd: options.cwd, env: { ...process.env, ...options.env } }, (error, stdout, stderr) =>
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout: String(stdout), stderr: String(stderr) }),
    );
    child.stdin!.end(options.stdin ?? '');
  });
}

const tempDir = (): string => mkdtempSync(join(tmpdir(), 'convoy-users-cli-'));
const FAST = ['--iterations', '4096'];

describe('convoy users', () => {
  test('add reads the password from stdin, keeps only SCRAM keys (owner-only file); list shows names and roles, never keys', async () => {
    const dir = tempDir();
    const added = await convoy(['users', 'add', 'alice', '--roles', 'app,admin', ...FAST], { stdin: 'Tr0ub4dor&3\n', cwd: dir });
    expect(added).toMatchObject({ code: 0 });
    expect(added.stdout).toContain('added user alice (roles app, admin; logs in with a password) to users.json');
    const path = join(dir, 'users.json');
    const text = readFileSync(path, 'utf8');
    expect(text).not.toContain('Tr0ub4dor');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const alice = readUsersFile(path).get('alice')!;
    expect(alice.roles).toEqual(['app', 'admin']);
    expect(await passwordMatches(alice.scramSha256!, 'Tr0ub4dor&3')).toBe(true);

    expect((await convoy(['users', 'add', 'robot', '--roles', 'app', '--no-password'], { cwd: dir })).code).toBe(0);
    const listed = await convoy(['users', 'list'], { cwd: dir });
    expect(listed.stdout.split('\n').map((line) => line.trim().split(/\s+/))).toEqual([
      ['USER', 'PASSWORD', 'ROLES'],
      ['alice', 'yes', 'app,admin'],
      ['robot', 'no', 'app'],
      [''],
    ]);
    expect(JSON.parse((await convoy(['users', 'list', '--json'], { cwd: dir })).stdout)).toEqual([
      { name: 'alice', roles: ['app', 'admin'], password: true },
      { name: 'robot', roles: ['app'], password: false },
    ]);
    expect(listed.stdout).not.toContain(alice.scramSha256!.storedKey.toString('base64'));
  });

  test('passwd replaces the keys; remove deletes the user; both refuse unknown users', async () => {
    const dir = tempDir();
    const file = join(dir, 'people.json');
    await convoy(['users', 'add', 'bob', '--roles', 'app', '--users-file', file, ...FAST], { stdin: 'first\n' });
    expect((await convoy(['users', 'passwd', 'bob', '--users-file', file, ...FAST], { stdin: 'second\n' })).code).toBe(0);
    const bob = readUsersFile(file).get('bob')!;
    expect(await passwordMatches(bob.scramSha256!, 'second')).toBe(true);
    expect(await passwordMatches(bob.scramSha256!, 'first')).toBe(false);
    expect(bob.roles).toEqual(['app']);
    expect(await convoy(['users', 'passwd', 'nobody', '--users-file', file], { stdin: 'x\n' })).toMatchObject({ code: 1, stderr: `convoy: no user "nobody" in ${file}\n` });
    expect((await convoy(['users', 'remove', 'bob', '--users-file', file])).code).toBe(0);
    expect(readUsersFile(file).size).toBe(0);
    expect((await convoy(['users', 'remove', 'bob', '--users-file', file])).stderr).toContain('no user "bob"');
  });

  test('bad input gets a clear error and changes nothing', async () => {
    const dir = tempDir();
    await convoy(['users', 'add', 'alice', '--roles', 'app', ...FAST], { stdin: 'pw\n', cwd: dir });
    const before = readFileSync(join(dir, 'users.json'), 'utf8');
    const cases: [string[], string | undefined, RegExp][] = [
      [['users', 'add', 'alice', '--roles', 'app'], 'pw\n', /user "alice" already exists in users.json \(change its password with `convoy users passwd alice`\)/],
      [['users', 'add', 'carol', '--roles', 'app'], '', /no password on stdin/],
      [['users', 'add', 'carol', '--roles', 'app'], 'a\nb\n', /more than one line/],
      [['users', 'add', 'carol'], 'pw\n', /required option '--roles <roles>'/],
      [['users', 'add', 'carol', '--roles', 'app,'], 'pw\n', /give role names separated by commas/],
      [['users', 'add', 'anonymous', '--roles', 'app'], 'pw\n', /a name other than "anonymous"/],
      [['users', 'add', 'carol', '--roles', 'app', '--iterations', '1000'], 'pw\n', /at least 4096 \(RFC 7677\)/],
    ];
    for (const [args, stdin, error] of cases) {
      const result = await convoy(args, { stdin, cwd: dir });
      expect(result.code, args.join(' ')).not.toBe(0);
      expect(result.stderr, args.join(' ')).toMatch(error);
    }
    expect(readFileSync(join(dir, 'users.json'), 'utf8')).toBe(before);
  });

  test('--config: roles are checked against the configuration, and its auth.usersFile is the default file', async () => {
    const dir = tempDir();
    const config = join(dir, 'convoy.json');
    writeFileSync(config, JSON.stringify({ auth: { usersFile: join(dir, 'from-config.json') }, roles: EXAMPLE_ROLES }));
    const unknown = await convoy(['users', 'add', 'alice', '--roles', 'app,ops', '--config', config], { stdin: 'pw\n' });
    expect(unknown).toMatchObject({ code: 1 });
    expect(unknown.stderr).toContain('--roles: expected roles defined in the configuration\'s roles (app, admin), got "ops"');
    expect((await convoy(['users', 'add', 'alice', '--roles', 'app', '--config', config, ...FAST], { stdin: 'pw\n' })).code).toBe(0);
    expect(readUsersFile(join(dir, 'from-config.json')).has('alice')).toBe(true);
  });

  test('on a terminal the password is prompted twice and never echoed', async () => {
    const dir = tempDir();
    // Python's pty gives the CLI a real terminal; the transcript is everything the terminal showed.
    const script = [
      'import os, pty, sys, time',
      'pid, fd = pty.fork()',
      'if pid == 0:',
      `    os.chdir(${JSON.stringify(dir)})`,
      `    os.execv(${JSON.stringify(process.execPath)}, [${JSON.stringify(process.execPath)}, ${JSON.stringify(CONVOY_BIN)}, "users", "add", "tty", "--roles", "app", "--iterations", "4096"])`,
      'out = b""',
      'def read_until(token):',
      '    global out',
      '    while token not in out:',
      '        out += os.read(fd, 1024)',
      'read_until(b"Password for tty: ")',
      'os.write(fd, b"hidden-Secret-1\\r")',
      'read_until(b"Again: ")',
      'os.write(fd, b"hidden-Secret-1\\r")',
      'while True:',
      '    try:',
      '        chunk = os.read(fd, 1024)',
      '    except OSError:',
      '        break',
      '    if not chunk:',
      '        break',
      '    out += chunk',
      '_, status = os.waitpid(pid, 0)',
      'sys.stdout.write(out.decode())',
      'sys.exit(os.WEXITSTATUS(status))',
    ].join('\n');
    const transcript = await new Promise<{ code: number | null; output: string }>((resolve) => {
      const child = spawn('/usr/bin/python3', ['-c', script], { timeout: 20_000 });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.on('exit', (code) => resolve({ code, output }));
    });
    expect(transcript.code, transcript.output).toBe(0);
    expect(transcript.output).toContain('added user tty');
    expect(transcript.output).not.toContain('hidden-Secret-1');
    expect(await passwordMatches(readUsersFile(join(dir, 'users.json')).get('tty')!.scramSha256!, 'hidden-Secret-1')).toBe(true);
  });
});

describe('operator views with security', () => {
  test('convoy queues --user logs in with SCRAM-SHA-256 over TLS; without manage, or with a wrong password, it says why', async () => {
    const dir = tempDir();
    const certificates = makeTestCertificates();
    await convoy(['users', 'add', 'root', '--roles', 'admin', ...FAST], { stdin: 'root-pw\n', cwd: dir });
    await convoy(['users', 'add', 'alice', '--roles', 'app', ...FAST], { stdin: 'alice-pw\n', cwd: dir });
    const config = join(dir, 'convoy.json');
    writeFileSync(
      config,
      JSON.stringify({ port: null, auth: { usersFile: join(dir, 'users.json'), failedLoginDelayMs: 0 }, roles: EXAMPLE_ROLES, tls: { port: 0, ...certificates.server } }),
    );
    const broker = await startBrokerProcess(['--config', config], /"tlsPort":(\d+),/);
    try {
      const target = ['--port', String(broker.port), '--ca-file', certificates.caFile, '--host', 'localhost'];
      const ok = await convoy(['queues', ...target, '--user', 'root', '--json'], { env: { CONVOY_PASSWORD: 'root-pw' } });
      expect(ok.stderr).toBe('');
      expect(JSON.parse(ok.stdout)).toEqual({ queues: [], topics: [] });
      const fromStdin = await convoy(['queues', ...target, '--user', 'root'], { stdin: 'root-pw\n' });
      expect(fromStdin.stdout).toContain('no queues');
      const wrong = await convoy(['queues', ...target, '--user', 'root'], { env: { CONVOY_PASSWORD: 'nope' } });
      expect(wrong).toMatchObject({ code: 1 });
      expect(wrong.stderr).toContain('the broker refused the connection');
      expect(wrong.stderr).toContain('check --user and its password');
      const unprivileged = await convoy(['queues', ...target, '--user', 'alice'], { env: { CONVOY_PASSWORD: 'alice-pw' } });
      expect(unprivileged.stderr).toBe('convoy: user "alice" has no manage permission, needed for "$convoy/queues"\n');
      const anonymous = await convoy(['queues', ...target]);
      expect(anonymous.stderr).toContain('the broker refused the connection');
      expect(broker.output()).not.toContain('root-pw');
    } finally {
      broker.child.kill('SIGTERM');
      await broker.exited;
    }
  });

  test('SIGHUP reloads the TLS certificates and the broker keeps running', async () => {
    const certificates = makeTestCertificates();
    const dir = tempDir();
    const config = join(dir, 'convoy.json');
    writeFileSync(config, JSON.stringify({ tls: { port: 0, ...certificates.server } }));
    const broker = await startBrokerProcess(['--config', config]);
    try {
      expect(broker.output()).toContain('"msg":"security: no users file (auth.usersFile)');
      broker.child.kill('SIGHUP');
      const deadline = Date.now() + 5000;
      while (!broker.output().includes('TLS certificates reloaded') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(broker.output()).toContain('"msg":"TLS certificates reloaded: new connections use them"');
      expect((await convoy(['queues', '--port', String(broker.port)])).code).toBe(0);
    } finally {
      broker.child.kill('SIGTERM');
      await broker.exited;
    }
  });
});
