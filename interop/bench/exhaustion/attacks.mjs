#!/usr/bin/env node
// Resource-exhaustion attacks on an AMQP 1.0 broker (issue 9), any broker: Convoy or ActiveMQ Artemis.
//
//   node interop/bench/exhaustion/attacks.mjs SCENARIO HOST PORT ['{"option": value}']
//
// Runs one attack from loopback, stops by itself, and prints one JSON line: what the attack got
// (connections opened and refused, sessions and links answered, messages taken...). Every attack is
// bounded in time (`seconds`) and size; the options below set them. The client is rhea (SASL
// ANONYMOUS), except where raw bytes are the attack (a trickled protocol header).
import net from 'node:net';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const rhea = createRequire(path.join(ROOT, 'package.json'))('rhea');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A rhea connection; resolves once open, or with why not: the condition of a close that answered the
 * open (a refusal), or the socket error. The refusal comes right after the open, in the same read.
 */
function open(host, port, options = {}) {
  const connection = rhea.create_container().connect({ host, port, reconnect: false, idle_time_out: 0, ...options });
  connection.on('error', () => undefined);
  connection.on('connection_error', () => undefined);
  return new Promise((resolve) => {
    connection.once('connection_open', () => setTimeout(() => resolve({ connection, error: connection.is_remote_open() ? null : connection.error?.condition ?? 'closed' }), 50));
    connection.once('connection_close', () => resolve({ connection, error: connection.error?.condition ?? 'closed' }));
    connection.once('disconnected', (ctx) => resolve({ connection, error: ctx.error ? String(ctx.error.code ?? ctx.error) : 'disconnected' }));
  });
}

function closeAll(connections) {
  for (const connection of connections) {
    try {
      connection.close();
    } catch {
      /* already gone */
    }
  }
}

/** Many connections at once, held open, then closed. */
async function connections(host, port, { count = 3000, holdSeconds = 5 }) {
  const results = await Promise.all(Array.from({ length: count }, () => open(host, port)));
  const opened = results.filter((r) => r.error === null);
  const refused = {};
  for (const r of results) if (r.error !== null) refused[r.error] = (refused[r.error] ?? 0) + 1;
  await sleep(holdSeconds * 1000);
  const stillOpen = opened.filter((r) => r.connection.is_open()).length;
  closeAll(results.map((r) => r.connection));
  return { attempted: count, opened: opened.length, stillOpenAfterHold: stillOpen, refused };
}

/** Sockets that send the AMQP protocol header one byte per second and never finish it. */
async function slowHandshakes(host, port, { count = 500, seconds = 15 }) {
  const header = Buffer.from('AMQP\u0003\u0001\u0000\u0000', 'latin1');
  const started = Date.now();
  const closedAfterMs = [];
  const sockets = Array.from({ length: count }, () => {
    const socket = net.connect(port, host);
    let sent = 0;
    socket.on('error', () => undefined);
    socket.on('data', () => undefined);
    socket.once('close', () => closedAfterMs.push(Date.now() - started));
    const timer = setInterval(() => {
      if (socket.destroyed) return clearInterval(timer);
      socket.write(header.subarray(sent % header.length, (sent % header.length) + 1));
      sent++;
    }, 1000);
    socket.once('close', () => clearInterval(timer));
    return socket;
  });
  while (Date.now() - started < seconds * 1000 && closedAfterMs.length < count) await sleep(100);
  const open = sockets.filter((s) => !s.destroyed).length;
  for (const socket of sockets) socket.destroy();
  closedAfterMs.sort((a, b) => a - b);
  return { sockets: count, closedByBroker: closedAfterMs.length, stillOpenAtEnd: open, medianCloseMs: closedAfterMs[closedAfterMs.length >> 1] ?? null };
}

/** Connections that each begin as many sessions as they can. */
async function sessionFlood(host, port, { connections: count = 10, sessions = 10000, seconds = 20 }) {
  const results = await Promise.all(
    Array.from({ length: count }, async () => {
      const { connection, error } = await open(host, port);
      if (error) return { answered: 0, closedWith: error };
      let answered = 0;
      const done = new Promise((resolve) => {
        connection.on('session_open', () => {
          if (++answered === sessions) resolve();
        });
        connection.once('connection_close', resolve);
        connection.once('disconnected', resolve);
        setTimeout(resolve, seconds * 1000);
      });
      for (let i = 0; i < sessions; i++) connection.create_session().begin();
      await done;
      return { answered, closedWith: connection.is_open() ? null : connection.error?.condition ?? 'closed', connection };
    }),
  );
  closeAll(results.map((r) => r.connection).filter(Boolean));
  return { connections: count, sessionsAsked: sessions, answered: results.map((r) => r.answered), closedWith: results.map((r) => r.closedWith) };
}

/** A refused link is answered with a null source (rhea: null, or a typed null), then a detach with the error (AMQP 1.0 2.6.3). */
function refusedAttach(receiver) {
  const source = receiver.remote.attach?.source;
  return source === null || source === undefined || source.type?.name === 'Null';
}

/** One connection attaching many consumer links, spread over sessions. */
async function linkFlood(host, port, { links = 10000, perSession = 1000, seconds = 60 }) {
  const { connection, error } = await open(host, port);
  if (error) return { error };
  const started = Date.now();
  let attached = 0;
  const refused = {};
  let session = null;
  await new Promise((resolve) => {
    let answered = 0;
    const answer = () => {
      if (++answered === links) resolve();
    };
    for (let i = 0; i < links; i++) {
      if (i % perSession === 0) {
        session = connection.create_session();
        session.begin();
      }
      const receiver = session.open_receiver({ source: `flood.links.${i % 100}`, credit_window: 0, autoaccept: false });
      receiver.once('receiver_open', () => {
        if (refusedAttach(receiver)) return;
        attached++;
        answer();
      });
      receiver.once('receiver_close', () => {
        if (!refusedAttach(receiver)) return;
        const condition = receiver.error?.condition ?? 'detached';
        refused[condition] = (refused[condition] ?? 0) + 1;
        answer();
      });
    }
    connection.once('disconnected', resolve);
    setTimeout(resolve, seconds * 1000);
  });
  const answeredMs = Date.now() - started;
  const closeStarted = Date.now();
  await new Promise((resolve) => {
    connection.once('connection_close', resolve);
    connection.once('disconnected', resolve);
    connection.close();
    setTimeout(resolve, 10000);
  });
  return { links, attached, refused, allAnsweredMs: answeredMs, closeMs: Date.now() - closeStarted };
}

/**
 * Producers that send as fast as their credit allows, unsettled, to one queue nobody consumes, with at
 * most `maxInFlight` messages not yet settled each. rhea's sendable() does not count messages it has
 * queued but not sent, so each producer keeps within its credit itself.
 */
async function produce(host, port, { producers, seconds, bodyBytes, address, durable = false, maxInFlight = Infinity }) {
  const body = Buffer.alloc(bodyBytes, 0x61);
  const totals = { sent: 0, accepted: 0, rejected: {}, disconnected: 0 };
  const opened = await Promise.all(Array.from({ length: producers }, () => open(host, port, { max_frame_size: 65536 })));
  const stopAt = Date.now() + seconds * 1000;
  await Promise.all(
    opened.map(({ connection, error }) => {
      if (error) return totals.disconnected++;
      return new Promise((resolve) => {
        const sender = connection.open_sender({ target: address });
        let sent = 0;
        let settled = 0;
        const pump = () => {
          while (Date.now() < stopAt && sender.sendable() && sender.credit - (sent - sender.delivery_count) > 0 && sent - settled < maxInFlight) {
            sender.send({ body: rhea.message.data_section(body), durable });
            sent++;
            totals.sent++;
          }
        };
        sender.on('sendable', pump);
        sender.on('sender_open', pump);
        sender.on('accepted', () => {
          totals.accepted++;
          settled++;
          pump();
        });
        sender.on('rejected', (ctx) => {
          const condition = ctx.delivery.remote_state?.error?.condition ?? 'rejected';
          totals.rejected[condition] = (totals.rejected[condition] ?? 0) + 1;
          settled++;
          pump();
        });
        connection.once('disconnected', () => {
          totals.disconnected++;
          resolve();
        });
        setTimeout(resolve, seconds * 1000);
      });
    }),
  );
  closeAll(opened.map((o) => o.connection));
  return totals;
}

function producerFlood(host, port, { producers = 4, seconds = 15, bodyBytes = 1024 }) {
  return produce(host, port, { producers, seconds, bodyBytes, address: 'flood.nobody-consumes' });
}

function hugeMessages(host, port, { producers = 4, seconds = 15, bodyBytes = 10 * 1024 * 1024 }) {
  return produce(host, port, { producers, seconds, bodyBytes, address: 'flood.huge', maxInFlight: 2 });
}

/** Consumers that grant a million credit and never settle, while a producer keeps sending. */
async function greedyConsumers(host, port, { consumers = 20, seconds = 15, bodyBytes = 1024 }) {
  const opened = await Promise.all(Array.from({ length: consumers }, () => open(host, port)));
  const received = opened.map(() => 0);
  opened.forEach(({ connection, error }, i) => {
    if (error) return;
    const receiver = connection.open_receiver({ source: 'flood.greedy', credit_window: 0, autoaccept: false });
    receiver.on('message', () => received[i]++);
    receiver.once('receiver_open', () => receiver.add_credit(1_000_000));
  });
  const produced = await produce(host, port, { producers: 2, seconds, bodyBytes, address: 'flood.greedy' });
  closeAll(opened.map((o) => o.connection));
  received.sort((a, b) => b - a);
  return { consumers, produced, mostHeldUnsettledByOne: received[0], heldUnsettled: received.reduce((a, b) => a + b, 0) };
}

export const SCENARIOS = { connections, slowHandshakes, sessionFlood, linkFlood, producerFlood, hugeMessages, greedyConsumers };

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [scenario, host, port, options] = process.argv.slice(2);
  if (!SCENARIOS[scenario] || !host || !port) {
    console.error(`usage: attacks.mjs (${Object.keys(SCENARIOS).join('|')}) HOST PORT ['{"option": value}']`);
    process.exit(2);
  }
  const result = await SCENARIOS[scenario](host, Number(port), options ? JSON.parse(options) : {});
  console.log(JSON.stringify(result));
  process.exit(0);
}
