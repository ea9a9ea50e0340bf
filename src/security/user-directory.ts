import { statSync, type Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import { ConfigError } from '../config/validation';
import { readUsersFile, type UserRecord, type Users } from './users-file';

export interface UserDirectoryEvents {
  reloaded(users: number): void;
  /** The file changed but cannot be used; the previous users stay in force. */
  reloadFailed(error: Error): void;
}

/**
 * The users of the users file. `convoy users` rewrites the file; the broker notices at the next login
 * (the file's identity, size or modification time changed) and reads it again, so adding a user or
 * changing a password needs no restart. Connections already open keep what they were given at login.
 */
export class UserDirectory {
  private stamp: string;

  private constructor(
    readonly path: string,
    private users: Users,
    stats: Stats,
    private readonly roleNames: ReadonlySet<string>,
    private readonly events: UserDirectoryEvents,
  ) {
    this.stamp = stampOf(stats);
  }

  /** Reads the file at start: any problem stops the start, with a message naming the file and field. */
  static load(path: string, roleNames: ReadonlySet<string>, events: UserDirectoryEvents): UserDirectory {
    const stats = statSync(path, { throwIfNoEntry: false });
    if (!stats) throw new ConfigError('auth.usersFile', 'an existing users file (create it with `convoy users add NAME --roles ROLE`)', path);
    const users = readUsersFile(path);
    checkRolesDefined(users, roleNames, path);
    return new UserDirectory(path, users, stats, roleNames, events);
  }

  get size(): number {
    return this.users.size;
  }

  /** The user's record, from the file as it is now. */
  async lookup(name: string): Promise<UserRecord | undefined> {
    await this.refresh();
    return this.users.get(name);
  }

  private async refresh(): Promise<void> {
    let stats: Stats;
    try {
      stats = await stat(this.path);
    } catch (error) {
      return this.failed(error as Error, `missing:${(error as NodeJS.ErrnoException).code}`);
    }
    const stamp = stampOf(stats);
    if (stamp === this.stamp) return;
    try {
      const users = readUsersFile(this.path);
      checkRolesDefined(users, this.roleNames, this.path);
      this.users = users;
      this.stamp = stamp;
      this.events.reloaded(users.size);
    } catch (error) {
      this.failed(error as Error, stamp);
    }
  }

  /** Reports a bad file once per version of it. */
  private failed(error: Error, stamp: string): void {
    if (stamp === this.stamp) return;
    this.stamp = stamp;
    this.events.reloadFailed(error);
  }
}

function stampOf(stats: Stats): string {
  return `${stats.ino}:${stats.size}:${stats.mtimeMs}`;
}

/** Every role a user holds must be defined in the configuration's `roles`. */
function checkRolesDefined(users: Users, roleNames: ReadonlySet<string>, path: string): void {
  for (const [name, record] of users) {
    const unknown = record.roles.find((role) => !roleNames.has(role));
    if (unknown !== undefined) {
      const known = [...roleNames].join(', ') || 'none defined';
      throw new ConfigError(`${path}: users[${JSON.stringify(name)}].roles`, `roles defined in the configuration's roles (${known})`, unknown);
    }
  }
}
