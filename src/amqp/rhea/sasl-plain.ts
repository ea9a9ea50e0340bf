/** What rhea's SASL server (sasl.js Server) asks of a mechanism: start, then outcome and username. */
export interface ServerMechanism {
  outcome: boolean | undefined;
  username: string | undefined;
  start(response: unknown, hostname?: unknown): void;
}

const NUL = 0x00;

/**
 * SASL PLAIN (RFC 4616): the initial response is `[authzid] NUL authcid NUL passwd`. rhea's own PLAIN
 * splits the response without looking: a sasl-init without one throws inside rhea. Here a response that
 * is missing or not of that form fails the exchange (sasl-outcome auth, AMQP 1.0 5.3.3.6) like wrong
 * credentials do; a well-formed one is handed to `authenticate`.
 */
export function plainServerMechanism(authenticate: (username: string, password: string) => boolean): () => ServerMechanism {
  return () => ({
    outcome: undefined,
    username: undefined,
    start(response: unknown): void {
      const fields = Buffer.isBuffer(response) ? splitPlainResponse(response) : null;
      this.outcome = fields !== null && authenticate(fields.username, fields.password);
      if (this.outcome) this.username = fields!.username;
    },
  });
}

function splitPlainResponse(response: Buffer): { username: string; password: string } | null {
  const first = response.indexOf(NUL);
  const second = first < 0 ? -1 : response.indexOf(NUL, first + 1);
  if (second < 0 || response.indexOf(NUL, second + 1) >= 0) return null;
  return { username: response.toString('utf8', first + 1, second), password: response.toString('utf8', second + 1) };
}
