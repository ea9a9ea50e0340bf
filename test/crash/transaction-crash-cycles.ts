import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { message, outcome } from '../support/amqp-frames';
import { startBrokerProcess, type BrokerProcess } from '../support/broker-process';
import { connect, receive, sleep } from '../support/client';
import { TransactionClient, transactionalState } from '../support/transaction-client';

/**
 * kill -9 cycles against a broker process while a client moves messages between two queues in
 * transactions (consume, transform, produce): each transaction acknowledges a batch taken from
 * `crash.tx.in` and sends one message per input to `crash.tx.out`, durable, then commits. Commits are
 * large atomic units (a batch of 2 KiB messages and their removals) and follow each other closely, so
 * kills land in the middle of them.
 */
export interface TransactionCrashReport {
  readonly cycles: number;
  readonly preloaded: number;
  /** Transactions whose commit the broker confirmed. */
  readonly committed: number;
  /** Ids found in neither queue at the end. */
  readonly lost: string[];
  /** Ids found more than once across both queues (an input whose output is there too). */
  readonly duplicated: string[];
  /** Transactions found in crash.tx.out with some of their messages only: a partial commit. */
  readonly partial: string[];
  /** Confirmed transactions not wholly in crash.tx.out. */
  readonly confirmedMissing: string[];
  /** Restarts that found a record torn by the kill at the journal's tail (and cut it off). */
  readonly tornTails: number;
}

const IN = 'crash.tx.in';
const OUT = 'crash.tx.out';
/** Messages preloaded per cycle: more than one cycle's commits move, so every cycle has work. */
const PRELOAD_PER_CYCLE = 600;
const BATCH = 40;
const BODY = 'x'.repeat(2048);

export async function runTransactionCrashCycles(cycles: number, random: () => number = Math.random): Promise<TransactionCrashReport> {
  const dataDir = mkdtempSync(join(tmpdir(), 'convoy-tx-crash-'));
  const args = ['--data-dir', dataDir, '--config', crashConfig(dataDir)];
  const committed = new Map<number, string[]>();
  const preloaded = PRELOAD_PER_CYCLE * cycles;
  let nextTransaction = 0;
  let tornTails = 0;

  const preloading = await startBrokerProcess(args);
  await preload(preloading, preloaded);
  preloading.child.kill('SIGTERM');
  await preloading.exited;

  for (let cycle = 0; cycle < cycles; cycle++) {
    const broker = await startBrokerProcess(args);
    if (broker.output().includes('journal tail cut off')) tornTails++;
    const client = await TransactionClient.open(broker.port);
    const moving = move(client, committed, () => nextTransaction++).catch(() => undefined);
    await sleep(150 + Math.floor(random() * 700));
    broker.child.kill('SIGKILL');
    await broker.exited;
    client.close();
    await moving;
  }

  const broker = await startBrokerProcess(args);
  if (broker.output().includes('journal tail cut off')) tornTails++;
  const remaining = await drain(broker.port, IN);
  const moved = await drain(broker.port, OUT);
  broker.child.kill('SIGTERM');
  await broker.exited;
  return { ...judge(cycles, preloaded, committed, remaining, moved), tornTails };
}

/** Small segments, so that commits also meet segment rolls. */
function crashConfig(dataDir: string): string {
  const path = `${dataDir}.json`;
  writeFileSync(path, JSON.stringify({ segmentBytes: 256 * 1024 }));
  return path;
}

async function preload(broker: BrokerProcess, count: number): Promise<void> {
  const client = await TransactionClient.open(broker.port);
  const sender = await client.attachSender(IN);
  for (let first = 0; first < count; first += 400) {
    const sent: number[] = [];
    for (let id = first; id < Math.min(first + 400, count); id++) sent.push(client.send(sender, message({ durable: true, properties: { id: String(id) }, data: 'in' })));
    for (const deliveryId of sent) await client.outcomeOf(deliveryId);
  }
  client.close();
}

/** Transactions until the broker goes away; records each one the broker confirmed. */
async function move(client: TransactionClient, committed: Map<number, string[]>, newTransaction: () => number): Promise<void> {
  const { handle: coordinator } = await client.attachCoordinator();
  const receiver = await client.attachReceiver(IN, BATCH);
  const sender = await client.attachSender(OUT);
  for (;;) {
    const txnId = await client.begin(coordinator);
    const transaction = newTransaction();
    const batch: string[] = [];
    for (let i = 0; i < BATCH; i++) {
      const got = await client.receive(receiver, 500).catch(() => null);
      if (!got) break;
      batch.push(String((got.sections.get(0x74) as Map<string, unknown>).get('id')));
      client.acknowledge(got.deliveryId, transactionalState(txnId, outcome.accepted()));
    }
    const sends = batch.map((id) =>
      client.send(sender, message({ durable: true, properties: { id, tx: String(transaction), n: String(batch.length) }, data: BODY }), { state: transactionalState(txnId) }),
    );
    for (const deliveryId of sends) await client.outcomeOf(deliveryId);
    const state = await client.discharge(coordinator, txnId, false);
    if (state.descriptor !== 0x24) throw new Error(`commit refused: ${JSON.stringify(state)}`);
    committed.set(transaction, batch);
    client.grant(receiver, BATCH);
  }
}

interface Drained {
  readonly id: string;
  readonly tx: string | undefined;
  readonly n: number | undefined;
}

async function drain(port: number, queue: string): Promise<Drained[]> {
  const consumer = await connect(port);
  const receiver = await consumer.openReceiver(queue);
  const drained: Drained[] = [];
  for (;;) {
    const got = await receive(receiver, 500, 1000);
    for (const r of got) {
      const properties = r.message.application_properties as Record<string, string>;
      drained.push({ id: properties.id!, tx: properties.tx, n: properties.n === undefined ? undefined : Number(properties.n) });
      r.delivery.accept();
    }
    if (got.length === 0) break;
  }
  await consumer.close();
  return drained;
}

function judge(cycles: number, preloaded: number, committed: Map<number, string[]>, remaining: Drained[], moved: Drained[]): Omit<TransactionCrashReport, 'tornTails'> {
  const seen = new Map<string, number>();
  for (const { id } of [...remaining, ...moved]) seen.set(id, (seen.get(id) ?? 0) + 1);
  const lost: string[] = [];
  for (let id = 0; id < preloaded; id++) if (!seen.has(String(id))) lost.push(String(id));
  const duplicated = [...seen].filter(([, count]) => count > 1).map(([id]) => id);
  const byTransaction = new Map<string, Drained[]>();
  for (const message of moved) byTransaction.set(message.tx!, [...(byTransaction.get(message.tx!) ?? []), message]);
  const partial = [...byTransaction].filter(([, messages]) => messages.length !== messages[0]!.n).map(([tx, messages]) => `${tx}: ${messages.length} of ${messages[0]!.n}`);
  const confirmedMissing = [...committed]
    .filter(([tx, ids]) => ids.length > 0 && (byTransaction.get(String(tx))?.length ?? 0) !== ids.length)
    .map(([tx]) => String(tx));
  return { cycles, preloaded, committed: committed.size, lost, duplicated, partial, confirmedMissing };
}
