import type { AuthOptions } from '../config/security-options';

/**
 * Per-user limits (auth.maxConnectionsPerUser, auth.maxQueuesPerUser): open connections, and queues
 * created on first use since the broker started. Every anonymous client counts as the one user
 * `anonymous`.
 */
export class UserLimits {
  private readonly connections = new Map<string, number>();
  private readonly queuesCreated = new Map<string, number>();

  constructor(private readonly options: Pick<AuthOptions, 'maxConnectionsPerUser' | 'maxQueuesPerUser'>) {}

  get maxConnections(): number | null {
    return this.options.maxConnectionsPerUser;
  }

  get maxQueues(): number | null {
    return this.options.maxQueuesPerUser;
  }

  /** Counts a new connection of `user`; false (and nothing counted) when the user is at the limit. */
  openConnection(user: string): boolean {
    const open = this.connections.get(user) ?? 0;
    if (this.options.maxConnectionsPerUser !== null && open >= this.options.maxConnectionsPerUser) return false;
    this.connections.set(user, open + 1);
    return true;
  }

  closeConnection(user: string): void {
    const open = (this.connections.get(user) ?? 0) - 1;
    if (open > 0) this.connections.set(user, open);
    else this.connections.delete(user);
  }

  connectionsOf(user: string): number {
    return this.connections.get(user) ?? 0;
  }

  mayCreateQueue(user: string): boolean {
    return this.options.maxQueuesPerUser === null || this.queuesCreatedBy(user) < this.options.maxQueuesPerUser;
  }

  queueCreated(user: string): void {
    this.queuesCreated.set(user, this.queuesCreatedBy(user) + 1);
  }

  queuesCreatedBy(user: string): number {
    return this.queuesCreated.get(user) ?? 0;
  }
}
