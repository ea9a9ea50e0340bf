import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create_container, type Connection, type Delivery } from 'rhea';
import { readRecord } from '../../src/store/record-codec';
import { SEGMENT_HEADER_BYTES } from '../../src/store/segment-file';
import { startBrokerProcess, type BrokerProcess } from '../support/broker-process';
import { sleep } from '../support/client';

/**
 * kill -9 cycles against a broker child process on one data dir. A producer sends durable grouped
 * messages at-least-once (resending what was not accepted before a crash, in order); a consumer accepts
 * what it gets. After the last cycle everything left is drained.
 */
export interface CrashReport {
  readonly cycles: number;
  readonly accepted: number;
  readonly received: number;
  readonly missing: string[];
  readonly outOfOrder: string[];
  readonly redeliveredWithoutCount: string[];
  /** Messages delivered after everything was consumed and the broker restarted cleanly: must be none. */
  readonly resurrected: number;
  /** Kills after which the newest segment was a preallocated one (zeros after its last record). */
  readonly preallocatedTails: number;
  /** Kills after which a torn record was written after the last one, as a power cut mid-write leaves. */
  readonly tornTails: number;
}

interface Arrival {
  readonly key: string;
  readonly group: string;
  readonly index: number;
  readonly copy: number;
  readonly deliveryCount: number;
}

const GROUPS = 8;
const QUEUE = 'crash.orders';
/** Never consumed: its messages pin old segments while the orders around them are consumed. */
const PARKED_QUEUE = 'crash.parked';

export async function runCrashCycles(cycles: number, random: () => number = Math.random): Promise<CrashReport> {
  const dataDir = mkdtempSync(join(tmpdir(), 'convoy-crash-'));
  const nextIndex = new Array<number>(GROUPS).fill(0);
  /** Sent but not accepted yet, per group in order: resent first after a restart. */
  const unconfirmed: { group: number; index: number }[][] = Array.from({ length: GROUPS }, () => []);
  const accepted = new Set<string>();
  const arrivals: Arrival[] = [];
  let copies = 0;

  const runClients = async (broker: BrokerProcess, produce: boolean): Promise<Connection[]> => {
    const producer = create_container().connect({ host: '127.0.0.1', port: broker.port, reconnect: false });
    const consumer = create_container().connect({ host: '127.0.0.1', port: broker.port, reconnect: false });
    for (const c of [producer, consumer]) {
      c.on('disconnected', () => undefined);
      c.on('connection_error', () => undefined);
      c.on('error', () => undefined);
    }
    const receiver = consumer.open_receiver({ source: QUEUE, autoaccept: false, credit_window: 50 });
    receiver.on('message', (ctx) => {
      const props = ctx.message!.application_properties as { group: number; index: number; copy: number };
      arrivals.push({
        key: `${props.group}:${props.index}`,
        group: String(props.group),
        index: props.index,
        copy: props.copy,
        deliveryCount: ctx.message!.delivery_count ?? 0,
      });
      ctx.delivery!.accept();
    });
    if (produce) {
      producer.open_sender({ target: PARKED_QUEUE }).once('sendable', (ctx) => ctx.sender!.send({ durable: true, body: 'parked' }));
      const sender = producer.open_sender({ target: QUEUE });
      const pending = new Map<Delivery, { group: number; index: number }>();
      const queueToSend: { group: number; index: number }[] = [];
      for (const list of unconfirmed) queueToSend.push(...list);
      sender.on('accepted', (ctx) => {
        const sent = pending.get(ctx.delivery!);
        if (!sent) return;
        pending.delete(ctx.delivery!);
        accepted.add(`${sent.group}:${sent.index}`);
        const list = unconfirmed[sent.group]!;
        list.splice(list.findIndex((m) => m.index === sent.index), 1);
        pump();
      });
      function pump(): void {
        while (sender.sendable() && pending.size < 200) {
          let next = queueToSend.shift();
          if (!next) {
            const group = Math.floor(random() * GROUPS);
            next = { group, index: nextIndex[group]!++ };
            unconfirmed[group]!.push(next);
          }
          const delivery = sender.send({
            durable: true,
            group_id: `G${next.group}`,
            application_properties: { group: next.group, index: next.index, copy: copies++ },
            body: Buffer.alloc(256, next.index % 256),
          });
          pending.set(delivery, next);
        }
      }
      sender.on('sendable', pump);
    }
    return [producer, consumer];
  };

  let preallocatedTails = 0;
  let tornTails = 0;
  for (let cycle = 0; cycle < cycles; cycle++) {
    const broker = await startBrokerProcess(['--data-dir', dataDir, '--log-level', 'info', '--config', crashConfig(dataDir)]);
    const clients = await runClients(broker, true);
    await sleep(150 + Math.floor(random() * 700));
    broker.child.kill('SIGKILL');
    await broker.exited;
    for (const c of clients) c.close();
    const tail = tearNewestSegment(join(dataDir, 'journal'), cycle % 2 === 1, random);
    if (tail.preallocated) preallocatedTails++;
    if (tail.torn) tornTails++;
  }

  const broker = await startBrokerProcess(['--data-dir', dataDir, '--config', crashConfig(dataDir)]);
  const clients = await runClients(broker, false);
  let seen = -1;
  while (arrivals.length !== seen) {
    seen = arrivals.length;
    await sleep(700);
  }
  for (const c of clients) c.close();
  broker.child.kill('SIGTERM');
  await broker.exited;

  // Everything was consumed and accepted: a clean restart must bring nothing back.
  const drained = arrivals.length;
  const again = await startBrokerProcess(['--data-dir', dataDir, '--config', crashConfig(dataDir)]);
  const lastClients = await runClients(again, false);
  await sleep(1000);
  for (const c of lastClients) c.close();
  again.child.kill('SIGTERM');
  await again.exited;
  const resurrected = arrivals.length - drained;
  arrivals.length = drained;
  return { ...judge(cycles, accepted, arrivals), resurrected, preallocatedTails, tornTails };
}

/**
 * Looks at the newest segment after a kill: returns whether its file is preallocated (longer than its
 * records, zeros after them). With `tear`, writes the first bytes of a record after its last one, as a
 * power cut in the middle of a write leaves them: the next start must cut them off and lose nothing
 * accepted (what was accepted was synced before, so it lies before them).
 */
function tearNewestSegment(journalDir: string, tear: boolean, random: () => number): { preallocated: boolean; torn: boolean } {
  const newest = readdirSync(journalDir).filter((name) => name.endsWith('.journal')).sort().at(-1);
  if (!newest) return { preallocated: false, torn: false };
  const path = join(journalDir, newest);
  const bytes = readFileSync(path);
  let end = SEGMENT_HEADER_BYTES;
  for (let result = readRecord(bytes, end); result.kind === 'record'; result = readRecord(bytes, end)) end += result.length;
  if (tear) {
    const torn = Buffer.from(Array.from({ length: 40 }, () => Math.floor(random() * 256)));
    torn.writeUInt32LE(300, 0); // a message record of 300 bytes, of which only these 40 reached the disk
    torn[8] = 2;
    const fd = openSync(path, 'r+');
    writeSync(fd, torn, 0, torn.length, end);
    closeSync(fd);
  }
  return { preallocated: bytes.length > end && bytes.subarray(end).every((byte) => byte === 0), torn: tear };
}

/** Small segments, so the cycles also cross segment rolls and deletions. */
function crashConfig(dataDir: string): string {
  const path = `${dataDir}.json`;
  writeFileSync(path, JSON.stringify({ segmentBytes: 256 * 1024 }));
  return path;
}

function judge(cycles: number, accepted: Set<string>, arrivals: Arrival[]): Omit<CrashReport, 'resurrected'> {
  const firstArrival = new Map<string, Arrival>();
  const seenCopies = new Set<number>();
  const redeliveredWithoutCount: string[] = [];
  for (const arrival of arrivals) {
    if (!firstArrival.has(arrival.key)) firstArrival.set(arrival.key, arrival);
    // The same stored copy again: it had left for a consumer before the crash, so its count was raised.
    if (seenCopies.has(arrival.copy) && arrival.deliveryCount === 0) redeliveredWithoutCount.push(arrival.key);
    seenCopies.add(arrival.copy);
  }
  const missing = [...accepted].filter((key) => !firstArrival.has(key));
  const outOfOrder: string[] = [];
  const lastIndex = new Map<string, number>();
  for (const arrival of firstArrival.values()) {
    const last = lastIndex.get(arrival.group) ?? -1;
    if (arrival.index < last) outOfOrder.push(`${arrival.key} after index ${last}`);
    lastIndex.set(arrival.group, Math.max(last, arrival.index));
  }
  return { cycles, accepted: accepted.size, received: arrivals.length, missing, outOfOrder, redeliveredWithoutCount };
}
