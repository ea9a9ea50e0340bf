import { execFile } from 'node:child_process';
import net from 'node:net';
import * as path from 'node:path';
import type { Receiver } from 'rhea';
import { connect, receive, sendAll, type TestClient } from '../support/client';
import type { RecordedSession, Unit } from './mutations';

/**
 * Records what real clients send: a TCP proxy in front of the broker keeps every byte each client
 * connection writes, while rhea and Qpid Proton Python clients run ordinary sessions through it (SASL
 * PLAIN and ANONYMOUS and none, open, begin, attach both ways, transfers small and multi-frame, flow,
 * drain, every outcome, detach, end, close, the anonymous relay, the operator view). The streams are
 * then cut into protocol headers and frames.
 */

const PYTHON = '/usr/bin/python3';
const PYTHON_SCRIPTS = path.resolve(__dirname, '../../interop/python');

export async function recordCorpus(brokerPort: number): Promise<RecordedSession[]> {
  const streams: { name: string; chunks: Buffer[]; closed: Promise<void> }[] = [];
  let nextName = 'unnamed';
  const proxy = net.createServer((client) => {
    const upstream = net.connect(brokerPort, '127.0.0.1');
    const stream = { name: nextName, chunks: [] as Buffer[], closed: new Promise<void>((resolve) => client.once('close', () => resolve())) };
    streams.push(stream);
    client.on('data', (chunk: Buffer) => {
      stream.chunks.push(chunk);
      upstream.write(chunk);
    });
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.on('error', () => undefined);
    upstream.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', () => resolve()));
  const port = (proxy.address() as net.AddressInfo).port;
  const record = async (name: string, scenario: () => Promise<void>): Promise<void> => {
    nextName = name;
    await scenario();
  };
  try {
    await record('rhea-producer-plain', () => producerSession(port));
    await record('rhea-consumer-anonymous', () => consumerSession(port));
    await record('rhea-relay-no-sasl', () => relaySession(port));
    await record('rhea-two-sessions', () => twoSessions(port));
    await record('proton-roundtrip', () => runPython('roundtrip.py', port, ['--mode', 'at-least-once', '--queue', 'fuzz.proton', '--count', '3']));
    await record('proton-admin-view', () => runPython('admin_views.py', port, ['--queue', 'fuzz.proton.admin']));
    await Promise.all(streams.map((stream) => stream.closed));
  } finally {
    proxy.close();
  }
  return streams.map((stream, index) => ({ name: `${stream.name}#${index}`, units: cutIntoUnits(Buffer.concat(stream.chunks)) }));
}

/** Protocol headers (8 bytes, "AMQP...") and size-prefixed frames, in stream order. */
export function cutIntoUnits(stream: Buffer): Unit[] {
  const units: Unit[] = [];
  let offset = 0;
  while (offset + 8 <= stream.length) {
    if (stream.toString('latin1', offset, offset + 4) === 'AMQP') {
      units.push({ kind: 'header', bytes: stream.subarray(offset, offset + 8) });
      offset += 8;
      continue;
    }
    const size = stream.readUInt32BE(offset);
    if (size < 8 || offset + size > stream.length) break;
    units.push({ kind: 'frame', bytes: stream.subarray(offset, offset + size) });
    offset += size;
  }
  return units;
}

async function producerSession(port: number): Promise<void> {
  const client = await connect(port, { username: 'fuzz', password: 'secret', container_id: 'fuzz-producer' } as never);
  const sender = await client.openSender('fuzz.orders');
  await sendAll(sender, [
    { body: 'order 1', group_id: 'A', durable: true, application_properties: { region: 'eu', amount: 12.5 } },
    { body: 'order 2', group_id: 'B', ttl: 60000, message_annotations: { 'x-opt-tag': 7 } },
    { body: Buffer.alloc(150 * 1024, 7), group_id: 'A', durable: true },
    { body: { items: [1, 2, 3], note: 'map body' }, subject: 'orders', to: 'fuzz.orders' },
    { body: 'order 5', group_id: 'C', group_sequence: 4294967295 },
    { body: 'order 6' },
  ]);
  const presettled = await client.openSender('fuzz.orders', { name: 'presettled', snd_settle_mode: 1 });
  await sendAll(presettled, [{ body: 'fire and forget' }]);
  await client.close();
}

async function consumerSession(port: number): Promise<void> {
  const client = await connect(port, { username: 'anonymous-fuzzer', container_id: 'fuzz-consumer' } as never);
  const receiver = await client.openReceiver('fuzz.orders', { name: 'orders-consumer' });
  const got = await receive(receiver, 7, 3000, 10);
  got.forEach((received, index) => {
    const delivery = received.delivery as unknown as { accept(): void; release(p?: object): void; reject(e?: object): void; modified(p: object): void };
    if (index === 1) delivery.release();
    else if (index === 2) delivery.reject({ condition: 'amqp:internal-error', description: 'cannot process' });
    else if (index === 3) delivery.modified({ delivery_failed: true, undeliverable_here: false });
    else delivery.accept();
  });
  await drain(receiver);
  receiver.detach();
  await new Promise((resolve) => setTimeout(resolve, 100));
  await client.close();
}

function drain(receiver: Receiver): Promise<void> {
  return new Promise((resolve) => {
    receiver.once('receiver_drained', () => resolve());
    setTimeout(resolve, 1000);
    receiver.add_credit(5);
    receiver.drain_credit();
  });
}

async function relaySession(port: number): Promise<void> {
  const client = await connect(port, { sasl: { enabled: false }, container_id: 'fuzz-relay' } as never);
  const sender = await client.openSender(null);
  await sendAll(sender, [{ body: 'relayed', to: 'fuzz.relay' }, { body: 'nowhere' }]);
  const receiver = await client.openReceiver('fuzz.relay?consumer.exclusive=true', { name: 'relay-consumer', credit_window: 10, autoaccept: true });
  await receive(receiver, 1, 2000, 0);
  await client.close();
}

async function twoSessions(port: number): Promise<void> {
  const client: TestClient = await connect(port, { container_id: 'fuzz-sessions' } as never);
  const second = client.connection.create_session();
  second.begin();
  const receiver = second.attach_receiver({ source: 'fuzz.orders', name: 'second-session', autoaccept: false, credit_window: 0, properties: { priority: 5, exclusive: false } } as never);
  await new Promise((resolve) => receiver.once('receiver_open', resolve));
  receiver.add_credit(3);
  await new Promise((resolve) => setTimeout(resolve, 150));
  second.close();
  const sender = await client.openSender('fuzz.orders');
  await sendAll(sender, [{ body: 'after the second session' }]);
  await client.close();
}

function runPython(script: string, port: number, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(PYTHON, [path.join(PYTHON_SCRIPTS, script), '--url', `amqp://127.0.0.1:${port}`, '--hard-timeout', '20', ...args], { cwd: PYTHON_SCRIPTS, timeout: 30_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${script} failed while recording: ${String(stdout)} ${String(stderr)}`));
      else resolve();
    });
  });
}
