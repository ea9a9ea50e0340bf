import { SCRAM_SHA_256, ScramError, ScramServerExchange } from '../security/scram';
import type { ScramLogin } from '../security/authenticator';
import type { ConnectionLogin } from './connection-login';
import type { SaslServerMechanism } from './rhea';

/**
 * SCRAM-SHA-256 on the server (RFC 5802, RFC 7677) over AMQP SASL frames (AMQP 1.0 5.3.3):
 *
 *   sasl-init(client-first) -> sasl-challenge(server-first)
 *   sasl-response(client-final) -> sasl-challenge(server-final)   [the proof is checked here]
 *   sasl-response(empty) -> sasl-outcome(ok)
 *
 * server-final goes in a challenge rather than in the outcome's additional-data, the form RFC 4422 §5
 * gives every SASL profile; Qpid JMS, Qpid Proton (Cyrus SASL) and our own client take it either way.
 * A wrong proof ends the exchange with the outcome `auth` at once.
 */
export class ScramSha256Mechanism implements SaslServerMechanism {
  outcome: boolean | undefined = undefined;
  private readonly exchange = new ScramServerExchange();
  private scramLogin: ScramLogin | null = null;
  private serverFinalSent = false;

  constructor(private readonly login: ConnectionLogin) {}

  async start(response: Buffer | undefined): Promise<Buffer | undefined> {
    try {
      const user = this.exchange.receiveClientFirst(response ?? Buffer.alloc(0));
      this.scramLogin = await this.login.authenticator.scramLogin(user);
      return this.exchange.serverFirstMessage(this.scramLogin.credentials);
    } catch (error) {
      return this.malformed(error);
    }
  }

  async step(response: Buffer | undefined): Promise<Buffer | undefined> {
    const scramLogin = this.scramLogin;
    if (this.serverFinalSent) {
      // RFC 5802 §5: the client answers server-final with an empty response.
      this.outcome = response === undefined || response.length === 0 ? true : this.login.malformed(SCRAM_SHA_256, 'non-empty response after server-final');
      return undefined;
    }
    if (!scramLogin) return this.malformed(new ScramError('sasl-response before client-first-message'));
    const message = response ?? Buffer.alloc(0);
    const reply: { serverFinal: Buffer | null } = { serverFinal: null };
    // A malformed client-final-message throws inside the check: the attempt counts it as a failed login.
    const ok = await this.login.attempt(SCRAM_SHA_256, scramLogin.user, () => {
      reply.serverFinal = this.exchange.receiveClientFinal(message);
      return this.login.authenticator.scramResult(scramLogin, reply.serverFinal !== null);
    });
    if (!ok || !reply.serverFinal) {
      this.outcome = false;
      return undefined;
    }
    this.serverFinalSent = true;
    return reply.serverFinal;
  }

  private malformed(error: unknown): undefined {
    if (!(error instanceof ScramError)) throw error;
    this.outcome = this.login.malformed(SCRAM_SHA_256, error.message);
    return undefined;
  }
}
