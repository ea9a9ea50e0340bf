import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';

/** The broker's HTTP API could not be reached or refused the request; the message says which. */
export class HttpAdminError extends Error {}

export interface HttpAdminTarget {
  readonly host: string;
  readonly port: number;
  readonly timeoutMs: number;
  /** HTTP Basic (only sent over HTTPS or to a loopback broker: the broker refuses it otherwise). */
  readonly credentials?: { readonly user: string; readonly password: string };
  /** HTTPS, verifying the broker's certificate against `ca` (else the system's CAs). */
  readonly tls?: { readonly ca?: Buffer };
}

/** One call of the broker's JSON API (README "Watching Convoy"); resolves with the answer's JSON. */
export function callHttpApi(target: HttpAdminTarget, method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<unknown> {
  const payload = method === 'GET' ? undefined : JSON.stringify(body ?? {});
  const headers: Record<string, string> = payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) };
  if (target.credentials) headers.authorization = `Basic ${Buffer.from(`${target.credentials.user}:${target.credentials.password}`).toString('base64')}`;
  const where = `${target.tls ? 'https' : 'http'}://${target.host}:${target.port}`;
  return new Promise((resolve, reject) => {
    const options = {
      host: target.host,
      port: target.port,
      path,
      method,
      headers,
      timeout: target.timeoutMs,
      ...(target.tls && { ca: target.tls.ca, servername: isIP(target.host) ? '' : target.host }),
    };
    const request = (target.tls ? https : http).request(options, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          return reject(new HttpAdminError(`unreadable answer from ${where} (HTTP ${response.statusCode}): ${text.slice(0, 200)}`));
        }
        if (response.statusCode === 200) return resolve(json);
        const error = (json as { error?: string }).error ?? `HTTP ${response.statusCode}`;
        const hint = response.statusCode === 401 ? ' (give --user with a user that has the manage permission)' : '';
        reject(new HttpAdminError(`${error}${hint}`));
      });
    });
    request.on('timeout', () => request.destroy(new HttpAdminError(`no answer from ${where} within ${target.timeoutMs} ms`)));
    request.on('error', (error) =>
      reject(error instanceof HttpAdminError ? error : new HttpAdminError(`cannot reach the broker's HTTP API at ${where}: ${error.message}`)),
    );
    request.end(payload);
  });
}
