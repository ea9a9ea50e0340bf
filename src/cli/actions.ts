import { Command, InvalidArgumentError } from 'commander';
import { readFileSync } from 'node:fs';
import type { ConnectionReport } from '../amqp';
import { DEFAULT_HTTP_PORT } from '../config/http-options';
import { callHttpApi, type HttpAdminTarget } from './http-admin';
import { readPassword } from './password-input';
import { renderTable } from './tables';

/**
 * The operator actions of the HTTP API as commands (README "Watching Convoy"): purge, delete, dlq-retry,
 * release-group, connections (and closing one). They call the broker's HTTP API, so they need what it
 * needs: a loopback address without users, else a user with `manage` (HTTP Basic; over HTTPS unless
 * the broker is on this machine).
 */
interface HttpFlags {
  host: string;
  httpPort?: number;
  user?: string;
  tls?: boolean;
  caFile?: string;
  json?: boolean;
}

function wholeNumber(name: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`${name} must be a whole number`);
    return Number(value);
  };
}

function httpOptions(command: Command): Command {
  return command
    .option('--host <host>', 'broker host', '127.0.0.1')
    .option('--http-port <port>', `broker HTTP port (default ${DEFAULT_HTTP_PORT})`, wholeNumber('--http-port'))
    .option('--user <name>', 'log in as this user (HTTP Basic); password from $CONVOY_PASSWORD, else prompted or read from stdin')
    .option('--tls', 'HTTPS (the broker serves HTTPS when it has tls configured)')
    .option('--ca-file <file>', "PEM CA certificate to verify the broker's certificate by (implies --tls)")
    .option('--json', 'print the raw JSON answer');
}

async function targetOf(flags: HttpFlags): Promise<HttpAdminTarget> {
  const password = flags.user === undefined ? undefined : (process.env.CONVOY_PASSWORD ?? (await readPassword(`Password for ${flags.user}: `, false)));
  const tls = flags.tls === true || flags.caFile !== undefined;
  let ca: Buffer | undefined;
  if (flags.caFile !== undefined) {
    try {
      ca = readFileSync(flags.caFile);
    } catch (error) {
      throw new InvalidArgumentError(`--ca-file: ${(error as Error).message}`);
    }
  }
  return {
    host: flags.host,
    port: flags.httpPort ?? DEFAULT_HTTP_PORT,
    timeoutMs: 10_000,
    ...(password !== undefined && { credentials: { user: flags.user!, password } }),
    ...(tls && { tls: ca === undefined ? {} : { ca } }),
  };
}

const segment = encodeURIComponent;

function print(flags: HttpFlags, answer: unknown, text: string): void {
  process.stdout.write(`${flags.json ? JSON.stringify(answer, null, 2) : text}\n`);
}

export function addActionCommands(program: Command): void {
  httpOptions(program.command('purge <queue>').description('remove every queued message of a queue (messages in flight are left to settle)')).action(
    async (queue: string, flags: HttpFlags) => {
      const answer = (await callHttpApi(await targetOf(flags), 'POST', `/api/queues/${segment(queue)}/purge`)) as { purged: number; inFlight: number };
      print(flags, answer, `${queue}: ${answer.purged} messages purged; ${answer.inFlight} in flight left to settle`);
    },
  );
  httpOptions(program.command('delete <queue>').description('delete a queue with its messages; its consumers are detached')).action(async (queue: string, flags: HttpFlags) => {
    const answer = (await callHttpApi(await targetOf(flags), 'DELETE', `/api/queues/${segment(queue)}`)) as { messages: number };
    print(flags, answer, `${queue}: deleted with ${answer.messages} messages`);
  });
  httpOptions(
    program
      .command('dlq-retry <dead-letter-queue>')
      .description('move dead-lettered messages back to the queue each came from (to its end, delivery-count 0)')
      .option('--from <queue>', 'only messages dead-lettered from this queue')
      .option('--limit <n>', 'at most this many messages', wholeNumber('--limit')),
  ).action(async (queue: string, flags: HttpFlags & { from?: string; limit?: number }) => {
    const body = { ...(flags.from !== undefined && { from: flags.from }), ...(flags.limit !== undefined && { limit: flags.limit }) };
    const answer = (await callHttpApi(await targetOf(flags), 'POST', `/api/queues/${segment(queue)}/dlq-retry`, body)) as { retried: number; remaining: number };
    print(flags, answer, `${queue}: ${answer.retried} messages moved back to their queues; ${answer.remaining} left`);
  });
  httpOptions(
    program
      .command('release-group <queue> <group>')
      .description('release a group from its owner: it moves once its in-flight messages are settled, never to two owners'),
  ).action(async (queue: string, group: string, flags: HttpFlags) => {
    const answer = (await callHttpApi(await targetOf(flags), 'POST', `/api/queues/${segment(queue)}/groups/${segment(group)}/release`)) as {
      released: 'now' | 'after-settlement';
      group: { owner: string | null; inFlight: number } | null;
    };
    const text =
      answer.released === 'now'
        ? `${queue}/${group}: released; its next message goes to a fresh pick`
        : `${queue}/${group}: leaves ${answer.group?.owner} once its ${answer.group?.inFlight} in-flight messages are settled`;
    print(flags, answer, text);
  });
  httpOptions(
    program
      .command('connections')
      .description('list open AMQP connections with their links; --close closes one')
      .option('--close <id>', 'close this connection (amqp:connection:forced); its unsettled messages return to their queues'),
  ).action(async (flags: HttpFlags & { close?: string }) => {
    const target = await targetOf(flags);
    if (flags.close !== undefined) {
      const answer = await callHttpApi(target, 'DELETE', `/api/connections/${segment(flags.close)}`);
      print(flags, answer, `${flags.close}: closed`);
      return;
    }
    const answer = (await callHttpApi(target, 'GET', '/api/connections')) as { connections: ConnectionReport[] };
    print(flags, answer, renderConnections(answer.connections));
  });
}

export function renderConnections(connections: readonly ConnectionReport[]): string {
  if (connections.length === 0) return 'no connections';
  return renderTable(
    ['ID', 'USER', 'CONTAINER', 'REMOTE', 'TLS', 'CONSUMERS', 'PRODUCERS'],
    connections.map((c) => [
      c.id,
      c.user ?? '-',
      c.container ?? '-',
      c.remote,
      c.tls ? 'yes' : 'no',
      c.consumers.map((l) => `${l.consumerId} ${l.address ?? '(dynamic)'}`).join(', ') || '-',
      c.producers.map((l) => l.address ?? '(relay)').join(', ') || '-',
    ]),
  );
}
