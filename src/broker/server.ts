import { startAmqpServer } from '../amqp';
import { ClusterNode } from '../cluster/cluster-node';
import { queueOptionsResolver } from '../config/queue-policies';
import { resolveBrokerOptions, type BrokerOptions, type BrokerOptionsInput } from '../config/options';
import { readTlsCredentials } from '../security/tls-files';
import { createLogger, type Logger } from './logger';
import { BrokerRuntime } from './runtime';
import { createSecurity } from './security-factory';
import { createStore } from './store-factory';

export interface RunningBroker {
  readonly host: string;
  /** The plain AMQP port; null when that listener is off. */
  readonly port: number | null;
  /** The amqps port; null without tls. */
  readonly tlsPort: number | null;
  readonly options: BrokerOptions;
  readonly runtime: BrokerRuntime;
  /** This node's cluster membership; null on a single node. */
  readonly cluster: ClusterNode | null;
  /** SIGHUP: reads the TLS certificate, key and CA files again; open connections are not touched. */
  reload(): void;
  /** Stops accepting, closes every connection with amqp:connection:forced, stops timers. */
  stop(): Promise<void>;
}

/**
 * Starts a broker: runtime (core + clock) and the AMQP listener; with `cluster` options, it first joins
 * the cluster on etcd, which picks the journal this node writes (README, "Cluster").
 */
export async function startBroker(input: BrokerOptionsInput, logger?: Logger): Promise<RunningBroker> {
  const options = resolveBrokerOptions(input);
  const log = logger ?? createLogger(options.logLevel);
  const security = createSecurity(options, log);
  const cluster = options.cluster ? await ClusterNode.join(options, log) : null;
  let runtime: BrokerRuntime;
  let amqp;
  try {
    runtime = new BrokerRuntime(queueOptionsResolver(options.queueDefaults, options.queues), createStore(options, log, cluster?.journal ?? null), options, log);
    const startedMs = Date.now();
    const recovered = runtime.recover();
    if (options.store === 'journal') {
      log.info({ dataDir: cluster?.journal?.dir ?? options.dataDir, ...recovered, recoveryMs: Date.now() - startedMs }, 'store recovered');
    }
    cluster?.attachRuntime(runtime);
    runtime.start();
    try {
      amqp = await startAmqpServer(runtime, options, log, security, cluster);
    } catch (error) {
      runtime.stop();
      throw error;
    }
  } catch (error) {
    await cluster?.leave();
    throw error;
  }
  log.info({ host: options.host, ...(amqp.tlsPort !== null && { tlsPort: amqp.tlsPort }), ...(amqp.port !== null && { port: amqp.port }) }, 'listening');
  log.info({ plain: amqp.port === null ? 'off' : 'on', tls: tlsMode(options) }, `security: ${security.authenticator.describeMode()}`);
  return {
    host: options.host,
    port: amqp.port,
    tlsPort: amqp.tlsPort,
    options,
    runtime,
    cluster,
    reload() {
      if (!options.tls) return;
      try {
        amqp.reloadTls(readTlsCredentials(options.tls));
        log.info({ certFile: options.tls.certFile }, 'TLS certificates reloaded: new connections use them');
      } catch (error) {
        log.error({ error: (error as Error).message }, 'TLS certificates not reloaded: the previous ones stay in force');
      }
    },
    async stop() {
      await amqp.close();
      runtime.stop();
      // Last: once the lease is revoked other nodes take this node's store over, so it must be closed.
      await cluster?.leave();
      log.info('stopped');
    },
  };
}

function tlsMode(options: BrokerOptions): string {
  if (options.tls === null) return 'off';
  if (options.tls.requireClientCert) return 'on, client certificate required';
  return options.tls.caFile === null ? 'on' : 'on, client certificate optional';
}
