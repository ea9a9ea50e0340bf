import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { readJsonFile } from '../config/json-file';
import { ConfigError, integerBetween, plainObject } from '../config/validation';
import { MIN_SCRAM_ITERATIONS, type ScramCredentials } from './scram';

/**
 * The users file: JSON, written only by `convoy users`, read by the broker.
 *
 * ```json
 * { "version": 1,
 *   "users": { "alice": { "roles": ["app"],
 *                         "scramSha256": { "salt": "…", "iterations": 100000, "storedKey": "…", "serverKey": "…" } } } }
 * ```
 * No password is stored, only its SCRAM-SHA-256 keys (src/security/scram.ts); `scramSha256: null`
 * is a user who can only log in with a client certificate (SASL EXTERNAL).
 */
export interface UserRecord {
  readonly roles: readonly string[];
  readonly scramSha256: ScramCredentials | null;
}

export type Users = ReadonlyMap<string, UserRecord>;

export const USERS_FILE_VERSION = 1;

/** Every anonymous client counts as this one user (limits, logs); no user may take the name. */
export const ANONYMOUS_USER = 'anonymous';

const MAX_USER_NAME_LENGTH = 255;

/** Why `name` cannot be a user name, or null when it can. */
export function userNameProblem(name: string): string | null {
  if (name.length === 0 || name.length > MAX_USER_NAME_LENGTH) return `1 to ${MAX_USER_NAME_LENGTH} characters`;
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'no control characters';
  if (name === ANONYMOUS_USER) return `a name other than "${ANONYMOUS_USER}" (it stands for clients without credentials)`;
  return null;
}

export function readUsersFile(path: string): Users {
  return parseUsers(readJsonFile(path, 'a readable users file (create it with `convoy users add`)'), path);
}

/** Validates a parsed users file; errors name the file and the field. */
export function parseUsers(input: unknown, path: string): Users {
  const file = plainObject(input, path);
  if (file.version !== USERS_FILE_VERSION) throw new ConfigError(`${path}: version`, String(USERS_FILE_VERSION), file.version);
  const users = new Map<string, UserRecord>();
  for (const [name, record] of Object.entries(plainObject(file.users, `${path}: users`))) {
    const field = `${path}: users[${JSON.stringify(name)}]`;
    const problem = userNameProblem(name);
    if (problem) throw new ConfigError(field, `a user name of ${problem}`, name);
    users.set(name, parseUserRecord(record, field));
  }
  return users;
}

function parseUserRecord(input: unknown, field: string): UserRecord {
  const record = plainObject(input, field);
  const roles = record.roles;
  if (!Array.isArray(roles) || roles.some((role) => typeof role !== 'string' || role === '')) {
    throw new ConfigError(`${field}.roles`, 'an array of role names', roles);
  }
  const scram = record.scramSha256;
  return { roles, scramSha256: scram === null ? null : parseScram(scram, `${field}.scramSha256`) };
}

function parseScram(input: unknown, field: string): ScramCredentials {
  const scram = plainObject(input, field);
  const bytes = (key: string, length: number | null): Buffer => {
    const value = scram[key];
    const decoded = typeof value === 'string' ? Buffer.from(value, 'base64') : null;
    if (!decoded || decoded.length === 0 || (length !== null && decoded.length !== length)) {
      throw new ConfigError(`${field}.${key}`, `base64 of ${length ?? 'some'} bytes`, value);
    }
    return decoded;
  };
  return {
    salt: bytes('salt', null),
    iterations: integerBetween(MIN_SCRAM_ITERATIONS, 2 ** 31 - 1, 'RFC 7677')(scram.iterations, `${field}.iterations`),
    storedKey: bytes('storedKey', 32),
    serverKey: bytes('serverKey', 32),
  };
}

export function serializeUsers(users: Users): string {
  const out: Record<string, unknown> = {};
  for (const [name, record] of [...users].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const scram = record.scramSha256;
    Object.defineProperty(out, name, {
      enumerable: true,
      value: {
        roles: record.roles,
        scramSha256: scram && {
          salt: scram.salt.toString('base64'),
          iterations: scram.iterations,
          storedKey: scram.storedKey.toString('base64'),
          serverKey: scram.serverKey.toString('base64'),
        },
      },
    });
  }
  return `${JSON.stringify({ version: USERS_FILE_VERSION, users: out }, null, 2)}\n`;
}

/**
 * Replaces the file atomically (a temporary file, fsync, rename), readable by its owner only: a
 * broker reading it meanwhile sees the old or the new version, never half of one.
 */
export function writeUsersFile(path: string, users: Users): void {
  const temporary = `${path}.${process.pid}.tmp`;
  const fd = openSync(temporary, 'w', 0o600);
  try {
    try {
      writeSync(fd, serializeUsers(users));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, path);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw error;
  }
}
