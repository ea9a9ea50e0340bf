import { Command, InvalidArgumentError } from 'commander';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../config/validation';
import { StoreError } from '../store/types';
import { readConfigFile, type BrokerOptionsInput, LOG_LEVELS, type LogLevel } from '../config/options';
import { startBroker } from '../broker/server';
import { createLogger } from '../broker/logger';
import { AdminError, fetchAdminSnapshot, type AdminTarget, type QueuesSnapshot } from '../amqp';
import type { GroupView } from '../core/inspect';
import type { QueueReport } from '../broker/runtime';
import type { ClusterSnapshot } from '../broker/cluster-services';
import { addActionCommands } from './actions';
import { HttpAdminError } from './http-admin';
import { PasswordInputError, readPassword } from './password-input';
import { renderCluster, renderGroups, renderQueues } from './tables';
import { UsersCommandError, usersCommand } from './users';

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

function integerFlag(name: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`${name} must be a whole number`);
    return Number(value);
  };
}

interface StartFlags {
  host?: string;
  port?: number;
  httpPort?: number;
  dataDir?: string;
  config?: string;
  logLevel?: string;
  nodeId?: string;
  etcd?: string;
  advertise?: string;
}

/** --node-id, --etcd and --advertise: the `cluster` keys they set (null when none is given). */
function clusterFlags(flags: StartFlags): NonNullable<BrokerOptionsInput['cluster']> | null {
  if (flags.nodeId === undefined && flags.etcd === undefined && flags.advertise === undefined) return null;
  return {
    ...(flags.nodeId !== undefined && { nodeId: flags.nodeId }),
    ...(flags.etcd !== undefined && { etcd: flags.etcd }),
    ...(flags.advertise !== undefined && { advertise: flags.advertise }),
  };
}

async function start(flags: StartFlags): Promise<void> {
  const fromFile: BrokerOptionsInput = flags.config ? readConfigFile(flags.config) : {};
  const fromFlags: BrokerOptionsInput = {
    ...(flags.host !== undefined && { host: flags.host }),
    ...(flags.port !== undefined && { port: flags.port }),
    ...(flags.httpPort !== undefined && { http: { port: flags.httpPort } }),
    ...(flags.dataDir !== undefined && { dataDir: flags.dataDir }),
    ...(flags.logLevel !== undefined && { logLevel: flags.logLevel as LogLevel }),
    ...(clusterFlags(flags) && { cluster: clusterFlags(flags)! }),
  };
  const logLevel = (fromFlags.logLevel ?? fromFile.logLevel ?? 'info') as LogLevel;
  const logger = createLogger(LOG_LEVELS.includes(logLevel) ? logLevel : 'info');
  // The cluster keys merge one by one: a config file may hold cluster.etcd, the flags the node id.
  const cluster = fromFile.cluster || fromFlags.cluster ? { cluster: { ...fromFile.cluster, ...fromFlags.cluster } } : {};
  const broker = await startBroker({ ...fromFile, ...fromFlags, ...cluster }, logger);
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    broker.stop().then(
      () => logger.flush(() => process.exit(0)),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        logger.flush(() => process.exit(1));
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGHUP', () => {
    logger.info({ signal: 'SIGHUP' }, 'reloading TLS certificates');
    broker.reload();
  });
}

interface AdminFlags {
  host: string;
  port?: number;
  json?: boolean;
  user?: string;
  tls?: boolean;
  caFile?: string;
  certFile?: string;
  keyFile?: string;
}

async function showQueues(flags: AdminFlags): Promise<void> {
  const snapshot = (await fetchAdminSnapshot(await adminTarget(flags), 'queues')) as QueuesSnapshot;
  process.stdout.write(`${flags.json ? JSON.stringify(snapshot, null, 2) : renderQueues(snapshot.queues, snapshot.topics, snapshot.cluster)}\n`);
}

async function showCluster(flags: AdminFlags): Promise<void> {
  const snapshot = (await fetchAdminSnapshot(await adminTarget(flags), 'cluster')) as ClusterSnapshot;
  process.stdout.write(`${flags.json ? JSON.stringify(snapshot, null, 2) : renderCluster(snapshot)}\n`);
}

async function showGroups(queue: string, flags: AdminFlags): Promise<void> {
  const snapshot = (await fetchAdminSnapshot(await adminTarget(flags), `groups/${queue}`)) as { queue: QueueReport; groups: GroupView[] };
  process.stdout.write(`${flags.json ? JSON.stringify(snapshot, null, 2) : renderGroups(snapshot.queue, snapshot.groups)}\n`);
}

/**
 * Where and how `convoy queues/groups` connect: TLS when any TLS flag is given; with --user, the
 * password from $CONVOY_PASSWORD, else prompted (terminal) or read from stdin.
 */
async function adminTarget(flags: AdminFlags): Promise<AdminTarget> {
  const password = flags.user === undefined ? undefined : (process.env.CONVOY_PASSWORD ?? (await readPassword(`Password for ${flags.user}: `, false)));
  const tls = flags.tls === true || flags.caFile !== undefined || flags.certFile !== undefined;
  if ((flags.certFile === undefined) !== (flags.keyFile === undefined)) throw new InvalidArgumentError('--cert-file and --key-file go together');
  return {
    host: flags.host,
    port: flags.port ?? (tls ? 5671 : 5672),
    timeoutMs: 5000,
    ...(password !== undefined && { credentials: { user: flags.user!, password } }),
    ...(tls && {
      tls: {
        ...(flags.caFile !== undefined && { ca: readFile('--ca-file', flags.caFile) }),
        ...(flags.certFile !== undefined && { cert: readFile('--cert-file', flags.certFile), key: readFile('--key-file', flags.keyFile!) }),
      },
    }),
  };
}

function readFile(flag: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new InvalidArgumentError(`${flag}: ${(error as Error).message}`);
  }
}

function adminOptions(command: Command): Command {
  return command
    .option('--host <host>', 'broker host', '127.0.0.1')
    .option('--port <port>', 'broker AMQP port (default 5672, with TLS 5671)', integerFlag('--port'))
    .option('--user <name>', 'log in as this user (SCRAM-SHA-256); password from $CONVOY_PASSWORD, else prompted or read from stdin')
    .option('--tls', 'connect with TLS (amqps)')
    .option('--ca-file <file>', "PEM CA certificate to verify the broker's certificate by (implies --tls)")
    .option('--cert-file <file>', 'PEM client certificate (implies --tls; logs in with it unless --user is given)')
    .option('--key-file <file>', "the client certificate's PEM private key")
    .option('--json', 'print the raw JSON snapshot');
}

export function buildProgram(): Command {
  const program = new Command();
  program.name('convoy').description('AMQP 1.0 broker for ordered parallel processing').version(packageVersion());
  program
    .command('start')
    .description('start the broker')
    .option('--host <host>', 'address to listen on (default 0.0.0.0)')
    .option('--port <port>', 'AMQP port, 0 for any free port (default 5672)', integerFlag('--port'))
    .option('--http-port <port>', 'HTTP port of the API, metrics and web console, 0 for any free port (default 8161)', integerFlag('--http-port'))
    .option('--data-dir <dir>', 'directory for broker data (default ./data)')
    .option('--config <file>', 'JSON configuration file; flags override it')
    .option('--log-level <level>', `one of ${LOG_LEVELS.join(', ')} (default info)`)
    .option('--node-id <id>', 'join a cluster as this node (cluster.nodeId; with --etcd and --advertise)')
    .option('--etcd <urls>', 'etcd client URLs of the cluster, comma-separated (cluster.etcd)')
    .option('--advertise <host:port>', "where the other nodes reach this node's AMQP listener (cluster.advertise)")
    .action(start);
  adminOptions(
    program.command('queues').description('show queues and their consumers (which exclusive consumer is active), topics and their subscriptions'),
  ).action(showQueues);
  adminOptions(
    program
      .command('groups <queue>')
      .description('show which consumer owns which group of a queue (a subscription: <topic>::<subscription>), with queued and in-flight counts'),
  ).action(showGroups);
  adminOptions(program.command('cluster').description("show the cluster's nodes, their state, and the queues each is home to")).action(showCluster);
  addActionCommands(program);
  program.addCommand(usersCommand());
  return program;
}

export function main(argv: string[]): void {
  buildProgram()
    .parseAsync(argv)
    .catch((error: unknown) => {
      if (
        error instanceof ConfigError ||
        error instanceof AdminError ||
        error instanceof HttpAdminError ||
        error instanceof StoreError ||
        error instanceof UsersCommandError ||
        error instanceof PasswordInputError ||
        error instanceof InvalidArgumentError
      ) {
        process.stderr.write(`convoy: ${error.message}\n`);
      } else {
        process.stderr.write(`convoy: ${(error as Error).stack ?? String(error)}\n`);
      }
      process.exit(1);
    });
}
