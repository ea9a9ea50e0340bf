import type { QueueOptions } from '../core/types';
import { checkClusterInput, mergeClusterOptions, type ClusterOptions, type ClusterOptionsInput } from './cluster-options';
import { DEFAULT_HTTP_OPTIONS, checkHttpOptions, type HttpOptions, type HttpOptionsInput } from './http-options';
import { readJsonFile } from './json-file';
import { DEFAULT_LIMIT_OPTIONS, limitOptionChecks, type LimitOptions } from './limit-options';
import { checkQueueOptions, checkQueuePolicies, type QueuePolicies } from './queue-policies';
import {
  DEFAULT_AUTH_OPTIONS,
  checkAuthOptions,
  checkRoles,
  checkSecurityOptions,
  checkTlsOptions,
  nullablePort,
  type AuthOptions,
  type RoleOptions,
  type RoleOptionsInput,
  type TlsOptions,
  type TlsOptionsInput,
} from './security-options';
import { checkTopicPatterns } from './topic-patterns';
import { ConfigError, checkObject, integerBetween, nonEmptyString, oneOf, positiveInteger, type Check } from './validation';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface BrokerOptions extends LimitOptions {
  readonly host: string;
  /** The plain AMQP listener; null turns it off (then tls must be set). */
  readonly port: number | null;
  readonly dataDir: string;
  readonly logLevel: LogLevel;
  /** Largest AMQP frame we accept and send (open.max-frame-size, AMQP 1.0 2.7.1). */
  readonly maxFrameBytes: number;
  /** Largest message accepted from a producer; larger ones are refused with amqp:link:message-size-exceeded. */
  readonly maxMessageBytes: number;
  /** A connection that sends nothing for this long is dropped (open.idle-time-out, AMQP 1.0 2.4.5). */
  readonly idleTimeoutMs: number;
  readonly channelMax: number;
  /** Credit the broker grants each producer link at a time. */
  readonly producerCreditWindow: number;
  /** `journal`: durable messages survive restarts (under dataDir). `memory`: nothing is kept. */
  readonly store: 'journal' | 'memory';
  /** When a durable message's producer is accepted relative to fsync (see README, Durability). */
  readonly fsyncPolicy: 'batch' | 'per-message' | 'interval' | 'none';
  /** With fsyncPolicy `interval`: at most this long between fdatasyncs. */
  readonly fsyncIntervalMs: number;
  /** Journal segment size; consumed segments are deleted whole. */
  readonly segmentBytes: number;
  /**
   * Memory for messages: the bodies kept in memory plus a fixed bookkeeping cost per message, paged or
   * not. Bodies are paged to the journal beyond memoryPagingRatio of it; at it, producers are held back
   * or refused (memoryFullPolicy).
   */
  readonly maxMemoryBytes: number;
  /** Store size at which producers are held back or refused. */
  readonly maxDiskBytes: number;
  /** At maxDiskBytes: `block` withholds producer credit until space frees up; `fail` rejects with amqp:resource-limit-exceeded. */
  readonly diskFullPolicy: 'block' | 'fail';
  /** Local transactions (AMQP 1.0 4) open at once on one connection. */
  readonly maxTransactionsPerConnection: number;
  /** Sends and acknowledgements in one transaction. */
  readonly maxTransactionOperations: number;
  /** Bytes of messages sent in a connection's open transactions, together (held in memory until commit). */
  readonly maxTransactionBytesPerConnection: number;
  readonly queueDefaults: Partial<QueueOptions>;
  /** Per queue name or pattern (`*` wildcard). */
  readonly queues: QueuePolicies;
  /** Names and patterns of addresses that are topics (src/config/topic-patterns.ts). */
  readonly topics: readonly string[];
  readonly auth: AuthOptions;
  /** Role name -> permissions on address patterns. */
  readonly roles: Readonly<Record<string, RoleOptions>>;
  /** The TLS (amqps) listener; null: none. */
  readonly tls: TlsOptions | null;
  /** Membership of a cluster on etcd; null: a single node (README, "Cluster"). */
  readonly cluster: ClusterOptions | null;
  /** The HTTP listener (API, metrics, console); on by default, on a loopback address. */
  readonly http: HttpOptions;
}

/** Options as a config file or a caller gives them: any subset; `auth` may be partial too. */
export type BrokerOptionsInput = Partial<Omit<BrokerOptions, 'auth' | 'roles' | 'tls' | 'cluster' | 'http'>> & {
  readonly http?: HttpOptionsInput;
  readonly auth?: Partial<AuthOptions>;
  readonly roles?: Readonly<Record<string, RoleOptionsInput>>;
  readonly tls?: TlsOptionsInput | null;
  readonly cluster?: ClusterOptionsInput | null;
};

export const DEFAULT_BROKER_OPTIONS: BrokerOptions = Object.freeze({
  host: '0.0.0.0',
  port: 5672,
  dataDir: './data',
  logLevel: 'info',
  maxFrameBytes: 65536,
  maxMessageBytes: 100 * 1024 * 1024,
  idleTimeoutMs: 60_000,
  channelMax: 1023,
  producerCreditWindow: 1000,
  store: 'journal',
  fsyncPolicy: 'batch',
  fsyncIntervalMs: 10,
  segmentBytes: 64 * 1024 * 1024,
  maxMemoryBytes: 256 * 1024 * 1024,
  maxDiskBytes: 10 * 1024 * 1024 * 1024,
  diskFullPolicy: 'block',
  maxTransactionsPerConnection: 128,
  maxTransactionOperations: 10_000,
  maxTransactionBytesPerConnection: 64 * 1024 * 1024,
  queueDefaults: {},
  queues: {},
  topics: [],
  auth: DEFAULT_AUTH_OPTIONS,
  roles: {},
  tls: null,
  cluster: null,
  http: DEFAULT_HTTP_OPTIONS,
  ...DEFAULT_LIMIT_OPTIONS,
});

const brokerOptionChecks: { [K in keyof BrokerOptions]-?: Check<BrokerOptions[K]> } = {
  host: nonEmptyString,
  port: nullablePort,
  dataDir: nonEmptyString,
  logLevel: oneOf(LOG_LEVELS),
  maxFrameBytes: integerBetween(512, 4294967295, 'AMQP 1.0 2.7.1: at least 512, a uint'),
  maxMessageBytes: positiveInteger,
  idleTimeoutMs: positiveInteger,
  channelMax: integerBetween(1, 65535, 'AMQP 1.0 2.7.1 channel-max is a ushort'),
  producerCreditWindow: positiveInteger,
  store: oneOf(['journal', 'memory'] as const),
  fsyncPolicy: oneOf(['batch', 'per-message', 'interval', 'none'] as const),
  fsyncIntervalMs: positiveInteger,
  segmentBytes: integerBetween(65536, 2 ** 31 - 1),
  maxMemoryBytes: positiveInteger,
  maxDiskBytes: positiveInteger,
  diskFullPolicy: oneOf(['block', 'fail'] as const),
  maxTransactionsPerConnection: positiveInteger,
  maxTransactionOperations: positiveInteger,
  maxTransactionBytesPerConnection: positiveInteger,
  queueDefaults: checkQueueOptions,
  queues: checkQueuePolicies,
  topics: checkTopicPatterns,
  auth: checkAuthOptions as Check<AuthOptions>,
  roles: checkRoles,
  tls: checkTlsOptions,
  cluster: checkClusterInput as Check<ClusterOptions | null>,
  http: checkHttpOptions as Check<HttpOptions>,
  ...limitOptionChecks,
};

/** Validates options from any source; the error names the offending field. */
export function checkBrokerOptions(input: unknown, source: string): BrokerOptionsInput {
  return checkObject<BrokerOptions>(input, source, brokerOptionChecks) as BrokerOptionsInput;
}

export function readConfigFile(path: string): BrokerOptionsInput {
  return checkBrokerOptions(readJsonFile(path, 'a readable JSON config file'), '');
}

/** Defaults, then the config file, then command-line flags; the result is frozen. `auth`, `http` and `cluster` merge key by key. */
export function resolveBrokerOptions(...layers: BrokerOptionsInput[]): BrokerOptions {
  const checked = layers.map((layer) => checkBrokerOptions(layer, ''));
  const auth: AuthOptions = Object.freeze(Object.assign({}, DEFAULT_AUTH_OPTIONS, ...checked.map((layer) => layer.auth ?? {})));
  const http: HttpOptions = Object.freeze(Object.assign({}, DEFAULT_HTTP_OPTIONS, ...checked.map((layer) => layer.http ?? {})));
  const cluster = mergeClusterOptions(checked.map((layer) => layer.cluster as Partial<ClusterOptions> | null | undefined));
  const merged: BrokerOptions = Object.assign({}, DEFAULT_BROKER_OPTIONS, ...checked, { auth, http, cluster });
  checkSecurityOptions(merged);
  if (merged.cluster && merged.auth.usersFile !== null && merged.cluster.user === null) {
    throw new ConfigError('cluster.user', 'the user the nodes log in to each other as (a users file is configured: anonymous nodes would be refused)', null);
  }
  if (merged.cluster && merged.cluster.linksPerConnection > merged.channelMax + 1) {
    // Every node has the same configuration: the other nodes take sessions on channels up to this channelMax.
    throw new ConfigError('cluster.linksPerConnection', `at most channelMax + 1 (${merged.channelMax + 1}): each inter-node link has a session of its own`, merged.cluster.linksPerConnection);
  }
  if (merged.cluster?.tls && merged.tls?.caFile == null) {
    throw new ConfigError('cluster.tls', 'tls.caFile set as well: inter-node connections check the other nodes\' certificates against it', true);
  }
  return Object.freeze(merged);
}
