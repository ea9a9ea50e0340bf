import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import type { TlsOptions } from '../config/security-options';
import { ConfigError } from '../config/validation';

/** The PEM files of the TLS listener, read and checked: at start, and again on SIGHUP. */
export interface TlsCredentials {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca: Buffer | null;
}

export function readTlsCredentials(tls: TlsOptions): TlsCredentials {
  const read = (field: 'certFile' | 'keyFile' | 'caFile', path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (error) {
      throw new ConfigError(`tls.${field}`, 'a readable PEM file', `${path}: ${(error as Error).message}`);
    }
  };
  const credentials: TlsCredentials = {
    cert: read('certFile', tls.certFile),
    key: read('keyFile', tls.keyFile),
    ca: tls.caFile === null ? null : read('caFile', tls.caFile),
  };
  try {
    createSecureContext(secureContextOptions(credentials));
  } catch (error) {
    throw new ConfigError('tls', 'certFile, keyFile and caFile holding a certificate, its private key and CA certificates (PEM)', (error as Error).message);
  }
  return credentials;
}

/** Options for tls.createServer / setSecureContext. */
export function secureContextOptions(credentials: TlsCredentials): { cert: Buffer; key: Buffer; ca?: Buffer } {
  return { cert: credentials.cert, key: credentials.key, ...(credentials.ca && { ca: credentials.ca }) };
}
