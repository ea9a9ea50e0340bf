import { ConfigError, boolean, checkObject, integerBetween, nonEmptyString, nonNegativeInteger, nullable, plainObject, port, positiveInteger, type Check } from './validation';

/** Who may connect (README, "Securing Convoy"). */
export interface AuthOptions {
  /** JSON file of users, managed with `convoy users`; null: no users, only anonymous clients on a loopback address get in. */
  readonly usersFile: string | null;
  /** With a users file: the role an ANONYMOUS client gets; null refuses ANONYMOUS. */
  readonly anonymousRole: string | null;
  /** After a failed login from an address, its next attempt is answered this much later; 0 turns the delay off. */
  readonly failedLoginDelayMs: number;
  /** The delay doubles with each further failure up to this; an address is forgotten after this long without failures. */
  readonly maxFailedLoginDelayMs: number;
  /** Open connections per user (all anonymous clients count as the one user `anonymous`); null: unlimited. */
  readonly maxConnectionsPerUser: number | null;
  /** Queues a user may create on first use (counted since the broker started); null: unlimited. */
  readonly maxQueuesPerUser: number | null;
}

/** What the users holding a role may do; address patterns use the `*` rule of queue options. */
export interface RoleOptions {
  /** Produce to matching addresses (attach, and each message through the anonymous relay). */
  readonly send: readonly string[];
  /** Attach a consuming receiver to matching queues. */
  readonly consume: readonly string[];
  /** Attach a browsing receiver (source distribution-mode `copy`) to matching queues. */
  readonly browse: readonly string[];
  /** The `$convoy/...` operator sources and every administrative action. */
  readonly manage: boolean;
}

/** The `amqps` listener. */
export interface TlsOptions {
  readonly port: number;
  /** PEM certificate chain the broker presents. */
  readonly certFile: string;
  /** PEM private key of that certificate. */
  readonly keyFile: string;
  /** PEM CA certificates that client certificates are verified against; null: no client certificates. */
  readonly caFile: string | null;
  /** Refuse TLS clients without a certificate signed by caFile; such clients may log in with SASL EXTERNAL. */
  readonly requireClientCert: boolean;
}

export type RoleOptionsInput = Partial<RoleOptions>;
export type TlsOptionsInput = Partial<TlsOptions>;

export const DEFAULT_AUTH_OPTIONS: AuthOptions = Object.freeze({
  usersFile: null,
  anonymousRole: null,
  failedLoginDelayMs: 1000,
  maxFailedLoginDelayMs: 30_000,
  maxConnectionsPerUser: 1000,
  maxQueuesPerUser: 10_000,
});

export const DEFAULT_TLS_PORT = 5671;

const authChecks: { [K in keyof AuthOptions]-?: Check<AuthOptions[K]> } = {
  usersFile: nullable(nonEmptyString),
  anonymousRole: nullable(nonEmptyString),
  failedLoginDelayMs: nonNegativeInteger,
  maxFailedLoginDelayMs: nonNegativeInteger,
  maxConnectionsPerUser: nullable(positiveInteger),
  maxQueuesPerUser: nullable(positiveInteger),
};

export function checkAuthOptions(input: unknown, field: string): Partial<AuthOptions> {
  return checkObject<AuthOptions>(input, field, authChecks);
}

const patterns: Check<readonly string[]> = (value, field) => {
  if (!Array.isArray(value)) throw new ConfigError(field, 'an array of address patterns, e.g. ["orders.*"]', value);
  return Object.freeze(value.map((pattern, index) => nonEmptyString(pattern, `${field}[${index}]`)));
};

const roleChecks: { [K in keyof RoleOptions]-?: Check<RoleOptions[K]> } = {
  send: patterns,
  consume: patterns,
  browse: patterns,
  manage: boolean,
};

/** Role name -> permissions; a permission left out grants nothing. */
export function checkRoles(input: unknown, field: string): Readonly<Record<string, RoleOptions>> {
  const roles = Object.entries(plainObject(input, field)).map(([name, role]) => {
    const checked = checkObject<RoleOptions>(role, `${field}["${name}"]`, roleChecks);
    return [name, Object.freeze({ send: [], consume: [], browse: [], manage: false, ...checked })] as const;
  });
  // fromEntries defines own properties: a role named "__proto__" stays a role.
  return Object.freeze(Object.fromEntries(roles));
}

const tlsChecks: { [K in keyof TlsOptions]-?: Check<TlsOptions[K]> } = {
  port: integerBetween(0, 65535, 'a TCP port; 0 picks a free one'),
  certFile: nonEmptyString,
  keyFile: nonEmptyString,
  caFile: nullable(nonEmptyString),
  requireClientCert: boolean,
};

/** A whole `tls` object (null: no TLS listener); certFile and keyFile are required. */
export function checkTlsOptions(input: unknown, field: string): TlsOptions | null {
  if (input === null) return null;
  const checked = checkObject<TlsOptions>(input, field, tlsChecks);
  for (const required of ['certFile', 'keyFile'] as const) {
    if (checked[required] === undefined) throw new ConfigError(`${field}.${required}`, 'a PEM file name (required with tls)', undefined);
  }
  const tls: TlsOptions = { port: DEFAULT_TLS_PORT, caFile: null, requireClientCert: false, ...checked } as TlsOptions;
  if (tls.requireClientCert && tls.caFile === null) {
    throw new ConfigError(`${field}.caFile`, 'the CA that signs client certificates (tls.requireClientCert is true)', null);
  }
  return Object.freeze(tls);
}

/** The plain listener's port, or null to turn it off. */
export const nullablePort: Check<number | null> = nullable(port);

/** Rules between the security options, checked once every layer is merged. */
export function checkSecurityOptions(options: {
  readonly port: number | null;
  readonly auth: AuthOptions;
  readonly roles: Readonly<Record<string, RoleOptions>>;
  readonly tls: TlsOptions | null;
}): void {
  if (options.port === null && options.tls === null) {
    throw new ConfigError('port', 'a TCP port (null turns the plain listener off only when tls is configured)', null);
  }
  if (options.port !== null && options.tls !== null && options.port !== 0 && options.port === options.tls.port) {
    throw new ConfigError('tls.port', `a port other than the plain listener's (${options.port})`, options.tls.port);
  }
  const { anonymousRole, failedLoginDelayMs, maxFailedLoginDelayMs } = options.auth;
  if (anonymousRole !== null && !Object.hasOwn(options.roles, anonymousRole)) {
    const known = Object.keys(options.roles);
    throw new ConfigError('auth.anonymousRole', `null or a role defined in roles (${known.length > 0 ? known.join(', ') : 'none defined'})`, anonymousRole);
  }
  if (maxFailedLoginDelayMs < failedLoginDelayMs) {
    throw new ConfigError('auth.maxFailedLoginDelayMs', `at least auth.failedLoginDelayMs (${failedLoginDelayMs})`, maxFailedLoginDelayMs);
  }
}
