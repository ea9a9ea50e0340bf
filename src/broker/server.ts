import { compileStoredSelector, startAmqpServer } from '../amqp';
import { ClusterNode } from '../cluster/cluster-node';
import { BrokerMetrics, startHttpServer, type HttpServer } from '../http';
import { queueOptionsResolver } from '../config/queue-policies';
import { topicMatcher } from '../config/topic-patterns';
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
  /** The HTTP (API, metrics, console) listener's port; null when it is off. */
  readonly httpPort: number | null;
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
  const metrics = new BrokerMetrics();
  let runtime: BrokerRuntime;
  let amqp;
  try {
    runtime = new BrokerRuntime(
      queueOptionsResolver(options.queueDefaults, options.queues),
      createStore(options, log, metrics.observeFsync, cluster?.journal ?? null),
      options,
      log,
      Date.now,
      topicMatcher(options.topics),
      compileStoredSelector,
    );
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
  metrics.watch({ runtime, connectionCount: () => amqp.connectionCount() });
  let httpServer: HttpServer | null = null;
  if (options.http.port !== null) {
    try {
      httpServer = await startHttpServer(options.http, security.tls, { runtime, connections: amqp, logger: log, metrics, security });
    } catch (error) {
      await amqp.close();
      runtime.stop();
      await cluster?.leave();
      throw error;
    }
    const scheme = httpServer.tls ? 'https' : 'http';
    log.info({ host: httpServer.host, httpPort: httpServer.port, url: `${scheme}://${hostForUrl(httpServer.host)}:${httpServer.port}/` }, 'console and API listening');
  }
  log.info({ plain: amqp.port === null ? 'off' : 'on', tls: tlsMode(options) }, `security: ${security.authenticator.describeMode()}`);
  return {
    host: options.host,
    port: amqp.port,
    tlsPort: amqp.tlsPort,
    httpPort: httpServer?.port ?? null,
    options,
    runtime,
    cluster,
    reload() {
      if (!options.tls) return;
      try {
        const credentials = readTlsCredentials(options.tls);
        amqp.reloadTls(credentials);
        httpServer?.reloadTls(credentials);
        log.info({ certFile: options.tls.certFile }, 'TLS certificates reloaded: new connections use them');
      } catch (error) {
        log.error({ error: (error as Error).message }, 'TLS certificates not reloaded: the previous ones stay in force');
      }
    },
    async stop() {
      await httpServer?.close();
      await amqp.close();
      runtime.stop();
      // Last: once the lease is revoked other nodes take this node's store over, so it must be closed.
      await cluster?.leave();
      log.info('stopped');
    },
  };
}

function hostForUrl(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

function tlsMode(options: BrokerOptions): string {
  if (options.tls === null) return 'off';
  if (options.tls.requireClientCert) return 'on, client certificate required';
  return options.tls.caFile === null ? 'on' : 'on, client certificate optional';
}
