import { startAmqpServer } from '../amqp';
import { queueOptionsResolver } from '../config/queue-policies';
import { resolveBrokerOptions, type BrokerOptions, type BrokerOptionsInput } from '../config/options';
import { createLogger, type Logger } from './logger';
import { BrokerRuntime } from './runtime';
import { createStore } from './store-factory';

export interface RunningBroker {
  readonly host: string;
  readonly port: number;
  readonly options: BrokerOptions;
  readonly runtime: BrokerRuntime;
  /** Stops accepting, closes every connection with amqp:connection:forced, stops timers. */
  stop(): Promise<void>;
}

/** Starts a broker: runtime (core + clock) and the AMQP listener. */
export async function startBroker(input: BrokerOptionsInput, logger?: Logger): Promise<RunningBroker> {
  const options = resolveBrokerOptions(input);
  const log = logger ?? createLogger(options.logLevel);
  const runtime = new BrokerRuntime(queueOptionsResolver(options.queueDefaults, options.queues), createStore(options, log), options, log);
  const startedMs = Date.now();
  const recovered = runtime.recover();
  if (options.store === 'journal') {
    log.info({ dataDir: options.dataDir, ...recovered, recoveryMs: Date.now() - startedMs }, 'store recovered');
  }
  runtime.start();
  let amqp;
  try {
    amqp = await startAmqpServer(runtime, options, log);
  } catch (error) {
    runtime.stop();
    throw error;
  }
  log.info({ host: options.host, port: amqp.port }, 'listening');
  return {
    host: options.host,
    port: amqp.port,
    options,
    runtime,
    async stop() {
      await amqp.close();
      runtime.stop();
      log.info('stopped');
    },
  };
}
