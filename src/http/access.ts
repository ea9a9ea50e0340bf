import type { IncomingMessage } from 'node:http';
import { TLSSocket } from 'node:tls';
import type { Authenticator } from '../security/authenticator';
import type { LoginThrottle } from '../security/login-throttle';
import { isLoopbackAddress } from '../security/loopback';
import { HttpError } from './http-error';
import type { Sessions } from './sessions';

/** What the HTTP layer needs of the broker's security: the same logins, roles and throttle as AMQP. */
export interface HttpSecurity {
  readonly authenticator: Authenticator;
  readonly throttle: LoginThrottle;
  readonly now: () => number;
}

export const SESSION_COOKIE = 'convoy_session';
/** The console sends this on its requests: a 401 then carries no Basic challenge, so no browser prompt. */
export const CONSOLE_HEADER = 'x-convoy-console';

/**
 * Who may use the HTTP API, the metrics and the console (README "Watching Convoy"), by the rules of AMQP:
 * - no users file: clients on a loopback address only, anonymously; and the request must name the
 *   broker by a loopback name or address (Host), so that a web page whose name resolves to 127.0.0.1
 *   (DNS rebinding) cannot read or act through a local browser;
 * - a users file: a user holding `manage`, logged in by HTTP Basic or a console session. Passwords are
 *   taken only over TLS or from a loopback client (nothing crosses the network in clear); failed
 *   logins are slowed down per address by the same throttle as AMQP logins.
 * Requests that act (anything but GET and HEAD) must be JSON and, when the browser says where they come
 * from, come from the console's own origin: a form or script on another site cannot make them.
 */
export class HttpAccess {
  constructor(
    private readonly security: HttpSecurity,
    private readonly sessions: Sessions,
    /** The names the broker answers to besides loopback ones (http.host). */
    private readonly configuredHost: string,
  ) {}

  /** The network rules alone (no login): for the console's static files and the login itself. */
  checkNetwork(request: IncomingMessage): void {
    if (this.security.authenticator.usersConfigured) return;
    if (!isLoopbackAddress(request.socket.remoteAddress)) {
      throw new HttpError(
        403,
        'no users are configured, so only clients on a loopback address are answered: add a user with `convoy users add NAME --roles ROLE` and set auth.usersFile (README, "Securing Convoy")',
      );
    }
    const host = hostName(request.headers.host);
    if (host === null || !(isLoopbackName(host) || host === this.configuredHost)) {
      throw new HttpError(403, `this broker answers requests for a loopback name (localhost, 127.0.0.1, [::1]) only, not for ${JSON.stringify(request.headers.host ?? '')}`);
    }
  }

  /** The user the request acts for ('anonymous' without users); throws 401/403 otherwise. */
  async userOf(request: IncomingMessage): Promise<string> {
    this.checkNetwork(request);
    if (!this.security.authenticator.usersConfigured) return 'anonymous';
    const token = cookie(request, SESSION_COOKIE);
    if (token !== null) {
      const user = this.sessions.userOf(token);
      if (user !== null) return user;
    }
    const basic = basicCredentials(request);
    if (basic !== null) return this.login(request, basic.user, basic.password);
    throw new HttpError(401, 'log in with a user that has the manage permission (HTTP Basic, or POST /api/login)', challengeFor(request));
  }

  /** Checks a password (Basic or the console's login form): the user must exist and hold `manage`. */
  async login(request: IncomingMessage, user: string, password: string): Promise<string> {
    this.checkNetwork(request);
    if (!this.security.authenticator.usersConfigured) return 'anonymous';
    const address = request.socket.remoteAddress ?? '?';
    if (!(request.socket instanceof TLSSocket) && !isLoopbackAddress(address)) {
      throw new HttpError(403, 'passwords are taken over HTTPS only (configure tls), or from a loopback address');
    }
    const { throttle, authenticator, now } = this.security;
    const admission = throttle.admit(address, now());
    if (!admission.check) throw new HttpError(429, 'too many failed logins from this address: try again later');
    if (admission.waitMs > 0) await new Promise((resolve) => setTimeout(resolve, admission.waitMs).unref());
    const result = await authenticator.plain(user, password, address);
    if (!result.ok) {
      throttle.failed(address, now());
      throw new HttpError(401, 'wrong user name or password', challengeFor(request));
    }
    throttle.succeeded(address);
    if (!result.principal.rights.manage) throw new HttpError(403, `user "${user}" has no manage permission`);
    return result.principal.user;
  }

  /** Requests that act must be JSON from the console's own origin (CSRF). */
  checkAction(request: IncomingMessage): void {
    const contentType = request.headers['content-type'] ?? '';
    if (!/^application\/json\b/i.test(contentType)) throw new HttpError(415, 'actions take a JSON body: send Content-Type: application/json');
    const origin = request.headers.origin;
    if (origin !== undefined && origin !== 'null') {
      let originHost: string;
      try {
        originHost = new URL(origin).host;
      } catch {
        throw new HttpError(403, `unreadable Origin ${JSON.stringify(origin)}`);
      }
      if (originHost !== request.headers.host) throw new HttpError(403, `cross-origin action from ${origin} refused`);
    } else if (origin === 'null') {
      throw new HttpError(403, 'cross-origin action refused');
    }
  }
}

function challengeFor(request: IncomingMessage): Record<string, string> {
  return request.headers[CONSOLE_HEADER] === undefined ? { 'www-authenticate': 'Basic realm="convoy", charset="UTF-8"' } : {};
}

/** RFC 7617 Basic credentials, or null. */
function basicCredentials(request: IncomingMessage): { user: string; password: string } | null {
  const header = request.headers.authorization;
  if (header === undefined || !/^basic /i.test(header)) return null;
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) throw new HttpError(400, 'malformed Basic credentials');
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

export function cookie(request: IncomingMessage, name: string): string | null {
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return value.join('=');
  }
  return null;
}

/** The host name of a Host header (RFC 9110 7.2), without the port; IPv6 literals keep their brackets. */
function hostName(header: string | undefined): string | null {
  if (header === undefined || header === '') return null;
  const match = /^(\[[^\]]+\]|[^:]+)(?::\d+)?$/.exec(header);
  return match ? match[1]!.toLowerCase() : null;
}

function isLoopbackName(host: string): boolean {
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  return isLoopbackAddress(host.startsWith('[') ? host.slice(1, -1) : host);
}
