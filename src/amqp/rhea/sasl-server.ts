import { sasl, type Connection } from 'rhea';

/**
 * A server-side SASL mechanism the way rhea's SaslServer drives it (lib/sasl.js): `start` with the
 * sasl-init's initial response, then `step` with each sasl-response. When the returned promise
 * settles, rhea sends a sasl-challenge with the resolved bytes while `outcome` is undefined, else the
 * sasl-outcome: `ok` when `outcome` is true, `auth` when false (AMQP 1.0 5.3.3). A rejected promise
 * becomes the outcome `sys`.
 */
export interface SaslServerMechanism {
  outcome: boolean | undefined;
  start(response: Buffer | undefined, hostname: string | undefined): Promise<Buffer | undefined>;
  step(response: Buffer | undefined): Promise<Buffer | undefined>;
}

/** Mechanism name -> a fresh mechanism for one exchange; offered in this order. */
export type SaslServerMechanisms = Record<string, () => SaslServerMechanism>;

interface SelectiveSaslInternals {
  sasl_transport?: { transports?: Record<number, unknown> };
}

interface SaslServerInternals {
  on_sasl_init(frame: { performative: { mechanism: unknown } }): void;
}

type SaslServerConstructor = new (connection: Connection, mechanisms: SaslServerMechanisms) => SaslServerInternals;

/**
 * Gives one server connection its own SASL mechanisms. rhea takes a server's mechanisms from the
 * container, shared by all its connections, and creates a mechanism without telling it the
 * connection; the broker's answer depends on the client (its address, its TLS certificate). Right
 * after `accept`, before the peer's first byte, the SASL half of rhea's protocol selector (which also
 * lets a client skip SASL) is rebuilt with this connection's mechanisms; rhea's SaslServer encodes
 * the sasl-mechanisms frame from them.
 */
export function offerSaslMechanisms(
  connection: Connection,
  mechanisms: SaslServerMechanisms,
  onUnoffered: (mechanism: string) => void,
): void {
  const selector = (connection as unknown as SelectiveSaslInternals).sasl_transport;
  if (!selector?.transports) throw new Error('rhea set up no SASL protocol selector on the server connection');
  const SaslServer = sasl.Server as unknown as SaslServerConstructor;
  // rhea looks the client's mechanism up by name in this object: without a prototype, a name such as
  // `toString` or `__proto__` finds nothing instead of a member every object has.
  const offered: SaslServerMechanisms = Object.assign(Object.create(null) as SaslServerMechanisms, mechanisms);
  const server = new SaslServer(connection, offered);
  // rhea answers a mechanism it was not offered with the outcome auth (AMQP 1.0 5.3.3.6) and tells no one.
  const onSaslInit = server.on_sasl_init.bind(server);
  server.on_sasl_init = (frame) => {
    const name = frame.performative.mechanism;
    if (typeof name !== 'string' || !Object.hasOwn(offered, name)) onUnoffered(String(name));
    onSaslInit(frame);
  };
  // AMQP 1.0 5.2: protocol id 3 is the SASL layer.
  selector.transports[3] = server;
}
