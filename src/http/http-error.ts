import type { IncomingMessage, ServerResponse } from 'node:http';

/** A request the API refuses; `status` is the HTTP status, the message goes to the client as `{ "error": ... }`. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** Extra response headers (e.g. WWW-Authenticate on a 401). */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export function sendJson(response: ServerResponse, status: number, body: unknown, headers: Readonly<Record<string, string>> = {}): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  });
  response.end(text);
}

/** Reads a JSON request body of at most `maxBytes`; an empty body reads as `{}`. */
export async function readJsonBody(request: IncomingMessage, maxBytes: number): Promise<Record<string, unknown>> {
  const declared = Number(request.headers['content-length'] ?? 0);
  if (declared > maxBytes) throw new HttpError(413, `request body over http.maxRequestBytes (${maxBytes} bytes)`);
  const chunks: Buffer[] = [];
  let received = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    received += chunk.length;
    if (received > maxBytes) throw new HttpError(413, `request body over http.maxRequestBytes (${maxBytes} bytes)`);
    chunks.push(chunk);
  }
  if (received === 0) return {};
  let value: unknown;
  try {
    value = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'the request body is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new HttpError(400, 'the request body must be a JSON object');
  return value as Record<string, unknown>;
}

/** A non-negative whole number from a query parameter or body field, or null when absent. */
export function optionalCount(value: unknown, name: string): number | null {
  if (value === undefined || value === null || value === '') return null;
  const number = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isSafeInteger(number) || number < 0) throw new HttpError(400, `${name} must be a whole number >= 0, got ${JSON.stringify(value)}`);
  return number;
}

export function optionalString(value: unknown, name: string): string | null {
  if (value === undefined || value === null || value === '') return null;
  if (typeof value !== 'string') throw new HttpError(400, `${name} must be a string, got ${JSON.stringify(value)}`);
  return value;
}
