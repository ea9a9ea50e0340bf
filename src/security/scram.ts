import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * SCRAM-SHA-256 (RFC 5802, RFC 7677): the password is never stored, only what the server needs to
 * check a client's proof (StoredKey) and to prove itself to the client (ServerKey), both derived from
 * PBKDF2-HMAC-SHA-256 of the password with a per-user salt and iteration count. The same record
 * also checks a PLAIN password: derive it again with the record's salt and iterations and compare.
 */
export const SCRAM_SHA_256 = 'SCRAM-SHA-256';

/** RFC 7677 §4: at least 4096 iterations. */
export const MIN_SCRAM_ITERATIONS = 4096;

/**
 * Iterations for new passwords. A PLAIN login costs the broker one derivation (17.5–26 ms at this
 * count on the 2-core test VM, on the thread pool); a SCRAM login costs the client one and the broker none.
 */
export const DEFAULT_SCRAM_ITERATIONS = 100_000;

const SALT_BYTES = 16;
const NONCE_BYTES = 18;

export interface ScramCredentials {
  readonly salt: Buffer;
  readonly iterations: number;
  readonly storedKey: Buffer;
  readonly serverKey: Buffer;
}

/** A malformed or unsupported SCRAM message; the login fails. */
export class ScramError extends Error {}

/**
 * Passwords are compared after Unicode NFKC normalization, the normalization step of SASLprep
 * (RFC 4013); ASCII passwords are unchanged.
 */
export function normalizePassword(password: string): string {
  return password.normalize('NFKC');
}

function saltedPassword(password: string, salt: Buffer, iterations: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    pbkdf2(Buffer.from(normalizePassword(password), 'utf8'), salt, iterations, 32, 'sha256', (error, key) => (error ? reject(error) : resolve(key)));
  });
}

const hmac = (key: Buffer, text: string | Buffer): Buffer => createHmac('sha256', key).update(text).digest();
const sha256 = (data: Buffer): Buffer => createHash('sha256').update(data).digest();

/** RFC 5802 §3: StoredKey = H(HMAC(SaltedPassword, "Client Key")), ServerKey = HMAC(SaltedPassword, "Server Key"). */
export async function deriveScramCredentials(
  password: string,
  iterations = DEFAULT_SCRAM_ITERATIONS,
  salt: Buffer = randomBytes(SALT_BYTES),
): Promise<ScramCredentials> {
  const salted = await saltedPassword(password, salt, iterations);
  return { salt, iterations, storedKey: sha256(hmac(salted, 'Client Key')), serverKey: hmac(salted, 'Server Key') };
}

/** Checks a password given in clear (SASL PLAIN) against a SCRAM record, in constant time. */
export async function passwordMatches(credentials: ScramCredentials, password: string): Promise<boolean> {
  const derived = await deriveScramCredentials(password, credentials.iterations, credentials.salt);
  return timingSafeEqual(derived.storedKey, credentials.storedKey);
}

/** RFC 5802 §5.1 saslname: `=` and `,` are escaped as `=3D` and `=2C`. */
function decodeSaslName(encoded: string): string {
  if (/=(?!2C|3D)/.test(encoded)) throw new ScramError('bad escape in user name');
  return encoded.replace(/=2C/g, ',').replace(/=3D/g, '=');
}

function encodeSaslName(name: string): string {
  return name.replace(/=/g, '=3D').replace(/,/g, '=2C');
}

function randomNonce(): string {
  return randomBytes(NONCE_BYTES).toString('base64');
}

function attribute(part: string | undefined, name: string, message: string): string {
  if (part === undefined || !part.startsWith(`${name}=`)) throw new ScramError(`${message}: expected attribute ${name}`);
  return part.slice(name.length + 1);
}

/**
 * The server side of one SCRAM-SHA-256 exchange: client-first, server-first, client-final,
 * server-final (RFC 5802 §5). Channel binding is not supported (a client requiring it is refused).
 */
export class ScramServerExchange {
  private gs2Header = '';
  private clientFirstBare = '';
  private nonce = '';
  private serverFirst = '';
  private credentials: ScramCredentials | null = null;

  constructor(private readonly serverNonce: string = randomNonce()) {}

  /** Reads client-first-message; returns the user name it asks for. */
  receiveClientFirst(message: Buffer): string {
    const text = message.toString('utf8');
    const parts = text.split(',');
    const [cbindFlag, authzid] = parts;
    if (cbindFlag !== 'n' && cbindFlag !== 'y') {
      throw new ScramError(cbindFlag?.startsWith('p=') ? 'channel binding is not supported' : 'client-first-message: bad GS2 header');
    }
    if (parts[2]?.startsWith('m=')) throw new ScramError('client-first-message: mandatory extension not supported');
    const user = decodeSaslName(attribute(parts[2], 'n', 'client-first-message'));
    const clientNonce = attribute(parts[3], 'r', 'client-first-message');
    if (clientNonce === '' || clientNonce.includes(',')) throw new ScramError('client-first-message: bad nonce');
    if (authzid !== '' && decodeSaslName(attribute(authzid, 'a', 'client-first-message')) !== user) {
      throw new ScramError('client-first-message: authorization identity differs from the user name');
    }
    this.gs2Header = `${cbindFlag},${authzid},`;
    this.clientFirstBare = parts.slice(2).join(',');
    this.nonce = clientNonce + this.serverNonce;
    return user;
  }

  /** server-first-message for the user's credentials (RFC 5802 §5.1: r, s, i). */
  serverFirstMessage(credentials: ScramCredentials): Buffer {
    this.credentials = credentials;
    this.serverFirst = `r=${this.nonce},s=${credentials.salt.toString('base64')},i=${credentials.iterations}`;
    return Buffer.from(this.serverFirst, 'utf8');
  }

  /**
   * Reads client-final-message and checks its proof. On success returns server-final-message
   * (`v=` ServerSignature) for the client to check the server; null when the proof is wrong.
   */
  receiveClientFinal(message: Buffer): Buffer | null {
    const credentials = this.credentials;
    if (!credentials) throw new ScramError('client-final-message before server-first-message');
    const text = message.toString('utf8');
    const proofAt = text.lastIndexOf(',p=');
    if (proofAt < 0) throw new ScramError('client-final-message: no proof');
    const withoutProof = text.slice(0, proofAt);
    const parts = withoutProof.split(',');
    if (attribute(parts[0], 'c', 'client-final-message') !== Buffer.from(this.gs2Header, 'utf8').toString('base64')) {
      throw new ScramError('client-final-message: channel binding data differs from the GS2 header');
    }
    if (attribute(parts[1], 'r', 'client-final-message') !== this.nonce) throw new ScramError('client-final-message: wrong nonce');
    const proof = Buffer.from(text.slice(proofAt + 3), 'base64');
    const authMessage = `${this.clientFirstBare},${this.serverFirst},${withoutProof}`;
    const clientSignature = hmac(credentials.storedKey, authMessage);
    if (proof.length !== clientSignature.length) return null;
    const clientKey = Buffer.alloc(proof.length);
    for (let i = 0; i < proof.length; i++) clientKey[i] = proof[i]! ^ clientSignature[i]!;
    if (!timingSafeEqual(sha256(clientKey), credentials.storedKey)) return null;
    return Buffer.from(`v=${hmac(credentials.serverKey, authMessage).toString('base64')}`, 'utf8');
  }
}

/** The client side of one exchange (used by `convoy queues/groups --user` and the tests). */
export class ScramClientExchange {
  private readonly clientFirstBare: string;
  private expectedServerSignature: Buffer | null = null;

  constructor(
    user: string,
    private readonly password: string,
    private readonly clientNonce: string = randomNonce(),
  ) {
    this.clientFirstBare = `n=${encodeSaslName(user)},r=${clientNonce}`;
  }

  clientFirstMessage(): Buffer {
    return Buffer.from(`n,,${this.clientFirstBare}`, 'utf8');
  }

  /** Answers server-first-message with client-final-message (the proof). */
  async clientFinalMessage(serverFirst: Buffer): Promise<Buffer> {
    const text = serverFirst.toString('utf8');
    const parts = text.split(',');
    const nonce = attribute(parts[0], 'r', 'server-first-message');
    if (!nonce.startsWith(this.clientNonce) || nonce === this.clientNonce) throw new ScramError('server-first-message: bad nonce');
    const salt = Buffer.from(attribute(parts[1], 's', 'server-first-message'), 'base64');
    const iterations = Number(attribute(parts[2], 'i', 'server-first-message'));
    if (!Number.isInteger(iterations) || iterations < 1) throw new ScramError('server-first-message: bad iteration count');
    const salted = await saltedPassword(this.password, salt, iterations);
    const clientKey = hmac(salted, 'Client Key');
    const withoutProof = `c=${Buffer.from('n,,').toString('base64')},r=${nonce}`;
    const authMessage = `${this.clientFirstBare},${text},${withoutProof}`;
    const clientSignature = hmac(sha256(clientKey), authMessage);
    const proof = Buffer.alloc(clientKey.length);
    for (let i = 0; i < proof.length; i++) proof[i] = clientKey[i]! ^ clientSignature[i]!;
    this.expectedServerSignature = hmac(hmac(salted, 'Server Key'), authMessage);
    return Buffer.from(`${withoutProof},p=${proof.toString('base64')}`, 'utf8');
  }

  /** True when server-final-message proves the server knows the user's ServerKey. */
  serverIsVerified(serverFinal: Buffer): boolean {
    const text = serverFinal.toString('utf8');
    if (!this.expectedServerSignature || !text.startsWith('v=')) return false;
    const signature = Buffer.from(text.slice(2).split(',')[0]!, 'base64');
    return signature.length === this.expectedServerSignature.length && timingSafeEqual(signature, this.expectedServerSignature);
  }
}
