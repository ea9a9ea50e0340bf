import { randomBytes } from 'node:crypto';

interface Session {
  readonly user: string;
  lastUsedMs: number;
}

/**
 * Console logins: a random token (256 bits) in an HttpOnly, SameSite=Strict cookie stands for a user
 * who logged in with a password and holds `manage`. A session ends at logout, after `idleTimeoutMs`
 * unused, or when `maxSessions` newer ones push it out (least recently used first). Like an AMQP
 * connection, it keeps the rights it logged in with.
 */
export class Sessions {
  /** In order of last use, oldest first. */
  private readonly byToken = new Map<string, Session>();

  constructor(
    private readonly idleTimeoutMs: number,
    private readonly maxSessions: number,
    private readonly now: () => number,
  ) {}

  start(user: string): string {
    const token = randomBytes(32).toString('base64url');
    this.byToken.set(token, { user, lastUsedMs: this.now() });
    while (this.byToken.size > this.maxSessions) this.byToken.delete(this.byToken.keys().next().value!);
    return token;
  }

  /** The session's user, if the session is live; using it keeps it alive. */
  userOf(token: string): string | null {
    const session = this.byToken.get(token);
    if (session === undefined) return null;
    const nowMs = this.now();
    if (nowMs - session.lastUsedMs > this.idleTimeoutMs) {
      this.byToken.delete(token);
      return null;
    }
    session.lastUsedMs = nowMs;
    this.byToken.delete(token);
    this.byToken.set(token, session);
    return session.user;
  }

  end(token: string): void {
    this.byToken.delete(token);
  }
}
