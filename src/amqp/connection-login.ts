import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Logger } from '../broker/logger';
import type { Authenticator, LoginResult, Principal } from '../security/authenticator';
import type { LoginThrottle } from '../security/login-throttle';
import type { UserLimits } from '../security/user-limits';

/** The broker-wide pieces every connection's login uses. */
export interface LoginServices {
  readonly authenticator: Authenticator;
  readonly throttle: LoginThrottle;
  readonly limits: UserLimits;
  readonly now: () => number;
}

/**
 * One connection's login: runs each SASL attempt through the login throttle, logs its outcome with
 * the client's address (the connection logger carries it; passwords are never logged), ends the
 * connection after a failed attempt, and keeps the principal of a successful one.
 */
export class ConnectionLogin {
  principal: Principal | null = null;
  /** The connection counts against its user's maxConnectionsPerUser. */
  private countedConnection = false;

  constructor(
    private readonly services: LoginServices,
    private readonly socket: Socket,
    private readonly logger: Logger,
    /** Told how long the throttle makes an attempt wait (the handshake deadline moves with it). */
    private readonly onThrottled: (waitMs: number) => void = () => undefined,
  ) {}

  get authenticator(): Authenticator {
    return this.services.authenticator;
  }

  get clientAddress(): string | undefined {
    return this.socket.remoteAddress;
  }

  /** The TLS client certificate was presented and verified against tls.caFile. */
  get verifiedClientCertificate(): boolean {
    const tls = this.socket as Partial<TLSSocket>;
    return tls.encrypted === true && tls.authorized === true && Object.keys(tls.getPeerCertificate?.() ?? {}).length > 0;
  }

  /** The subject CN of the verified client certificate. */
  get clientCertificateName(): string | undefined {
    const subject = (this.socket as Partial<TLSSocket>).getPeerCertificate?.()?.subject as Record<string, string | string[]> | undefined;
    const commonName = subject?.CN;
    return Array.isArray(commonName) ? undefined : commonName;
  }

  /**
   * One login attempt by `mechanism` for `claimedUser`: waits its turn when the address has failed
   * before, then runs `check`. True when the client is in.
   */
  async attempt(mechanism: string, claimedUser: string, check: () => Promise<LoginResult> | LoginResult): Promise<boolean> {
    const address = this.clientAddress ?? '?';
    const admission = this.services.throttle.admit(address, this.services.now());
    if (!admission.check) {
      this.logger.warn({ mechanism, user: claimedUser, failures: this.services.throttle.failuresOf(address) }, 'login refused unchecked: too many failed logins from this address');
      this.endAfterOutcome();
      return false;
    }
    if (admission.waitMs > 0) {
      this.onThrottled(admission.waitMs);
      await new Promise((resolve) => setTimeout(resolve, admission.waitMs).unref());
      if (this.socket.destroyed) return false;
    }
    let result: LoginResult;
    try {
      result = await check();
    } catch (error) {
      result = { ok: false, reason: (error as Error).message };
    }
    if (result.ok) {
      this.services.throttle.succeeded(address);
      this.principal = result.principal;
      this.logger.info({ mechanism, user: result.principal.user, delayedMs: admission.waitMs }, 'login');
      return true;
    }
    this.services.throttle.failed(address, this.services.now());
    this.logger.warn({ mechanism, user: claimedUser, reason: result.reason, delayedMs: admission.waitMs }, 'login failed');
    this.endAfterOutcome();
    return false;
  }

  /** A sasl-init naming a mechanism this connection was not offered: the login fails like a wrong password. */
  unoffered(mechanism: string): void {
    this.malformed(mechanism, `SASL mechanism ${mechanism} is not offered`);
  }

  /** A malformed SASL message: the login fails like a wrong password. */
  malformed(mechanism: string, reason: string): false {
    const address = this.clientAddress ?? '?';
    this.services.throttle.failed(address, this.services.now());
    this.logger.warn({ mechanism, reason }, 'login failed');
    this.endAfterOutcome();
    return false;
  }

  /**
   * The AMQP open arrived: a client that skipped SASL (AMQP 1.0 5.3.1 allows it) is anonymous. Then the
   * user's connection limit. Returns why the connection is refused, or null when it may stay.
   */
  admitOpen(): { readonly condition: 'unauthorized' | 'limit'; readonly description: string } | null {
    if (!this.principal) {
      const result = this.authenticator.anonymous(this.clientAddress);
      if (!result.ok) {
        this.services.throttle.failed(this.clientAddress ?? '?', this.services.now());
        this.logger.warn({ mechanism: 'none (SASL skipped)', reason: result.reason }, 'login failed');
        return { condition: 'unauthorized', description: 'authentication failed: log in with SASL' };
      }
      this.principal = result.principal;
    }
    const { limits } = this.services;
    if (!limits.openConnection(this.principal.user)) {
      const description = `user "${this.principal.user}" already has ${limits.connectionsOf(this.principal.user)} connections (auth.maxConnectionsPerUser)`;
      this.logger.warn({ user: this.principal.user }, `connection refused: ${description}`);
      return { condition: 'limit', description };
    }
    this.countedConnection = true;
    return null;
  }

  /** The socket closed: the connection no longer counts against its user. */
  closed(): void {
    if (this.countedConnection && this.principal) this.services.limits.closeConnection(this.principal.user);
    this.countedConnection = false;
  }

  /**
   * After a failed attempt the SASL exchange is over (AMQP 1.0 5.3.2): the socket is ended once rhea
   * has queued the sasl-outcome (it does so when the mechanism's promise settles, before timers run).
   */
  private endAfterOutcome(): void {
    setImmediate(() => this.socket.end());
  }
}
