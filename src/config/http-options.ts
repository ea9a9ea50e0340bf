import { checkObject, nonEmptyString, nullable, port, positiveInteger, type Check } from './validation';

/** The HTTP listener: management API, Prometheus metrics and the web console (README "Watching Convoy"). */
export interface HttpOptions {
  readonly host: string;
  /** null turns the HTTP listener off. */
  readonly port: number | null;
  /** Open HTTP connections at once; further ones are closed at once. */
  readonly maxConnections: number;
  /** Largest request body accepted (actions and logins carry small JSON bodies). */
  readonly maxRequestBytes: number;
  /** A console session unused for this long must log in again. */
  readonly sessionIdleTimeoutMs: number;
  /** Console sessions remembered at once; beyond this the least recently used one is ended. */
  readonly maxSessions: number;
  /** Most groups one page of `/api/queues/NAME/groups` returns. */
  readonly maxGroupsPerPage: number;
  /** Most groups one such request looks at (searching by a prefix few ids have goes on page by page). */
  readonly maxGroupsScannedPerPage: number;
}

export type HttpOptionsInput = Partial<HttpOptions>;

export const DEFAULT_HTTP_PORT = 8161;

export const DEFAULT_HTTP_OPTIONS: HttpOptions = Object.freeze({
  host: '127.0.0.1',
  port: DEFAULT_HTTP_PORT,
  maxConnections: 64,
  maxRequestBytes: 65536,
  sessionIdleTimeoutMs: 30 * 60_000,
  maxSessions: 1000,
  maxGroupsPerPage: 1000,
  maxGroupsScannedPerPage: 100_000,
});

const httpChecks: { [K in keyof HttpOptions]-?: Check<HttpOptions[K]> } = {
  host: nonEmptyString,
  port: nullable(port),
  maxConnections: positiveInteger,
  maxRequestBytes: positiveInteger,
  sessionIdleTimeoutMs: positiveInteger,
  maxSessions: positiveInteger,
  maxGroupsPerPage: positiveInteger,
  maxGroupsScannedPerPage: positiveInteger,
};

/** `http` in the configuration or a flag: any subset; layers merge key by key over the defaults. */
export function checkHttpOptions(input: unknown, field: string): Partial<HttpOptions> {
  return checkObject<HttpOptions>(input, field, httpChecks);
}
