#!/usr/bin/env node
// Cost of JMS message selectors per message: compile once, then evaluate against each message.
//
//   npm run build && node test/selector/selector-bench.mjs [--messages 1000] [--rounds 7]
//
// Messages are encoded the way Qpid JMS sends them (header, message annotations, properties with a
// string message-id and creation time, application properties, a 100-byte body), each with its own
// values, and evaluated in turn so no single message stays hot. For each selector it reports ns per
// evaluation:
//   - decoded: fields already decoded (a Map): the evaluator alone;
//   - bytes:   a fresh messageSelectorFields(bytes) per message: the lazy section decode included,
//              i.e. what one selector costs per message in the broker;
// and, for all the selectors evaluated against the same message (one accessor shared, as dispatch
// will do when several consumers with selectors look at one message), the cost per message.
// Medians over rounds; prints a table and one JSON line.
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(import.meta.url);
const rhea = require('rhea');
const { compileSelector } = require(path.join(ROOT, 'dist/selector/compile.js'));
const { messageSelectorFields } = require(path.join(ROOT, 'dist/amqp/selector-fields.js'));

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const at = args.indexOf(name);
  return at >= 0 ? Number(args[at + 1]) : fallback;
};
const MESSAGES = option('--messages', 1000);
const ROUNDS = option('--rounds', 7);
const TARGET_NS_PER_ROUND = 300e6;

const SELECTORS = [
  "color = 'red'",
  "price > 100 AND region IN ('EU', 'US')",
  "name LIKE 'order-%'",
  "name LIKE '%-1_7'",
  'JMSPriority > 4',
  "JMSType = 'order' AND JMSXGroupID LIKE 'acct-%' AND NOT (qty BETWEEN 1 AND 10)",
];

const COLORS = ['red', 'green', 'blue', 'yellow'];
const REGIONS = ['EU', 'US', 'APAC', 'LATAM'];
const { types } = rhea;
const messages = Array.from({ length: MESSAGES }, (_, index) =>
  rhea.message.encode({
    durable: true,
    priority: index % 10,
    message_annotations: { 'x-opt-jms-msg-type': types.wrap_byte(5), 'x-opt-jms-dest': types.wrap_byte(0) },
    message_id: `ID:4f1c2d3e-5a6b-4c7d-8e9f-0a1b2c3d4e5f:1:1:1-${index}`,
    to: 'orders',
    subject: index % 3 === 0 ? 'order' : 'quote',
    creation_time: new Date(1_700_000_000_000 + index),
    group_id: `acct-${index % 97}`,
    application_properties: {
      color: COLORS[index % COLORS.length],
      price: types.wrap_int((index * 37) % 200),
      region: REGIONS[(index >> 2) % REGIONS.length],
      name: `order-${index}`,
      qty: types.wrap_long((index * 7) % 50),
      customer: `customer-${index % 1000}`,
      channel: 'web',
      discount: types.wrap_double(0.1),
    },
    body: types.wrap_binary(Buffer.alloc(100, index & 0xff)),
  }),
);
const decoded = messages.map((bytes) => {
  const fields = messageSelectorFields(bytes);
  const map = new Map();
  for (const name of ['color', 'price', 'region', 'name', 'qty', 'JMSPriority', 'JMSType', 'JMSXGroupID']) map.set(name, fields.get(name));
  return map;
});

/** ns per call of `evaluate(index)` over the messages in turn: the median of ROUNDS timed rounds. */
function measure(evaluate) {
  let matched = 0;
  let iterations = MESSAGES;
  // Warm up and size a round to about TARGET_NS_PER_ROUND.
  for (;;) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) if (evaluate(i % MESSAGES)) matched++;
    const elapsed = Number(process.hrtime.bigint() - started);
    if (elapsed > TARGET_NS_PER_ROUND / 4) {
      iterations = Math.max(MESSAGES, Math.round((iterations * TARGET_NS_PER_ROUND) / elapsed));
      break;
    }
    iterations *= 4;
  }
  const perCall = [];
  for (let round = 0; round < ROUNDS; round++) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) if (evaluate(i % MESSAGES)) matched++;
    perCall.push(Number(process.hrtime.bigint() - started) / iterations);
  }
  perCall.sort((a, b) => a - b);
  return { ns: perCall[Math.floor(ROUNDS / 2)], matched };
}

const compiled = SELECTORS.map((text) => compileSelector(text));
const rows = SELECTORS.map((text, index) => {
  const selector = compiled[index];
  const matchRate = messages.filter((bytes) => selector.matches(messageSelectorFields(bytes))).length / MESSAGES;
  return {
    selector: text,
    matchRate,
    compileNs: measure(() => compileSelector(text) !== null).ns,
    decodedNs: measure((i) => selector.matches(decoded[i])).ns,
    bytesNs: measure((i) => selector.matches(messageSelectorFields(messages[i]))).ns,
  };
});
const decodeOnly = {
  applicationProperty: measure((i) => messageSelectorFields(messages[i]).get('color') === 'red').ns,
  header: measure((i) => messageSelectorFields(messages[i]).get('JMSPriority') > 4n).ns,
  properties: measure((i) => messageSelectorFields(messages[i]).get('JMSType') === 'order').ns,
};
const allSelectorsPerMessage = measure((i) => {
  const fields = messageSelectorFields(messages[i]);
  let any = false;
  for (const selector of compiled) any = selector.matches(fields) || any;
  return any;
}).ns;

const pad = (text, width) => String(text).padEnd(width);
const ns = (value) => `${value.toFixed(0)} ns`.padStart(9);
console.log(`node ${process.version}, ${MESSAGES} messages of ${messages[0].length} bytes, median of ${ROUNDS} rounds`);
console.log(`${pad('selector', 82)} ${'match'.padStart(6)} ${'compile'.padStart(9)} ${'decoded'.padStart(9)} ${'bytes'.padStart(9)}`);
for (const row of rows) {
  console.log(`${pad(row.selector, 82)} ${`${(row.matchRate * 100).toFixed(0)}%`.padStart(6)} ${ns(row.compileNs)} ${ns(row.decodedNs)} ${ns(row.bytesNs)}`);
}
console.log(`lazy decode alone, per message: application properties ${ns(decodeOnly.applicationProperty)}, header ${ns(decodeOnly.header)}, properties ${ns(decodeOnly.properties)}`);
console.log(`all ${SELECTORS.length} selectors against one message (one shared accessor): ${ns(allSelectorsPerMessage)} per message`);
console.log(JSON.stringify({ node: process.version, messages: MESSAGES, messageBytes: messages[0].length, rows, decodeOnly, allSelectorsPerMessage }));
