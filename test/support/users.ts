import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MIN_SCRAM_ITERATIONS, deriveScramCredentials } from '../../src/security/scram';
import { writeUsersFile, type UserRecord } from '../../src/security/users-file';

/** name -> { password (null: certificate only), roles } */
export type TestUsers = Record<string, { password: string | null; roles: string[] }>;

/** Writes a users file (as `convoy users add` does, with the fewest iterations RFC 7677 allows, for speed). */
export async function writeTestUsers(users: TestUsers, path = join(mkdtempSync(join(tmpdir(), 'convoy-users-')), 'users.json')): Promise<string> {
  const records = new Map<string, UserRecord>();
  for (const [name, { password, roles }] of Object.entries(users)) {
    records.set(name, { roles, scramSha256: password === null ? null : await deriveScramCredentials(password, MIN_SCRAM_ITERATIONS) });
  }
  writeUsersFile(path, records);
  return path;
}

/** The roles of the README's example. */
export const EXAMPLE_ROLES = {
  app: { send: ['orders.*'], consume: ['orders.*'], browse: ['orders.*'], manage: false },
  admin: { send: ['*'], consume: ['*'], browse: ['*'], manage: true },
};
