import { ConfigError, boolean, checkObject, integerBetween, nonEmptyString, nullable, plainObject, type Check } from './validation';

/** Membership of a Convoy cluster on etcd (README, "Cluster"). */
export interface ClusterOptions {
  /** This node's name in the cluster: unique, stable across restarts. */
  readonly nodeId: string;
  /** etcd client URLs (`http://host:2379`); any one reachable member of a healthy cluster is enough. */
  readonly etcd: readonly string[];
  /** Where the other nodes reach this node's AMQP listener. */
  readonly advertise: { readonly host: string; readonly port: number };
  /** The node's etcd lease: its queues move to other nodes this long after it stops renewing it. */
  readonly leaseTtlMs: number;
  /**
   * After the node serving a queue is lost, how long this node waits for its clients to settle the
   * messages they received from it before it detaches their links (their messages come back anyway).
   */
  readonly releaseTimeoutMs: number;
  /** Every key Convoy writes to etcd starts with this: several clusters can share one etcd. */
  readonly etcdPrefix: string;
  /** The user inter-node connections log in as (SCRAM-SHA-256); null: anonymous. */
  readonly user: string | null;
  /** File holding that user's password (first line); null: `$CONVOY_CLUSTER_PASSWORD`. */
  readonly passwordFile: string | null;
  /** Inter-node connections use TLS, verifying the other node's certificate against `tls.caFile`. */
  readonly tls: boolean;
  /**
   * Links one inter-node connection carries (one session each: at most the other node's channelMax + 1);
   * more open another connection.
   */
  readonly linksPerConnection: number;
}

export type ClusterOptionsInput = Partial<Omit<ClusterOptions, 'advertise' | 'etcd'>> & {
  readonly advertise?: string;
  readonly etcd?: readonly string[] | string;
};

export const DEFAULT_CLUSTER_OPTIONS = Object.freeze({
  leaseTtlMs: 10_000,
  releaseTimeoutMs: 30_000,
  etcdPrefix: '/convoy/',
  user: null,
  passwordFile: null,
  tls: false,
  linksPerConnection: 500,
});

const NODE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

const nodeId: Check<string> = (value, field) => {
  if (typeof value === 'string' && NODE_ID.test(value)) return value;
  throw new ConfigError(field, 'a node id of letters, digits, ".", "_" and "-" (at most 64, starting with a letter or digit)', value);
};

/** `host:port`, `[v6]:port`: where other nodes connect. */
const hostAndPort: Check<{ host: string; port: number }> = (value, field) => {
  const match = typeof value === 'string' ? /^(?:\[([^\]]+)\]|([^:\s]+)):(\d{1,5})$/.exec(value) : null;
  const port = match ? Number(match[3]) : NaN;
  if (!match || port < 1 || port > 65535) throw new ConfigError(field, 'HOST:PORT, e.g. "10.0.0.5:5672"', value);
  return Object.freeze({ host: match[1] ?? match[2]!, port });
};

/** One URL or several (a comma-separated string, or an array): `http://host:port`. */
const etcdEndpoints: Check<readonly string[]> = (value, field) => {
  const list = typeof value === 'string' ? value.split(',').map((url) => url.trim()) : value;
  if (!Array.isArray(list) || list.length === 0) throw new ConfigError(field, 'etcd client URLs, e.g. ["http://10.0.0.1:2379"]', value);
  return Object.freeze(
    list.map((url, index) => {
      if (typeof url !== 'string' || !/^https?:\/\/[^\s/]+:\d{1,5}\/?$/.test(url)) {
        throw new ConfigError(`${field}[${index}]`, 'an etcd client URL, http://HOST:PORT or https://HOST:PORT', url);
      }
      return url.replace(/\/$/, '');
    }),
  );
};

/** etcd grants leases in whole seconds; at least 2 s (etcd's own floor with its default timings). */
const leaseTtlMs: Check<number> = (value, field) => {
  const ms = integerBetween(2000, 600_000, 'etcd leases are whole seconds')(value, field);
  if (ms % 1000 !== 0) throw new ConfigError(field, 'a whole number of seconds in ms (etcd leases are whole seconds), e.g. 10000', value);
  return ms;
};

const etcdPrefix: Check<string> = (value, field) => {
  if (typeof value === 'string' && value.startsWith('/') && value.endsWith('/')) return value;
  throw new ConfigError(field, 'a key prefix that starts and ends with "/", e.g. "/convoy/"', value);
};

const clusterChecks: { [K in keyof ClusterOptions]-?: Check<unknown> } = {
  nodeId,
  etcd: etcdEndpoints,
  advertise: hostAndPort,
  leaseTtlMs,
  releaseTimeoutMs: integerBetween(0, 3_600_000),
  etcdPrefix,
  user: nullable(nonEmptyString),
  passwordFile: nullable(nonEmptyString),
  tls: boolean,
  linksPerConnection: integerBetween(1, 65536),
};

/** One layer's `cluster` object (any subset of its keys), checked field by field. */
export function checkClusterInput(input: unknown, field: string): Partial<ClusterOptions> | null {
  if (input === null) return null;
  plainObject(input, field);
  return checkObject<ClusterOptions>(input, field, clusterChecks as { [K in keyof ClusterOptions]-?: Check<ClusterOptions[K]> });
}

/**
 * The layers' `cluster` objects merged key by key (a config file may name etcd, a flag the node id);
 * null when no layer has one: a single node. nodeId, etcd and advertise are required together.
 */
export function mergeClusterOptions(layers: readonly (Partial<ClusterOptions> | null | undefined)[]): ClusterOptions | null {
  if (layers.every((layer) => layer === undefined || layer === null)) return null;
  const merged = Object.assign({}, DEFAULT_CLUSTER_OPTIONS, ...layers.filter((layer) => layer)) as Partial<ClusterOptions>;
  for (const required of ['nodeId', 'etcd', 'advertise'] as const) {
    if (merged[required] === undefined) {
      const flag = { nodeId: '--node-id ID', etcd: '--etcd URL[,URL...]', advertise: '--advertise HOST:PORT' }[required];
      throw new ConfigError(`cluster.${required}`, `a value (a cluster node needs --node-id, --etcd and --advertise; ${flag})`, undefined);
    }
  }
  return Object.freeze(merged as ClusterOptions);
}
