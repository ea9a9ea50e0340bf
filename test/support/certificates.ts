import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** openssl as installed by Debian (`.ci/run` installs it when missing). */
export const OPENSSL = '/usr/bin/openssl';

export interface KeyPair {
  readonly certFile: string;
  readonly keyFile: string;
}

export interface TestCertificates {
  readonly dir: string;
  /** The test CA's certificate (PEM): trusted by clients, and by the broker for client certificates. */
  readonly caFile: string;
  /** The broker's certificate for localhost and 127.0.0.1 (and `extraIps`), signed by the CA. */
  readonly server: KeyPair;
  /** Makes a client certificate with subject CN=`commonName`, signed by the CA (or by a CA nobody trusts). */
  client(commonName: string, signer?: 'ca' | 'untrusted'): KeyPair;
  /** Makes another server certificate signed by the CA (for reload tests). */
  newServer(name: string): KeyPair;
  /**
   * A cluster node's certificate: CN=`commonName` (the user it logs in as to other nodes), for localhost
   * and 127.0.0.1, usable by a server and by a client (mutual TLS between nodes).
   */
  node(commonName: string): KeyPair;
}

function openssl(args: string[], cwd: string): void {
  execFileSync(OPENSSL, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** EC P-256 keys: quick to make, understood by Node, OpenSSL (Proton) and Java. */
function newKey(dir: string, name: string): string {
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', `${name}.key`], dir);
  return join(dir, `${name}.key`);
}

function selfSignedCa(dir: string, name: string): void {
  newKey(dir, name);
  openssl(['req', '-x509', '-new', '-key', `${name}.key`, '-subj', `/CN=${name}`, '-days', '2', '-out', `${name}.pem`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
}

function signed(dir: string, name: string, ca: string, subject: string, extensions: string): KeyPair {
  newKey(dir, name);
  openssl(['req', '-new', '-key', `${name}.key`, '-subj', subject, '-out', `${name}.csr`], dir);
  writeFileSync(join(dir, `${name}.ext`), extensions);
  openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-days', '2',
    '-extfile', `${name}.ext`, '-out', `${name}.pem`], dir);
  return { certFile: join(dir, `${name}.pem`), keyFile: join(dir, `${name}.key`) };
}

/**
 * A throw-away PKI made with openssl, as the README's "Securing Convoy" shows it: a CA, a server
 * certificate, and client certificates on demand.
 */
export function makeTestCertificates(extraIps: readonly string[] = []): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), 'convoy-tls-'));
  selfSignedCa(dir, 'ca');
  selfSignedCa(dir, 'untrusted-ca');
  const serverExtensions = (): string =>
    `subjectAltName=DNS:localhost,IP:127.0.0.1${extraIps.map((ip) => `,IP:${ip}`).join('')}\nextendedKeyUsage=serverAuth\n`;
  return {
    dir,
    caFile: join(dir, 'ca.pem'),
    server: signed(dir, 'server', 'ca', '/CN=localhost', serverExtensions()),
    client: (commonName, signer = 'ca') =>
      signed(dir, `client-${commonName}-${signer}`, signer === 'ca' ? 'ca' : 'untrusted-ca', `/CN=${commonName}`, 'extendedKeyUsage=clientAuth\n'),
    newServer: (name) => signed(dir, name, 'ca', '/CN=localhost', serverExtensions()),
    node: (commonName) =>
      signed(dir, `node-${commonName}`, 'ca', `/CN=${commonName}`, 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n'),
  };
}

/** The password of the Java stores made below (they hold only test material). */
export const JAVA_STORE_PASSWORD = 'changeit';

/** A PKCS12 trust store holding the CA, made with the JDK's keytool (what Qpid JMS users do). */
export function javaTrustStore(caFile: string): string {
  const path = caFile.replace(/\.pem$/, '-trust.p12');
  execFileSync('keytool', ['-importcert', '-noprompt', '-alias', 'convoy-test-ca', '-file', caFile, '-keystore', path, '-storetype', 'PKCS12', '-storepass', JAVA_STORE_PASSWORD], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return path;
}

/** A PKCS12 key store with a client certificate and its key, made with openssl. */
export function pkcs12KeyStore(pair: KeyPair): string {
  const path = pair.certFile.replace(/\.pem$/, '.p12');
  execFileSync(OPENSSL, ['pkcs12', '-export', '-in', pair.certFile, '-inkey', pair.keyFile, '-name', 'client', '-out', path, '-passout', `pass:${JAVA_STORE_PASSWORD}`], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return path;
}
