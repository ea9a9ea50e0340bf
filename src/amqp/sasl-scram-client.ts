import { SCRAM_SHA_256, ScramClientExchange } from '../security/scram';

type Reply = (error: string | undefined, response?: Buffer) => void;

/**
 * SCRAM-SHA-256 for a rhea client connection (`sasl_mechanisms` option): rhea's SaslClient calls
 * `start` for the sasl-init and `step` for each sasl-challenge. The second challenge is the broker's
 * server-final-message; a broker that cannot prove it knows the user's keys is refused.
 */
class ScramSha256ClientMechanism {
  private challenges = 0;
  private readonly exchange: ScramClientExchange;

  constructor(user: string, password: string) {
    this.exchange = new ScramClientExchange(user, password);
  }

  start(reply: Reply): void {
    reply(undefined, this.exchange.clientFirstMessage());
  }

  step(challenge: Buffer, reply: Reply): void {
    if (this.challenges++ === 0) {
      this.exchange.clientFinalMessage(challenge).then(
        (response) => reply(undefined, response),
        (error: Error) => reply(error.message),
      );
    } else if (this.exchange.serverIsVerified(challenge)) {
      reply(undefined, Buffer.alloc(0));
    } else {
      reply('the broker did not prove that it knows the password (SCRAM server signature)');
    }
  }
}

/** rhea client mechanisms offering only SCRAM-SHA-256 with these credentials. */
export function scramClientMechanisms(user: string, password: string): Record<string, () => ScramSha256ClientMechanism> {
  return { [SCRAM_SHA_256]: () => new ScramSha256ClientMechanism(user, password) };
}
