import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBrokerProcess, type BrokerProcess } from '../support/broker-process';
import { connect, receive, sendAll } from '../support/client';
import { rheaFrames } from '../support/raw-amqp';
import type { FuzzCase } from './mutations';

/**
 * Runs fuzz cases against a broker process and judges the broker: every case is one connection that
 * writes a mutated client stream; the broker must answer with a clean end (a close, end or detach with
 * an AMQP condition and a description of its own, or a SASL outcome), never with an internal error, a
 * frame it cannot encode, or an error in its log. Between batches the broker must be alive, serve a
 * healthy client, still hold the durable sentinel message, and keep its memory bounded.
 */

/** Conditions a broker may answer bad input with; anything else (amqp:internal-error above all) is a finding. */
const CLEAN_CONDITIONS = new Set([
  'amqp:decode-error',
  'amqp:connection:framing-error',
  'amqp:invalid-field',
  'amqp:illegal-state',
  'amqp:not-implemented',
  'amqp:not-found',
  'amqp:resource-limit-exceeded',
  'amqp:session:unattached-handle',
  'amqp:session:handle-in-use',
  'amqp:session:window-violation',
  'amqp:link:transfer-limit-exceeded',
  'amqp:link:message-size-exceeded',
]);
/** Wording that only rhea's or V8's internals use. */
const INTERNAL_WORDING = /is not a function|Cannot read|of undefined|of null|Invalid handle|received on invalid channel|frame sequence error|circular buffer|RangeError|TypeError/;

export const SENTINEL_QUEUE = 'fuzz-sentinel.durable';
const SENTINEL_BODY = 'the durable sentinel';

export interface CaseVerdict {
  /** What the broker did with the connection: closed it (with which condition), or kept it open. */
  readonly outcome: string;
  readonly problem: string | null;
  /** The case's client port: the broker's log names each connection by it ("remote"). */
  readonly localPort?: number;
}

export interface Finding {
  readonly problem: string;
  readonly cases: readonly { readonly index: number; readonly fuzzCase: FuzzCase }[];
  readonly savedTo: string;
}

export class FuzzBroker {
  /** Log lines of level error (50) or above, in order; the rest of the log is not kept. */
  private readonly errorLines: string[] = [];

  private constructor(
    readonly process: BrokerProcess,
    readonly dataDir: string,
  ) {
    // A long run logs gigabytes (every connection at info level); keep only the errors.
    const stdout = process.child.stdout!;
    stdout.removeAllListeners('data');
    let partial = '';
    stdout.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop()!;
      for (const line of lines) if (/"level":(5|6)\d/.test(line)) this.errorLines.push(line);
    });
  }

  static async start(): Promise<FuzzBroker> {
    const dataDir = mkdtempSync(join(tmpdir(), 'convoy-fuzz-'));
    const config = join(dataDir, 'config.json');
    // Failed logins are not slowed down (auth.failedLoginDelayMs 0): mutated SASL frames fail logins from
    // the fuzzer's address all the time, and the throttle would then refuse every later case at SASL.
    writeFileSync(config, JSON.stringify({ maxMemoryBytes: 32 * 1024 * 1024, idleTimeoutMs: 30_000, auth: { failedLoginDelayMs: 0 } }));
    const broker = await startBrokerProcess(['--data-dir', join(dataDir, 'data'), '--config', config]);
    return new FuzzBroker(broker, dataDir);
  }

  get port(): number {
    return this.process.port;
  }

  get alive(): boolean {
    return this.process.child.exitCode === null && this.process.child.signalCode === null;
  }

  residentMiB(): number {
    const status = readFileSync(`/proc/${this.process.child.pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024;
  }

  /** The client port of the connection a log line is about (its "remote"), if it names one. */
  static remotePortOf(line: string): number | null {
    const match = /"remote":"[^"]*:(\d+)"/.exec(line);
    return match ? Number(match[1]) : null;
  }

  /** How many error lines the broker has logged so far: a mark for errorsInLog. */
  get logMark(): number {
    return this.errorLines.length;
  }

  /** Log lines of level error (50) or above, logged since `mark`. */
  errorsInLog(mark: number): string[] {
    return this.errorLines.slice(mark);
  }

  async stop(): Promise<void> {
    if (this.alive) this.process.child.kill('SIGKILL');
    await this.process.exited;
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** Writes one case on a fresh connection and reads the broker's answer until it closes or falls quiet. */
export function runCase(port: number, fuzzCase: FuzzCase, quietMs = 40, maxMs = 1500): Promise<CaseVerdict> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let received = Buffer.alloc(0);
    let quietTimer: NodeJS.Timeout | undefined;
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(quietTimer);
      clearTimeout(maxTimer);
      const closed = socket.destroyed || socket.readableEnded;
      const localPort = socket.localPort;
      socket.destroy();
      resolve({ ...judge(received, closed), localPort });
    };
    const maxTimer = setTimeout(finish, maxMs);
    const quiet = (): void => {
      clearTimeout(quietTimer);
      quietTimer = setTimeout(finish, quietMs);
    };
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      quiet();
    });
    socket.on('close', finish);
    socket.on('end', finish);
    socket.once('connect', () => {
      void writeInPieces(socket, fuzzCase).then(() => {
        if (fuzzCase.endAfterWrite) socket.end();
        quiet();
      });
    });
  });
}

async function writeInPieces(socket: net.Socket, fuzzCase: FuzzCase): Promise<void> {
  let from = 0;
  for (const split of [...fuzzCase.splits, fuzzCase.bytes.length]) {
    if (split <= from) continue;
    if (socket.destroyed) return;
    socket.write(fuzzCase.bytes.subarray(from, split));
    from = split;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Parses what the broker wrote; every error it carries must be clean. */
export function judge(received: Buffer, closed: boolean): CaseVerdict {
  const errors: { where: string; condition?: string; description?: string }[] = [];
  let offset = 0;
  let saslOutcome: number | undefined;
  while (offset + 8 <= received.length) {
    if (received.toString('latin1', offset, offset + 4) === 'AMQP') {
      offset += 8;
      continue;
    }
    const size = received.readUInt32BE(offset);
    if (size < 8 || offset + size > received.length) break;
    let frame;
    try {
      frame = rheaFrames.read_frame(received.subarray(offset, offset + size));
    } catch (error) {
      return { outcome: 'unreadable', problem: `the broker wrote a frame rhea cannot read: ${(error as Error).message}` };
    }
    offset += size;
    const performative = frame.performative as Record<string, unknown> | undefined;
    const name = performative ? String(performative.constructor).split('#')[0] : 'empty';
    if (name === 'sasl_outcome') saslOutcome = performative!.code as number;
    const error = performative?.error as { condition?: string; description?: string } | undefined;
    if ((name === 'close' || name === 'end' || name === 'detach') && error) errors.push({ where: name, condition: error.condition, description: error.description });
  }
  for (const error of errors) {
    if (!error.condition || !CLEAN_CONDITIONS.has(error.condition)) return { outcome: `${error.where} ${error.condition}`, problem: `${error.where} with ${error.condition}: ${error.description}` };
    if (INTERNAL_WORDING.test(error.description ?? '')) return { outcome: `${error.where} ${error.condition}`, problem: `${error.where} leaks internal wording: ${error.description}` };
  }
  const last = errors.at(-1);
  if (last) return { outcome: `${last.where} ${last.condition}`, problem: null };
  if (saslOutcome !== undefined && saslOutcome !== 0) return { outcome: `sasl-outcome ${saslOutcome}`, problem: null };
  return { outcome: closed ? 'closed' : 'open', problem: null };
}

/** Sends the durable sentinel the health check looks for. */
export async function placeSentinel(port: number): Promise<void> {
  const client = await connect(port);
  const sender = await client.openSender(SENTINEL_QUEUE);
  await sendAll(sender, [{ body: SENTINEL_BODY, durable: true }]);
  await client.close();
}

/**
 * The broker serves a healthy client: a message round trip within `withinMs`, and the durable sentinel
 * still queued. Then every other queue is drained (so what replays enqueue does not pile up and read
 * as a leak). Returns a description of what failed, or null.
 */
export async function healthCheck(port: number, round: number, withinMs = 3000): Promise<string | null> {
  return withTimeout(checkHealth(port, round, withinMs), 4 * withinMs, 'the health check').catch((error: Error) => error.message);
}

async function checkHealth(port: number, round: number, withinMs: number): Promise<string | null> {
  let client;
  try {
    const started = Date.now();
    client = await withTimeout(connect(port), withinMs, 'connect');
    let lost: string | null = null;
    client.connection.on('disconnected', (context) => (lost = String(context.error ?? 'disconnected')));
    const queue = `fuzz-health.${round}`;
    const sender = await withTimeout(client.openSender(queue), withinMs, 'attach a sender');
    const outcome = await withTimeout(sendAll(sender, [{ body: `ping ${round}` }]), withinMs, 'send');
    if (outcome[0] !== 'accepted') return `health message ${outcome[0]}`;
    const receiver = await withTimeout(client.openReceiver(queue), withinMs, 'attach a receiver');
    const got = await receive(receiver, 1, withinMs);
    if (got[0]?.message.body !== `ping ${round}`) return 'the health message did not come back';
    got[0].delivery.accept();
    const roundTripMs = Date.now() - started;
    if (roundTripMs > withinMs) return `the health round trip took ${roundTripMs} ms`;
    const view = await withTimeout(readQueues(client), withinMs, 'read $convoy/queues');
    const sentinel = view.find((queue) => queue.name === SENTINEL_QUEUE);
    if (sentinel?.queued !== 1) return `the durable sentinel is gone: ${JSON.stringify(sentinel)}`;
    const draining = client;
    await Promise.all(view.filter((other) => other.name !== SENTINEL_QUEUE && other.queued > 0).map((other) => drainQueue(draining, other.name, other.queued, round)));
    // A message the client cannot decode ends its connection: the broker forwarded bytes it should have refused.
    return lost === null ? null : `the health client lost its connection while draining the queues: ${lost}`;
  } catch (error) {
    return (error as Error).message;
  } finally {
    if (client) await withTimeout(client.close(), withinMs, 'close').catch(() => undefined);
  }
}

async function drainQueue(client: Awaited<ReturnType<typeof connect>>, queue: string, queued: number, round: number): Promise<void> {
  const receiver = await withTimeout(client.openReceiver(queue, { name: `drain-${round}-${queue}` }), 2000, `attach to ${queue}`).catch(() => null);
  if (!receiver) return;
  for (const received of await receive(receiver, queued, 300)) received.delivery.accept();
  receiver.close();
}

/** The sentinel is consumed once at the end, with its body intact and still durable. */
export async function takeSentinel(port: number): Promise<string | null> {
  const client = await connect(port);
  try {
    const receiver = await client.openReceiver(SENTINEL_QUEUE);
    const got = await receive(receiver, 1, 3000);
    if (got[0]?.message.body !== SENTINEL_BODY || got[0].message.durable !== true) return `sentinel came back as ${JSON.stringify(got[0]?.message)}`;
    got[0].delivery.accept();
    return null;
  } finally {
    await client.close();
  }
}

async function readQueues(client: Awaited<ReturnType<typeof connect>>): Promise<{ name: string; queued: number }[]> {
  const receiver = await client.openReceiver('$convoy/queues', { name: `view-${Date.now()}` });
  const got = await receive(receiver, 1, 3000);
  got[0]?.delivery.accept();
  return (JSON.parse(String(got[0]?.message.body)) as { queues: { name: string; queued: number }[] }).queues;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error as Error);
      },
    );
  });
}

/** Where failing inputs go: one .bin per case (the exact bytes written) and a .json saying what it is. */
export function saveFinding(directory: string, seed: number, problem: string, cases: readonly { index: number; fuzzCase: FuzzCase }[]): string {
  mkdirSync(directory, { recursive: true });
  for (const { index, fuzzCase } of cases) {
    const stem = join(directory, `seed-${seed}-case-${index}`);
    writeFileSync(`${stem}.bin`, fuzzCase.bytes);
    writeFileSync(`${stem}.json`, JSON.stringify({ seed, index, problem, session: fuzzCase.session, mutations: fuzzCase.mutations, splits: fuzzCase.splits, endAfterWrite: fuzzCase.endAfterWrite }, null, 2));
  }
  return directory;
}
