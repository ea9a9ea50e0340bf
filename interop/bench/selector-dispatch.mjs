#!/usr/bin/env node
// Cost of dispatch with selectors beside a backlog no consumer with credit selects (issue 11), in the
// dispatch core directly, with the broker's own selector filter (compiled selector, fields read from
// the message's AMQP bytes: src/amqp/message-filter.ts without the store).
//
//   npm run build && node interop/bench/selector-dispatch.mjs [--backlogs 0,10000,100000,1000000] [--messages 20000]
//
// For each backlog size N: a consumer with selector `color = 'red'` and credit 1; N blue messages
// arrive (each asked once by the red selector and left waiting, matched by no selector); then
// --messages red messages are sent one at a time, each delivered, accepted and the credit renewed
// (a JMS receive() loop). Reports the time per backlog message (paid once, when it arrives) and the
// time per dispatched red message, which must not grow with N. Also the same with the blue messages
// already queued when the red consumer attaches (they are then asked when its first credit comes).
// Medians over --rounds; prints a table and one JSON line.
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { numberOption, option } from './support.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(import.meta.url);
const rhea = require('rhea');
const { apply } = require(path.join(ROOT, 'dist/core/apply.js'));
const { createCoreState } = require(path.join(ROOT, 'dist/core/state.js'));
const { compileSelector } = require(path.join(ROOT, 'dist/selector/compile.js'));
const { messageSelectorFields } = require(path.join(ROOT, 'dist/amqp/selector-fields.js'));

const BACKLOGS = option('--backlogs', '0,10000,100000,1000000').split(',').map(Number);
const MESSAGES = numberOption('--messages', 20000);
const ROUNDS = numberOption('--rounds', 5);

const options = {
  groupKey: null, maxGroups: null, groupIdleTimeoutMs: null, groupRebalance: false,
  maxInFlightPerGroup: null, exclusive: false, maxDeliveryAttempts: 10, deadLetterQueue: 'DLQ',
};
const meta = { groupId: null, closesGroup: false, expiresAtMs: null, deliveryCount: 0, durable: false };

/** A Qpid-JMS-like message: header, properties with an id, the colour as an application property, 100 bytes. */
function encoded(colour, i) {
  return rhea.message.encode({
    durable: false,
    message_id: `ID:bench-${i}`,
    creation_time: new Date(1_700_000_000_000 + i),
    message_annotations: { 'x-opt-jms-msg-type': rhea.types.wrap_byte(5) },
    application_properties: { colour, n: i },
    body: rhea.types.wrap_binary(Buffer.alloc(100, i % 256)),
  });
}

function selectorFilter(text) {
  const selector = compileSelector(text);
  return {
    key: text,
    matches: (message) => selector.matches(messageSelectorFields(message.body, { expiresAtMs: message.expiresAtMs, deliveryCount: message.deliveryCount })),
  };
}

const blue = Array.from({ length: 1000 }, (_, i) => encoded('blue', i));
const red = Array.from({ length: 1000 }, (_, i) => encoded('red', i));

function round(backlog, backlogFirst) {
  const state = createCoreState(() => options);
  let now = 1;
  const run = (command) => apply(state, command, now++);
  const attachRed = () => run({ type: 'attach', consumerId: 'red', queue: 'q', priority: 0, exclusive: false, settleOnSend: false, filter: selectorFilter("colour = 'red'") });
  if (!backlogFirst) attachRed();
  if (!backlogFirst) run({ type: 'credit', consumerId: 'red', credit: 1, drain: false });
  let started = process.hrtime.bigint();
  for (let i = 0; i < backlog; i++) run({ type: 'enqueue', queue: 'q', meta, body: blue[i % blue.length] });
  if (backlogFirst) {
    attachRed();
    run({ type: 'credit', consumerId: 'red', credit: 1, drain: false });
  }
  const backlogNs = Number(process.hrtime.bigint() - started);
  let delivered = 0;
  started = process.hrtime.bigint();
  for (let i = 0; i < MESSAGES; i++) {
    for (const effect of run({ type: 'enqueue', queue: 'q', meta, body: red[i % red.length] })) {
      if (effect.type !== 'deliver') continue;
      delivered++;
      run({ type: 'settle', consumerId: 'red', deliveryId: effect.deliveryId, outcome: { type: 'accepted' } });
    }
    run({ type: 'credit', consumerId: 'red', credit: 1, drain: false });
  }
  const dispatchNs = Number(process.hrtime.bigint() - started);
  if (delivered !== MESSAGES) throw new Error(`delivered ${delivered} of ${MESSAGES}`);
  if (state.queues.get('q').queuedCount !== backlog) throw new Error('the backlog was not left alone');
  return { backlogNsPerMessage: backlog === 0 ? 0 : backlogNs / backlog, dispatchNsPerMessage: dispatchNs / MESSAGES };
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
// Warm-up: let the JIT compile the paths before anything is timed.
for (let i = 0; i < 3; i++) round(10000, i % 2 === 0);
const results = [];
for (const backlogFirst of [false, true]) {
  for (const backlog of BACKLOGS) {
    const rounds = Array.from({ length: ROUNDS }, () => round(backlog, backlogFirst));
    results.push({
      backlog,
      backlogQueuedBeforeTheConsumer: backlogFirst,
      usPerBacklogMessage: Number((median(rounds.map((r) => r.backlogNsPerMessage)) / 1000).toFixed(3)),
      usPerDispatchedMessage: Number((median(rounds.map((r) => r.dispatchNsPerMessage)) / 1000).toFixed(3)),
    });
  }
}
console.log('backlog    backlog first   us per backlog message (once)   us per dispatched message');
for (const r of results) {
  console.log(`${String(r.backlog).padEnd(10)} ${String(r.backlogQueuedBeforeTheConsumer).padEnd(15)} ${String(r.usPerBacklogMessage).padEnd(31)} ${r.usPerDispatchedMessage}`);
}
console.log(JSON.stringify({ messages: MESSAGES, rounds: ROUNDS, node: process.version, results }));
