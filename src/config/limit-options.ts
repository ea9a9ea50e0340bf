import { ConfigError, integerBetween, oneOf, positiveInteger, type Check } from './validation';

/**
 * What one client may take of the broker (README, "Limits"). Each limit is reached with a standard AMQP
 * condition to that client alone (AMQP 1.0 2.8.15 amqp:resource-limit-exceeded unless said otherwise);
 * every other client carries on.
 */
export interface LimitOptions {
  /** From accepting the socket until the AMQP open has arrived: protocol headers, SASL (TLS has the same time on its own). */
  readonly handshakeTimeoutMs: number;
  /** Connections at once, handshaking ones included. */
  readonly maxConnections: number;
  /** Connections at once from one client IP address, handshaking ones included. */
  readonly maxConnectionsPerAddress: number;
  /** Links attached at once on one session (announced as begin.handle-max + 1, AMQP 1.0 2.7.2). */
  readonly maxLinksPerSession: number;
  /** Links attached at once on one connection, over all its sessions. */
  readonly maxLinksPerConnection: number;
  /** Deliveries a consumer link holds unsettled; beyond, it gets nothing more until it settles some. */
  readonly maxUnsettledPerLink: number;
  /** Bytes written to a connection that its client has not read yet; beyond, its consumers get nothing more until it reads. */
  readonly maxOutputBytesPerConnection: number;
  /** Queues that may exist; a client that would create one more (on first use, or a dynamic node) is refused. */
  readonly maxQueues: number;
  /** At maxMemoryBytes (or a queue's own maxMemoryBytes): `block` withholds producer credit; `fail` rejects messages. */
  readonly memoryFullPolicy: 'block' | 'fail';
  /** Share of maxMemoryBytes above which new message bodies are kept in the journal only (paging). */
  readonly memoryPagingRatio: number;
}

export const DEFAULT_LIMIT_OPTIONS: LimitOptions = Object.freeze({
  handshakeTimeoutMs: 10_000,
  maxConnections: 10_000,
  maxConnectionsPerAddress: 1000,
  maxLinksPerSession: 1024,
  maxLinksPerConnection: 4096,
  maxUnsettledPerLink: 5000,
  maxOutputBytesPerConnection: 4 * 1024 * 1024,
  maxQueues: 10_000,
  memoryFullPolicy: 'block',
  memoryPagingRatio: 0.5,
});

/** A number from 0 (exclusive) to 1 (inclusive). */
const ratio: Check<number> = (value, field) => {
  if (typeof value === 'number' && value > 0 && value <= 1) return value;
  throw new ConfigError(field, 'a number above 0 and at most 1', value);
};

export const limitOptionChecks: { [K in keyof LimitOptions]-?: Check<LimitOptions[K]> } = {
  handshakeTimeoutMs: positiveInteger,
  maxConnections: positiveInteger,
  maxConnectionsPerAddress: positiveInteger,
  // Every consumer of a session needs at least one of the session's 8192 slots for unsettled
  // deliveries (src/amqp/server.ts session_buffer_size; src/amqp/consumer-link.ts ringShare).
  maxLinksPerSession: integerBetween(1, 8192, "each consumer link needs one of its session's 8192 slots for unsettled deliveries"),
  maxLinksPerConnection: positiveInteger,
  maxUnsettledPerLink: positiveInteger,
  maxOutputBytesPerConnection: positiveInteger,
  maxQueues: positiveInteger,
  memoryFullPolicy: oneOf(['block', 'fail'] as const),
  memoryPagingRatio: ratio,
};
