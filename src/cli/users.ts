import { existsSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import { readConfigFile } from '../config/options';
import { ConfigError } from '../config/validation';
import { DEFAULT_SCRAM_ITERATIONS, MIN_SCRAM_ITERATIONS, deriveScramCredentials } from '../security/scram';
import { readUsersFile, userNameProblem, writeUsersFile, type UserRecord, type Users } from '../security/users-file';
import { readPassword } from './password-input';

/** `convoy users …`: the only writer of the users file (src/security/users-file.ts). */
const DEFAULT_USERS_FILE = 'users.json';

interface FileFlags {
  usersFile?: string;
  config?: string;
}

interface AddFlags extends FileFlags {
  roles: string[];
  iterations: number;
  password: boolean;
}

interface PasswdFlags extends FileFlags {
  iterations: number;
}

/** A user error in a users command; printed as `convoy: <message>`. */
export class UsersCommandError extends Error {}

function rolesFlag(value: string): string[] {
  const roles = value.split(',').map((role) => role.trim());
  if (roles.some((role) => role === '')) throw new InvalidArgumentError('give role names separated by commas, e.g. app,admin');
  return roles;
}

function iterationsFlag(value: string): number {
  const iterations = Number(value);
  if (!/^\d+$/.test(value) || iterations < MIN_SCRAM_ITERATIONS || iterations > 2 ** 31 - 1) {
    throw new InvalidArgumentError(`a whole number of at least ${MIN_SCRAM_ITERATIONS} (RFC 7677)`);
  }
  return iterations;
}

/** The users file to work on: --users-file, else the config's auth.usersFile, else users.json. */
function target(flags: FileFlags): { path: string; roleNames: ReadonlySet<string> | null } {
  const config = flags.config ? readConfigFile(flags.config) : null;
  const path = flags.usersFile ?? config?.auth?.usersFile ?? DEFAULT_USERS_FILE;
  return { path, roleNames: config ? new Set(Object.keys(config.roles ?? {})) : null };
}

function load(path: string, createIfMissing: boolean): Map<string, UserRecord> {
  if (createIfMissing && !existsSync(path)) return new Map();
  return new Map(readUsersFile(path));
}

function requireUser(users: Users, name: string, path: string): void {
  if (!users.has(name)) throw new UsersCommandError(`no user "${name}" in ${path}`);
}

const RELOAD_NOTE = 'a running broker reads the file again at the next login';

async function add(name: string, flags: AddFlags): Promise<void> {
  const problem = userNameProblem(name);
  if (problem) throw new UsersCommandError(`a user name needs ${problem}`);
  const { path, roleNames } = target(flags);
  const unknown = roleNames && flags.roles.find((role) => !roleNames.has(role));
  if (unknown) throw new ConfigError('--roles', `roles defined in the configuration's roles (${[...roleNames!].join(', ') || 'none defined'})`, unknown);
  const users = load(path, true);
  if (users.has(name)) throw new UsersCommandError(`user "${name}" already exists in ${path} (change its password with \`convoy users passwd ${name}\`)`);
  const password = flags.password ? await readPassword(`Password for ${name}: `, true) : null;
  users.set(name, { roles: flags.roles, scramSha256: password === null ? null : await deriveScramCredentials(password, flags.iterations) });
  writeUsersFile(path, users);
  const how = password === null ? 'logs in with a client certificate only' : 'logs in with a password';
  process.stdout.write(`added user ${name} (roles ${flags.roles.join(', ')}; ${how}) to ${path}; ${RELOAD_NOTE}\n`);
}

function remove(name: string, flags: FileFlags): void {
  const { path } = target(flags);
  const users = load(path, false);
  requireUser(users, name, path);
  users.delete(name);
  writeUsersFile(path, users);
  process.stdout.write(`removed user ${name} from ${path}; ${RELOAD_NOTE} (open connections stay)\n`);
}

function list(flags: FileFlags & { json?: boolean }): void {
  const { path } = target(flags);
  const users = [...load(path, false)].map(([name, record]) => ({ name, roles: record.roles, password: record.scramSha256 !== null }));
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(users, null, 2)}\n`);
    return;
  }
  const width = Math.max(4, ...users.map((user) => user.name.length));
  const lines = [`${'USER'.padEnd(width)}  PASSWORD  ROLES`, ...users.map((user) => `${user.name.padEnd(width)}  ${(user.password ? 'yes' : 'no').padEnd(8)}  ${user.roles.join(',')}`)];
  process.stdout.write(`${lines.join('\n')}\n`);
}

async function passwd(name: string, flags: PasswdFlags): Promise<void> {
  const { path } = target(flags);
  const users = load(path, false);
  requireUser(users, name, path);
  const password = await readPassword(`New password for ${name}: `, true);
  users.set(name, { ...users.get(name)!, scramSha256: await deriveScramCredentials(password, flags.iterations) });
  writeUsersFile(path, users);
  process.stdout.write(`changed the password of ${name} in ${path}; ${RELOAD_NOTE}\n`);
}

function fileOptions(command: Command): Command {
  return command
    .option('--users-file <file>', `the users file (default: auth.usersFile of --config, else ${DEFAULT_USERS_FILE})`)
    .option('--config <file>', 'the broker configuration: its auth.usersFile, and its roles to check --roles against');
}

export function usersCommand(): Command {
  const users = new Command('users').description('manage the users file: who may log in, with which roles (passwords are read from stdin or prompted)');
  fileOptions(
    users
      .command('add <name>')
      .description('add a user; the password is read from stdin, or prompted for without echo on a terminal')
      .requiredOption('--roles <roles>', 'comma-separated role names (defined in the configuration\'s "roles")', rolesFlag)
      .option('--iterations <n>', 'PBKDF2 iterations of the SCRAM-SHA-256 keys', iterationsFlag, DEFAULT_SCRAM_ITERATIONS)
      .option('--no-password', 'no password: the user logs in only with a TLS client certificate whose subject CN is its name (SASL EXTERNAL)'),
  ).action(add);
  fileOptions(users.command('remove <name>').description('remove a user')).action(remove);
  fileOptions(users.command('list').description('list users and their roles (never their keys)').option('--json', 'print JSON')).action(list);
  fileOptions(
    users
      .command('passwd <name>')
      .description("change a user's password (read like add's)")
      .option('--iterations <n>', 'PBKDF2 iterations of the SCRAM-SHA-256 keys', iterationsFlag, DEFAULT_SCRAM_ITERATIONS),
  ).action(passwd);
  return users;
}
