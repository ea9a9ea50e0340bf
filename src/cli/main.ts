import { Command, InvalidArgumentError } from 'commander';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../config/validation';
import { StoreError } from '../store/types';
import { readConfigFile, type BrokerOptionsInput, LOG_LEVELS, type LogLevel } from '../config/options';
import { startBroker } from '../broker/server';
import { createLogger } from '../broker/logger';
import { AdminError, fetchAdminSnapshot, type AdminTarget } from '../amqp';
import type { GroupView } from '../core/inspect';
import type { QueueReport } from '../broker/runtime';
import { renderGroups, renderQueues } from './tables';

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
  dataDir?: string;
  config?: string;
  logLevel?: string;
}

async function start(flags: StartFlags): Promise<void> {
  const fromFile: BrokerOptionsInput = flags.config ? readConfigFile(flags.config) : {};
  const fromFlags: BrokerOptionsInput = {
    ...(flags.host !== undefined && { host: flags.host }),
    ...(flags.port !== undefined && { port: flags.port }),
    ...(flags.dataDir !== undefined && { dataDir: flags.dataDir }),
    ...(flags.logLevel !== undefined && { logLevel: flags.logLevel as LogLevel }),
  };
  const logLevel = (fromFlags.logLevel ?? fromFile.logLevel ?? 'info') as LogLevel;
  const logger = createLogger(LOG_LEVELS.includes(logLevel) ? logLevel : 'info');
  const broker = await startBroker({ ...fromFile, ...fromFlags }, logger);
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
}

interface AdminFlags {
  host: string;
  port: number;
  json?: boolean;
}

async function showQueues(flags: AdminFlags): Promise<void> {
  const snapshot = (await fetchAdminSnapshot(adminTarget(flags), 'queues')) as { queues: QueueReport[] };
  process.stdout.write(`${flags.json ? JSON.stringify(snapshot, null, 2) : renderQueues(snapshot.queues)}\n`);
}

async function showGroups(queue: string, flags: AdminFlags): Promise<void> {
  const snapshot = (await fetchAdminSnapshot(adminTarget(flags), `groups/${queue}`)) as { queue: QueueReport; groups: GroupView[] };
  process.stdout.write(`${flags.json ? JSON.stringify(snapshot, null, 2) : renderGroups(snapshot.queue, snapshot.groups)}\n`);
}

function adminTarget(flags: AdminFlags): AdminTarget {
  return { host: flags.host, port: flags.port, timeoutMs: 5000 };
}

function adminOptions(command: Command): Command {
  return command
    .option('--host <host>', 'broker host', '127.0.0.1')
    .option('--port <port>', 'broker AMQP port', integerFlag('--port'), 5672)
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
    .option('--data-dir <dir>', 'directory for broker data (default ./data)')
    .option('--config <file>', 'JSON configuration file; flags override it')
    .option('--log-level <level>', `one of ${LOG_LEVELS.join(', ')} (default info)`)
    .action(start);
  adminOptions(program.command('queues').description('show queues and their consumers (which exclusive consumer is active)')).action(showQueues);
  adminOptions(
    program.command('groups <queue>').description('show which consumer owns which group of a queue, with queued and in-flight counts'),
  ).action(showGroups);
  return program;
}

export function main(argv: string[]): void {
  buildProgram()
    .parseAsync(argv)
    .catch((error: unknown) => {
      if (error instanceof ConfigError || error instanceof AdminError || error instanceof StoreError) {
        process.stderr.write(`convoy: ${error.message}\n`);
      } else {
        process.stderr.write(`convoy: ${(error as Error).stack ?? String(error)}\n`);
      }
      process.exit(1);
    });
}
