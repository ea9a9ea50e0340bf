import { describe, expect, test } from 'vitest';
import {
  MIN_SCRAM_ITERATIONS,
  ScramClientExchange,
  ScramError,
  ScramServerExchange,
  deriveScramCredentials,
  passwordMatches,
} from '../../src/security/scram';

/** RFC 7677 §3: the SCRAM-SHA-256 example exchange for user "user", password "pencil". */
const RFC = {
  clientNonce: 'rOprNGfwEbeRWgbNEkqO',
  serverNonce: '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0',
  salt: Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'),
  clientFirst: 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO',
  serverFirst: 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
  clientFinal: 'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
  serverFinal: 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
};

describe('SCRAM-SHA-256 (RFC 5802, RFC 7677)', () => {
  test('the server side reproduces the RFC 7677 example exchange from stored keys alone', async () => {
    const credentials = await deriveScramCredentials('pencil', 4096, RFC.salt);
    const server = new ScramServerExchange(RFC.serverNonce);
    expect(server.receiveClientFirst(Buffer.from(RFC.clientFirst))).toBe('user');
    expect(server.serverFirstMessage(credentials).toString()).toBe(RFC.serverFirst);
    expect(server.receiveClientFinal(Buffer.from(RFC.clientFinal))?.toString()).toBe(RFC.serverFinal);
  });

  test('the client side reproduces it too, and checks the server signature', async () => {
    const client = new ScramClientExchange('user', 'pencil', RFC.clientNonce);
    expect(client.clientFirstMessage().toString()).toBe(RFC.clientFirst);
    expect((await client.clientFinalMessage(Buffer.from(RFC.serverFirst))).toString()).toBe(RFC.clientFinal);
    expect(client.serverIsVerified(Buffer.from(RFC.serverFinal))).toBe(true);
    expect(client.serverIsVerified(Buffer.from('v=AAAA'))).toBe(false);
  });

  test('a wrong password gives a proof the server refuses (null, not an exception)', async () => {
    const credentials = await deriveScramCredentials('right', MIN_SCRAM_ITERATIONS);
    const server = new ScramServerExchange();
    const client = new ScramClientExchange('bob', 'wrong');
    server.receiveClientFirst(client.clientFirstMessage());
    const clientFinal = await client.clientFinalMessage(server.serverFirstMessage(credentials));
    expect(server.receiveClientFinal(clientFinal)).toBeNull();
  });

  test('user names with "," and "=" are escaped on the wire and come back unchanged', async () => {
    const credentials = await deriveScramCredentials('pw', MIN_SCRAM_ITERATIONS);
    const server = new ScramServerExchange();
    const client = new ScramClientExchange('a,b=c', 'pw');
    expect(client.clientFirstMessage().toString()).toContain('n=a=2Cb=3Dc,');
    expect(server.receiveClientFirst(client.clientFirstMessage())).toBe('a,b=c');
    const serverFinal = server.receiveClientFinal(await client.clientFinalMessage(server.serverFirstMessage(credentials)));
    expect(serverFinal && client.serverIsVerified(serverFinal)).toBe(true);
  });

  test('malformed or unsupported client messages are ScramErrors', async () => {
    const first = (text: string): string => new ScramServerExchange().receiveClientFirst(Buffer.from(text));
    expect(() => first('p=tls-unique,,n=user,r=abc')).toThrow(/channel binding is not supported/);
    expect(() => first('x,,n=user,r=abc')).toThrow(ScramError);
    expect(() => first('n,,m=ext,n=user,r=abc')).toThrow(/mandatory extension/);
    expect(() => first('n,,n=user')).toThrow(ScramError);
    expect(() => first('n,,n=us=er,r=abc')).toThrow(/bad escape/);
    expect(() => first('n,a=other,n=user,r=abc')).toThrow(/authorization identity/);
    expect(first('n,a=user,n=user,r=abc')).toBe('user');

    const credentials = await deriveScramCredentials('pencil', 4096, RFC.salt);
    const server = new ScramServerExchange(RFC.serverNonce);
    server.receiveClientFirst(Buffer.from(RFC.clientFirst));
    server.serverFirstMessage(credentials);
    expect(() => server.receiveClientFinal(Buffer.from(RFC.clientFinal.replace('r=rOpr', 'r=XOpr')))).toThrow(/wrong nonce/);
    expect(() => server.receiveClientFinal(Buffer.from(RFC.clientFinal.replace('c=biws', 'c=eSws')))).toThrow(/channel binding data/);
    expect(() => server.receiveClientFinal(Buffer.from('c=biws,r=x'))).toThrow(/no proof/);
    expect(() => new ScramServerExchange().receiveClientFinal(Buffer.from(RFC.clientFinal))).toThrow(/before server-first/);
  });

  test('one stored record checks PLAIN passwords too, after NFKC normalization', async () => {
    const credentials = await deriveScramCredentials('pencil', MIN_SCRAM_ITERATIONS);
    expect(await passwordMatches(credentials, 'pencil')).toBe(true);
    expect(await passwordMatches(credentials, 'Pencil')).toBe(false);
    const composed = await deriveScramCredentials('caf\u00e9', MIN_SCRAM_ITERATIONS);
    expect(await passwordMatches(composed, 'cafe\u0301')).toBe(true);
  });

  test('each record gets its own random salt: equal passwords give different keys', async () => {
    const a = await deriveScramCredentials('same', MIN_SCRAM_ITERATIONS);
    const b = await deriveScramCredentials('same', MIN_SCRAM_ITERATIONS);
    expect(a.salt.equals(b.salt)).toBe(false);
    expect(a.storedKey.equals(b.storedKey)).toBe(false);
  });
});
