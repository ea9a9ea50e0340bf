import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { HttpOptions } from '../config/http-options';
import { ConfigError } from '../config/validation';
import { secureContextOptions, type TlsCredentials } from '../security/tls-files';
import { HttpAccess, SESSION_COOKIE, cookie, type HttpSecurity } from './access';
import { findRoute, handleApi, type ApiServices } from './api';
import { ConsoleAssets } from './console-assets';
import { HttpError, readJsonBody, sendJson } from './http-error';
import type { BrokerMetrics } from './metrics';
import { Sessions } from './sessions';

export interface HttpServer {
  readonly host: string;
  readonly port: number;
  /** Served over TLS (the broker's `tls` certificate). */
  readonly tls: boolean;
  /** New HTTPS connections use these; open ones keep theirs. */
  reloadTls(credentials: TlsCredentials): void;
  close(): Promise<void>;
}

export interface HttpServices extends Omit<ApiServices, 'maxRequestBytes' | 'maxGroupsPerPage' | 'maxGroupsScannedPerPage'> {
  readonly metrics: BrokerMetrics;
  readonly security: HttpSecurity;
}

const REQUEST_TIMEOUT_MS = 30_000;
const HEADERS_TIMEOUT_MS = 10_000;
const KEEP_ALIVE_TIMEOUT_MS = 5_000;

/**
 * The HTTP listener: the JSON API under /api/, Prometheus metrics at /metrics and the web console at /
 * (README "Watching Convoy"). It runs on the broker's event loop and reads the broker's state between
 * commands, so every answer is one consistent moment; each request costs work bounded by what it
 * returns (a page of groups, not all of them). HTTPS with the broker's certificate when `tls` is set.
 */
export async function startHttpServer(options: HttpOptions, tls: TlsCredentials | null, services: HttpServices): Promise<HttpServer> {
  const sessions = new Sessions(options.sessionIdleTimeoutMs, options.maxSessions, services.security.now);
  const access = new HttpAccess(services.security, sessions, options.host);
  const assets = new ConsoleAssets();
  const api: ApiServices = {
    ...services,
    maxRequestBytes: options.maxRequestBytes,
    maxGroupsPerPage: options.maxGroupsPerPage,
    maxGroupsScannedPerPage: options.maxGroupsScannedPerPage,
  };
  const secureCookie = tls !== null ? '; Secure' : '';

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const url = new URL(request.url ?? '/', 'http://convoy');
    const method = request.method ?? 'GET';
    if ((method === 'GET' || method === 'HEAD') && assets.has(url.pathname)) {
      access.checkNetwork(request);
      const asset = assets.get(url.pathname);
      response.writeHead(200, {
        'content-type': asset.contentType,
        'content-length': asset.body.length,
        'cache-control': 'no-cache',
        'x-content-type-options': 'nosniff',
        'content-security-policy': "default-src 'self'; frame-ancestors 'none'",
      });
      response.end(method === 'HEAD' ? undefined : asset.body);
      return;
    }
    if (url.pathname === '/metrics') {
      if (method !== 'GET') throw new HttpError(405, 'GET /metrics');
      await access.userOf(request);
      const text = await services.metrics.scrape();
      response.writeHead(200, { 'content-type': services.metrics.contentType, 'content-length': Buffer.byteLength(text) });
      response.end(text);
      return;
    }
    if (!url.pathname.startsWith('/api/')) throw new HttpError(404, `no such path: ${url.pathname} (the console is at /, the API under /api/, metrics at /metrics)`);
    const segments = url.pathname.slice('/api/'.length).split('/').map(decodeSegment);
    if (segments.join('/') === 'login') return login(request, response);
    if (segments.join('/') === 'logout') return logout(request, response);
    const user = await access.userOf(request);
    const isAction = method !== 'GET' && method !== 'HEAD';
    const { route, params } = findRoute(method, segments);
    if (isAction) access.checkAction(request);
    sendJson(response, 200, await handleApi(api, route, { request, url, params, user }));
  };

  /** The console's login form: checks the password, then a session cookie stands for the user. */
  const login = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    if (request.method !== 'POST') throw new HttpError(405, 'POST /api/login with {"user", "password"}');
    access.checkAction(request);
    const body = await readJsonBody(request, options.maxRequestBytes);
    if (typeof body.user !== 'string' || typeof body.password !== 'string') throw new HttpError(400, 'send {"user": "...", "password": "..."}');
    const user = await access.login(request, body.user, body.password);
    const token = sessions.start(user);
    services.logger.info({ user, remote: request.socket.remoteAddress }, 'console login');
    sendJson(response, 200, { user }, { 'set-cookie': `${SESSION_COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/${secureCookie}` });
  };

  const logout = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    if (request.method !== 'POST') throw new HttpError(405, 'POST /api/logout');
    access.checkAction(request);
    const token = cookie(request, SESSION_COOKIE);
    if (token !== null) sessions.end(token);
    sendJson(response, 200, { loggedOut: true }, { 'set-cookie': `${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0${secureCookie}` });
  };

  const onRequest = (request: IncomingMessage, response: ServerResponse): void => {
    handle(request, response).catch((error: unknown) => {
      if (response.headersSent) {
        response.destroy();
        return;
      }
      if (error instanceof HttpError) {
        sendJson(response, error.status, { error: error.message }, error.headers);
        return;
      }
      services.logger.error({ err: error, path: request.url }, 'HTTP request failed');
      sendJson(response, 500, { error: 'internal error (see the broker log)' });
    });
  };

  const server = tls === null ? http.createServer(onRequest) : https.createServer({ ...secureContextOptions(tls), minVersion: 'TLSv1.2' }, onRequest);
  server.maxConnections = options.maxConnections;
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  await new Promise<void>((resolve, reject) => {
    const failed = (error: NodeJS.ErrnoException): void => {
      // On by default: a second broker on one machine meets the first one's port.
      if (error.code !== 'EADDRINUSE') return reject(error);
      const expected = `a port no other program listens on (${options.host}:${options.port} is in use): another one, 0 for any free one, or null to turn the HTTP listener off`;
      reject(new ConfigError('http.port', expected, options.port));
    };
    server.once('error', failed);
    server.listen(options.port ?? 0, options.host, () => {
      server.off('error', failed);
      resolve();
    });
  });
  server.on('clientError', (_error, socket) => socket.destroy());
  return {
    host: options.host,
    port: (server.address() as AddressInfo).port,
    tls: tls !== null,
    reloadTls(credentials: TlsCredentials): void {
      if (server instanceof https.Server) server.setSecureContext(secureContextOptions(credentials));
    },
    close(): Promise<void> {
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new HttpError(400, `malformed path segment ${JSON.stringify(segment)}`);
  }
}
