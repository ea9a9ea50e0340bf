import { createHmac, randomBytes } from 'node:crypto';
import type { AuthOptions, RoleOptions } from '../config/security-options';
import { AccessRights } from './access-rights';
import { isLoopbackAddress } from './loopback';
import { DEFAULT_SCRAM_ITERATIONS, SCRAM_SHA_256, passwordMatches, type ScramCredentials } from './scram';
import type { UserDirectory } from './user-directory';
import { ANONYMOUS_USER } from './users-file';

/** A logged-in client: who it is and what it may do. */
export interface Principal {
  readonly user: string;
  readonly anonymous: boolean;
  readonly rights: AccessRights;
}

/** The outcome of a login; `reason` is for the broker's log (the client only learns "auth", AMQP 1.0 5.3.3.6). */
export type LoginResult = { readonly ok: true; readonly principal: Principal } | { readonly ok: false; readonly reason: string };

export type SaslMechanismName = 'EXTERNAL' | typeof SCRAM_SHA_256 | 'PLAIN' | 'ANONYMOUS';

/** What a SCRAM exchange needs about a user; unknown users get made-up credentials that never verify. */
export interface ScramLogin {
  readonly credentials: ScramCredentials;
  readonly user: string;
  readonly known: boolean;
}

const HOW_TO_ADD_USERS =
  'add a user with `convoy users add NAME --roles ROLE` and set auth.usersFile (README, "Securing Convoy")';

/**
 * Decides who gets in (README, "Securing Convoy"):
 * - no users file: anonymous clients on a loopback address get every permission (PLAIN credentials
 *   are accepted there too, unchecked, as anonymous); clients on any other address are refused;
 * - a users file: PLAIN and SCRAM-SHA-256 are checked against it, EXTERNAL takes the user named by the
 *   TLS client certificate's subject CN, and ANONYMOUS gets auth.anonymousRole (null refuses it).
 */
export class Authenticator {
  private readonly rightsByRoles = new Map<string, AccessRights>();
  /** Keys the made-up salts of users without a password: the same name always gets the same salt. */
  private readonly unknownUserSecret = randomBytes(32);

  constructor(
    private readonly users: UserDirectory | null,
    private readonly roles: Readonly<Record<string, RoleOptions>>,
    private readonly auth: Pick<AuthOptions, 'anonymousRole'>,
  ) {}

  get usersConfigured(): boolean {
    return this.users !== null;
  }

  /** The mechanisms offered to a client, in order of preference (AMQP 1.0 5.3.3.1 sasl-mechanisms). */
  mechanisms(verifiedClientCertificate: boolean): SaslMechanismName[] {
    if (!this.users) return ['PLAIN', 'ANONYMOUS'];
    return [...(verifiedClientCertificate ? (['EXTERNAL'] as const) : []), SCRAM_SHA_256, 'PLAIN', 'ANONYMOUS'];
  }

  /** One line for the start-up log: the mode in force. */
  describeMode(): string {
    if (!this.users) {
      return `no users file (auth.usersFile): anonymous clients on a loopback address get every permission; clients on other addresses are refused (${HOW_TO_ADD_USERS})`;
    }
    const anonymous = this.auth.anonymousRole === null ? 'ANONYMOUS is refused' : `ANONYMOUS clients get role "${this.auth.anonymousRole}"`;
    return `users from ${this.users.path} (${this.users.size} users), roles ${Object.keys(this.roles).join(', ') || '(none)'}; ${anonymous}`;
  }

  anonymous(clientAddress: string | undefined): LoginResult {
    if (!this.users) return this.loopbackOnly(clientAddress);
    if (this.auth.anonymousRole === null) return { ok: false, reason: 'ANONYMOUS is refused (auth.anonymousRole is null): log in with a user name and password' };
    return { ok: true, principal: { user: ANONYMOUS_USER, anonymous: true, rights: this.rightsOf([this.auth.anonymousRole]) } };
  }

  async plain(user: string, password: string, clientAddress: string | undefined): Promise<LoginResult> {
    if (!this.users) return this.loopbackOnly(clientAddress);
    const record = await this.users.lookup(user);
    // Every answer costs one derivation, so that its time does not tell whether the user exists.
    const matches = await passwordMatches(record?.scramSha256 ?? this.madeUpCredentials(user), password);
    if (!record) return { ok: false, reason: `no user "${user}"` };
    if (!record.scramSha256) return { ok: false, reason: `user "${user}" has no password: it logs in with a client certificate (EXTERNAL)` };
    if (!matches) return { ok: false, reason: `wrong password for user "${user}"` };
    return { ok: true, principal: this.principalOf(user, record.roles) };
  }

  /** Credentials to run a SCRAM exchange with; unknown users are not revealed to the client (RFC 5802 §9). */
  async scramLogin(user: string): Promise<ScramLogin> {
    const record = this.users ? await this.users.lookup(user) : undefined;
    if (record?.scramSha256) return { user, credentials: record.scramSha256, known: true };
    return { user, known: false, credentials: this.madeUpCredentials(user) };
  }

  /** Credentials for a user without a password: the same salt for the same name, keys that match nothing. */
  private madeUpCredentials(user: string): ScramCredentials {
    const salt = createHmac('sha256', this.unknownUserSecret).update(user).digest().subarray(0, 16);
    return { salt, iterations: DEFAULT_SCRAM_ITERATIONS, storedKey: randomBytes(32), serverKey: randomBytes(32) };
  }

  /** The end of a SCRAM exchange whose proof was (or was not) right. */
  async scramResult(login: ScramLogin, proofVerified: boolean): Promise<LoginResult> {
    if (!login.known) return { ok: false, reason: `no user "${login.user}" with a password` };
    if (!proofVerified) return { ok: false, reason: `wrong password for user "${login.user}"` };
    const record = await this.users!.lookup(login.user);
    if (!record) return { ok: false, reason: `user "${login.user}" was removed during the login` };
    return { ok: true, principal: this.principalOf(login.user, record.roles) };
  }

  /** SASL EXTERNAL (RFC 4422 appendix A): the user is the verified client certificate's subject CN. */
  async external(commonName: string | undefined, requestedUser: string): Promise<LoginResult> {
    if (!this.users) return { ok: false, reason: 'EXTERNAL needs a users file' };
    if (!commonName) return { ok: false, reason: 'the client certificate has no subject CN' };
    if (requestedUser !== '' && requestedUser !== commonName) {
      return { ok: false, reason: `EXTERNAL asked for user "${requestedUser}" but the certificate names "${commonName}"` };
    }
    const record = await this.users.lookup(commonName);
    if (!record) return { ok: false, reason: `no user "${commonName}" (the client certificate's subject CN)` };
    return { ok: true, principal: this.principalOf(commonName, record.roles) };
  }

  private loopbackOnly(clientAddress: string | undefined): LoginResult {
    if (isLoopbackAddress(clientAddress)) return { ok: true, principal: { user: ANONYMOUS_USER, anonymous: true, rights: AccessRights.ALL } };
    return { ok: false, reason: `no users are configured, so only clients on a loopback address get in: ${HOW_TO_ADD_USERS}` };
  }

  private principalOf(user: string, roleNames: readonly string[]): Principal {
    return { user, anonymous: false, rights: this.rightsOf(roleNames) };
  }

  private rightsOf(roleNames: readonly string[]): AccessRights {
    const key = JSON.stringify([...roleNames].sort());
    let rights = this.rightsByRoles.get(key);
    if (!rights) {
      // The user directory only holds users whose roles are all defined (user-directory.ts).
      rights = AccessRights.of(roleNames.map((name) => this.roles[name]!));
      this.rightsByRoles.set(key, rights);
    }
    return rights;
  }
}
