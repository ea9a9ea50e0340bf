import type { SaslMechanismName } from '../security/authenticator';
import { ANONYMOUS_USER } from '../security/users-file';
import type { ConnectionLogin } from './connection-login';
import type { SaslServerMechanism, SaslServerMechanisms } from './rhea';
import { ScramSha256Mechanism } from './sasl-scram';

/**
 * SASL (AMQP 1.0 5.3): the mechanisms offered to one connection, in order of preference, as the
 * authenticator decides them (src/security/authenticator.ts).
 */
export function saslMechanismsFor(login: ConnectionLogin): SaslServerMechanisms {
  const factories: Record<SaslMechanismName, () => SaslServerMechanism> = {
    EXTERNAL: () => new ExternalMechanism(login),
    'SCRAM-SHA-256': () => new ScramSha256Mechanism(login),
    PLAIN: () => new PlainMechanism(login),
    ANONYMOUS: () => new AnonymousMechanism(login),
  };
  const offered: SaslServerMechanisms = {};
  for (const name of login.authenticator.mechanisms(login.verifiedClientCertificate)) offered[name] = factories[name];
  return offered;
}

/**
 * A mechanism with a single client message. Without an initial response the server first sends an
 * empty challenge and reads the message from the sasl-response (RFC 4422 §5).
 */
abstract class SingleMessageMechanism implements SaslServerMechanism {
  outcome: boolean | undefined = undefined;
  private awaitingResponse = false;

  constructor(protected readonly login: ConnectionLogin) {}

  protected abstract readonly name: SaslMechanismName;
  protected abstract check(message: Buffer): Promise<boolean>;

  async start(response: Buffer | undefined): Promise<Buffer | undefined> {
    if (response === undefined) {
      this.awaitingResponse = true;
      return Buffer.alloc(0);
    }
    this.outcome = await this.check(response);
    return undefined;
  }

  async step(response: Buffer | undefined): Promise<Buffer | undefined> {
    if (!this.awaitingResponse) {
      this.outcome = this.login.malformed(this.name, 'unexpected sasl-response');
      return undefined;
    }
    this.awaitingResponse = false;
    this.outcome = await this.check(response ?? Buffer.alloc(0));
    return undefined;
  }
}

/** RFC 4616: `[authzid] NUL authcid NUL passwd`. */
class PlainMechanism extends SingleMessageMechanism {
  protected readonly name = 'PLAIN';

  protected check(message: Buffer): Promise<boolean> {
    const fields = message.toString('utf8').split('\0');
    if (fields.length !== 3) return Promise.resolve(this.login.malformed(this.name, `expected 3 NUL-separated fields, got ${fields.length}`));
    const [authzid, user, password] = fields as [string, string, string];
    if (authzid !== '' && authzid !== user) {
      return Promise.resolve(this.login.malformed(this.name, `authorization identity "${authzid}" differs from user "${user}"`));
    }
    return this.login.attempt(this.name, user, () => this.login.authenticator.plain(user, password, this.login.clientAddress));
  }
}

/** RFC 4505: the message is optional trace information, not an identity; it may be left out. */
class AnonymousMechanism extends SingleMessageMechanism {
  protected readonly name = 'ANONYMOUS';

  override async start(): Promise<undefined> {
    this.outcome = await this.check();
    return undefined;
  }

  protected check(): Promise<boolean> {
    return this.login.attempt(this.name, ANONYMOUS_USER, () => this.login.authenticator.anonymous(this.login.clientAddress));
  }
}

/** RFC 4422 appendix A: the identity comes from the TLS client certificate; the message may name the user wanted. */
class ExternalMechanism extends SingleMessageMechanism {
  protected readonly name = 'EXTERNAL';

  protected check(message: Buffer): Promise<boolean> {
    const commonName = this.login.clientCertificateName;
    return this.login.attempt(this.name, commonName ?? '?', () => this.login.authenticator.external(commonName, message.toString('utf8')));
  }
}
