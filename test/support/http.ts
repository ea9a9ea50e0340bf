import http from 'node:http';
import https from 'node:https';

export interface HttpAnswer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly text: string;
  /** The body parsed as JSON (undefined when it is not JSON). */
  readonly json: any;
}

export interface HttpCall {
  readonly port: number;
  readonly path: string;
  readonly method?: string;
  readonly headers?: Record<string, string>;
  /** Sent as JSON, with Content-Type: application/json. */
  readonly body?: unknown;
  /** Basic credentials. */
  readonly auth?: { readonly user: string; readonly password: string };
  /** HTTPS, trusting this CA (PEM). */
  readonly ca?: Buffer;
  readonly host?: string;
  readonly localAddress?: string;
}

/** One HTTP request to a test broker; never throws on an HTTP error status. */
export function httpCall(call: HttpCall): Promise<HttpAnswer> {
  const body = call.body === undefined ? undefined : JSON.stringify(call.body);
  const headers: Record<string, string> = {
    ...(body !== undefined && { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) }),
    ...call.headers,
  };
  if (call.auth) headers.authorization = `Basic ${Buffer.from(`${call.auth.user}:${call.auth.password}`).toString('base64')}`;
  const options = {
    host: call.host ?? '127.0.0.1',
    port: call.port,
    path: call.path,
    method: call.method ?? (body === undefined ? 'GET' : 'POST'),
    headers,
    ...(call.localAddress !== undefined && { localAddress: call.localAddress }),
    ...(call.ca !== undefined && { ca: call.ca }),
  };
  return new Promise((resolve, reject) => {
    const request = (call.ca !== undefined ? https : http).request(options, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: response.statusCode ?? 0, headers: response.headers, text, json });
      });
    });
    request.on('error', reject);
    request.end(body);
  });
}
