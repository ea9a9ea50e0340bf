import { afterAll, beforeAll, describe, expect, test, vi, type MockInstance } from 'vitest';
import type { RunningBroker } from '../../src/broker/server';
import { startTestBroker } from '../support/broker';
import { Described, Performative, RawConnection, attach, encode, settledTransfer, terminus, type Frame, type TerminusBytes } from '../support/amqp-frames';
import { message as rheaMessage } from 'rhea';
import { connect, receive, sendAll } from '../support/client';

/**
 * Every attach a client can send, at frame level, and the broker's reply (AMQP 1.0 2.6.3 establishing a
 * link, 2.7.3 attach, 3.5.3 source, 3.5.4 target). A refused link is answered with null termini and then
 * a detach carrying the condition and a description; nothing else on the connection changes, which is
 * why every row runs on one connection and session.
 */

const SOURCE_FIELDS = ['address', 'durable', 'expiry_policy', 'timeout', 'dynamic', 'dynamic_node_properties', 'distribution_mode', 'filter', 'default_outcome', 'outcomes', 'capabilities'];
const TARGET_FIELDS = ['address', 'durable', 'expiry_policy', 'timeout', 'dynamic', 'dynamic_node_properties', 'capabilities'];

/** The broker's own terminus: no durable state, gone at link detach, no timeout (3.5.5, 3.5.6). */
const OURS = { durable: 0, expiry_policy: 'link-detach', timeout: 0 };
const OUTCOMES = ['amqp:accepted:list', 'amqp:rejected:list', 'amqp:released:list', 'amqp:modified:list'];
/** A consumer's source as the broker states it: its terminus, moving messages, every outcome honoured. */
const consumerSource = (fields: Record<string, unknown>): Record<string, unknown> => ({ ...OURS, distribution_mode: 'move', outcomes: OUTCOMES, ...fields });
const producerTarget = (fields: Record<string, unknown>): Record<string, unknown> => ({ ...OURS, ...fields });
const TEMPORARY = expect.stringMatching(/^temp\./);

/** How a terminus reads in a reply: null, or its kind with its non-null fields (an empty one has none). */
type TerminusView = null | { kind: 'source' | 'target' | 'coordinator'; fields: Record<string, unknown> };

interface Row {
  readonly name: string;
  /** consumer: the client is the receiver; producer: the client is the sender. */
  readonly role: 'consumer' | 'producer';
  readonly snd?: number;
  readonly rcv?: number;
  readonly source?: TerminusBytes;
  readonly target?: TerminusBytes;
  readonly properties?: Buffer;
  readonly reply: { refused: string } | { snd: number; rcv: number; source: TerminusView; target: TerminusView };
}

const source = (...fields: (Buffer | undefined)[]): Buffer => terminus('source', fields);
const target = (...fields: (Buffer | undefined)[]): Buffer => terminus('target', fields);
const str = encode.string;
const sym = encode.symbol;
const none = undefined;
const queue = (name: string): Buffer => source(str(name));
const emptyTarget = encode.described(0x29, encode.list0());
const emptySource = encode.described(0x28, encode.list0());
const ok = (snd: number, rcv: number, sourceView: TerminusView, targetView: TerminusView): Row['reply'] => ({ snd, rcv, source: sourceView, target: targetView });
const asSource = (fields: Record<string, unknown>): TerminusView => ({ kind: 'source', fields });
const asTarget = (fields: Record<string, unknown>): TerminusView => ({ kind: 'target', fields });
/** The broker's coordinator (AMQP 1.0 4.5.1): every transaction capability it has, whatever was asked. */
const OUR_COORDINATOR: TerminusView = { kind: 'coordinator', fields: { capabilities: ['amqp:local-transactions', 'amqp:multi-txns-per-ssn', 'amqp:multi-ssns-per-txn'] } };
const coordinator = (descriptor: number | string): Buffer => encode.described(descriptor, encode.list([encode.symbolArray(['amqp:local-transactions'])]));
const modifiedFailed = encode.described(0x27, encode.list([encode.boolean(true)]));

/** Settle modes: every value a client can send, on both roles (2.7.3, 2.8.2, 2.8.3). */
function settleModeRows(): Row[] {
  const rows: Row[] = [];
  for (const snd of [undefined, 0, 1, 2]) {
    for (const rcv of [undefined, 0, 1]) {
      const label = `snd ${snd ?? 'absent'}, rcv ${rcv ?? 'absent'}`;
      // The broker as sender takes both modes from the client; as receiver it settles first, and says so.
      rows.push({
        name: `consumer ${label}`,
        role: 'consumer',
        snd,
        rcv,
        source: queue('attach.settle'),
        target: emptyTarget,
        reply: ok(snd ?? 2, rcv ?? 0, asSource(consumerSource({ address: 'attach.settle' })), asTarget({})),
      });
      rows.push({
        name: `producer ${label}`,
        role: 'producer',
        snd,
        rcv,
        source: emptySource,
        target: target(str('attach.settle')),
        reply: ok(snd ?? 2, 0, asSource({}), asTarget(producerTarget({ address: 'attach.settle' }))),
      });
    }
  }
  rows.push({ name: 'consumer snd 3', role: 'consumer', snd: 3, source: queue('attach.settle'), reply: { refused: 'amqp:invalid-field' } });
  rows.push({ name: 'consumer rcv 2', role: 'consumer', rcv: 2, source: queue('attach.settle'), reply: { refused: 'amqp:invalid-field' } });
  rows.push({ name: 'producer snd 3', role: 'producer', snd: 3, target: target(str('attach.settle')), reply: { refused: 'amqp:invalid-field' } });
  return rows;
}

const CONSUMER_TERMINI: Row[] = [
  // No source: the durable subscription the link name names (Qpid JMS unsubscribe); there is none.
  { name: 'consumer: source and target absent', role: 'consumer', reply: { refused: 'amqp:not-found' } },
  { name: 'consumer: source null', role: 'consumer', source: encode.null(), target: emptyTarget, reply: { refused: 'amqp:not-found' } },
  { name: 'consumer: source empty (list0)', role: 'consumer', source: emptySource, target: emptyTarget, reply: { refused: 'amqp:invalid-field' } },
  { name: 'consumer: source empty (list8)', role: 'consumer', source: source(), target: emptyTarget, reply: { refused: 'amqp:invalid-field' } },
  { name: 'consumer: target absent', role: 'consumer', source: queue('attach.q'), reply: ok(2, 0, asSource(consumerSource({ address: 'attach.q' })), null) },
  { name: 'consumer: target null', role: 'consumer', source: queue('attach.q'), target: encode.null(), reply: ok(2, 0, asSource(consumerSource({ address: 'attach.q' })), null) },
  { name: 'consumer: target empty (list0)', role: 'consumer', source: queue('attach.q'), target: emptyTarget, reply: ok(2, 0, asSource(consumerSource({ address: 'attach.q' })), asTarget({})) },
  {
    name: 'consumer: target with its own fields, echoed',
    role: 'consumer',
    source: queue('attach.q'),
    target: target(str('client-inbox'), encode.uint(1), sym('never'), encode.uint(30), none, none, encode.symbolArray(['x-own'])),
    reply: ok(2, 0, asSource(consumerSource({ address: 'attach.q' })), asTarget({ address: 'client-inbox', durable: 1, expiry_policy: 'never', timeout: 30, capabilities: ['x-own'] })),
  },
  {
    name: 'consumer: address with options, unchanged',
    role: 'consumer',
    source: queue('attach.q?consumer.priority=2'),
    reply: ok(2, 0, asSource(consumerSource({ address: 'attach.q?consumer.priority=2' })), null),
  },
  {
    name: 'consumer: dynamic source',
    role: 'consumer',
    source: source(none, none, none, none, encode.boolean(true)),
    reply: ok(2, 0, asSource(consumerSource({ address: TEMPORARY, dynamic: true })), null),
  },
  { name: 'consumer: dynamic source with an address', role: 'consumer', source: source(str('attach.q'), none, none, none, encode.boolean(true)), reply: { refused: 'amqp:invalid-field' } },
  {
    name: 'consumer: durable unsettled-state, expiry never: the broker states what it keeps',
    role: 'consumer',
    source: source(str('attach.q'), encode.uint(2), sym('never'), encode.uint(3600)),
    reply: ok(2, 0, asSource(consumerSource({ address: 'attach.q' })), null),
  },
  {
    name: 'consumer: capabilities queue and an unknown one: queue kept',
    role: 'consumer',
    source: source(str('attach.q'), none, none, none, none, none, none, none, none, none, encode.symbolArray(['queue', 'x-unknown'])),
    reply: ok(2, 0, asSource(consumerSource({ address: 'attach.q', capabilities: ['queue'] })), null),
  },
  {
    name: 'consumer: capability topic: a subscription, ended with the link',
    role: 'consumer',
    source: source(str('attach.t'), none, none, none, none, none, none, none, none, none, encode.symbolArray(['topic'])),
    reply: ok(2, 0, asSource(consumerSource({ address: 'attach.t', capabilities: ['topic'] })), null),
  },
  {
    name: 'consumer: capability topic on a queue: one name is never both',
    role: 'consumer',
    source: source(str('attach.q'), none, none, none, none, none, none, none, none, none, encode.symbolArray(['topic'])),
    reply: { refused: 'amqp:not-found' },
  },
  {
    name: 'consumer: capability queue on a topic',
    role: 'consumer',
    source: source(str('attach.t'), none, none, none, none, none, none, none, none, none, encode.symbolArray(['queue'])),
    reply: { refused: 'amqp:not-found' },
  },
  {
    name: 'consumer: capabilities queue and topic at once',
    role: 'consumer',
    source: source(str('attach.both'), none, none, none, none, none, none, none, none, none, encode.symbolArray(['queue', 'topic'])),
    reply: { refused: 'amqp:invalid-field' },
  },
  {
    name: 'consumer: a durable subscription (Qpid JMS: unsettled-state, expiry never, copy, topic): the broker keeps its configuration, never expiring',
    role: 'consumer',
    source: source(str('attach.t'), encode.uint(2), sym('never'), none, none, none, sym('copy'), none, none, none, encode.symbolArray(['topic'])),
    reply: ok(2, 0, asSource(consumerSource({ address: 'attach.t', durable: 1, expiry_policy: 'never', distribution_mode: 'copy', capabilities: ['topic'] })), null),
  },
  {
    name: 'consumer: capabilities topic, shared and global (a shared subscription)',
    role: 'consumer',
    source: source(str('attach.t'), none, none, none, none, none, none, none, none, none, encode.symbolArray(['topic', 'shared', 'global'])),
    reply: ok(2, 0, asSource(consumerSource({ address: 'attach.t', capabilities: ['topic', 'shared', 'global'] })), null),
  },
  {
    name: 'consumer: a topic subscription with a selector: applied to what enters the subscription, and echoed',
    role: 'consumer',
    source: source(str('attach.t'), none, none, none, none, none, none, encode.map([[sym('jms-selector'), encode.described('apache.org:selector-filter:string', str("colour = 'red'"))]]), none, none, encode.symbolArray(['topic'])),
    reply: ok(
      2,
      0,
      asSource(
        consumerSource({
          address: 'attach.t',
          capabilities: ['topic'],
          filter: new Map([['jms-selector', new Described('apache.org:selector-filter:string', "colour = 'red'")]]),
        }),
      ),
      null,
    ),
  },
  {
    name: 'consumer: a topic subscription with an invalid selector',
    role: 'consumer',
    source: source(str('attach.t'), none, none, none, none, none, none, encode.map([[sym('jms-selector'), encode.described('apache.org:selector-filter:string', str('colour ='))]]), none, none, encode.symbolArray(['topic'])),
    reply: { refused: 'amqp:invalid-field' },
  },
  {
    name: 'consumer: capability shared on a queue: a queue is shared anyway',
    role: 'consumer',
    source: source(str('attach.q'), none, none, none, none, none, none, none, none, none, encode.symbolArray(['queue', 'shared'])),
    reply: ok(2, 0, asSource(consumerSource({ address: 'attach.q', capabilities: ['queue', 'shared'] })), null),
  },
  {
    name: 'consumer: dynamic source with temporary-topic: a new temporary topic',
    role: 'consumer',
    source: source(none, none, none, none, encode.boolean(true), none, none, none, none, none, encode.symbolArray(['temporary-topic'])),
    reply: ok(2, 0, asSource(consumerSource({ address: TEMPORARY, dynamic: true, capabilities: ['temporary-topic'] })), null),
  },
  {
    name: 'consumer: distribution-mode copy (browser)',
    role: 'consumer',
    source: source(str('attach.q'), none, none, none, none, none, sym('copy')),
    reply: ok(2, 0, asSource(consumerSource({ address: 'attach.q', distribution_mode: 'copy' })), null),
  },
  { name: 'consumer: distribution-mode other than move and copy', role: 'consumer', source: source(str('attach.q'), none, none, none, none, none, sym('fan')), reply: { refused: 'amqp:not-implemented' } },
  { name: 'consumer: distribution-mode move', role: 'consumer', source: source(str('attach.q'), none, none, none, none, none, sym('move')), reply: ok(2, 0, asSource(consumerSource({ address: 'attach.q' })), null) },
  {
    name: 'consumer: a selector filter (symbolic descriptor): applied and echoed',
    role: 'consumer',
    source: source(str('attach.q'), none, none, none, none, none, none, encode.map([[sym('jms-selector'), encode.described('apache.org:selector-filter:string', str("colour = 'red'"))]])),
    reply: ok(
      2,
      0,
      asSource(consumerSource({ address: 'attach.q', filter: new Map([['jms-selector', new Described('apache.org:selector-filter:string', "colour = 'red'")]]) })),
      null,
    ),
  },
  {
    name: 'consumer: a selector filter (descriptor code 0x0000468C00000004, as Qpid JMS sends it) in a browser',
    role: 'consumer',
    source: source(str('attach.q'), none, none, none, none, none, sym('copy'), encode.map([[sym('apache.org:selector-filter:string'), encode.described(0x0000468c00000004, str('n > 3'))]])),
    reply: ok(
      2,
      0,
      asSource(
        consumerSource({ address: 'attach.q', distribution_mode: 'copy', filter: new Map([['apache.org:selector-filter:string', new Described(0x0000468c00000004, 'n > 3')]]) }),
      ),
      null,
    ),
  },
  {
    name: 'consumer: a blank selector is no selector (none echoed)',
    role: 'consumer',
    source: source(str('attach.q'), none, none, none, none, none, none, encode.map([[sym('jms-selector'), encode.described('apache.org:selector-filter:string', str('  '))]])),
    reply: ok(2, 0, asSource(consumerSource({ address: 'attach.q' })), null),
  },
  {
    name: 'consumer: an invalid selector',
    role: 'consumer',
    source: source(str('attach.q'), none, none, none, none, none, none, encode.map([[sym('jms-selector'), encode.described('apache.org:selector-filter:string', str('colour = '))]])),
    reply: { refused: 'amqp:invalid-field' },
  },
  {
    name: 'consumer: a selector that is not a string',
    role: 'consumer',
    source: source(str('attach.q'), none, none, none, none, none, none, encode.map([[sym('jms-selector'), encode.described('apache.org:selector-filter:string', encode.uint(3))]])),
    reply: { refused: 'amqp:invalid-field' },
  },
  {
    name: 'consumer: two selectors',
    role: 'consumer',
    source: source(
      str('attach.q'),
      none,
      none,
      none,
      none,
      none,
      none,
      encode.map([
        [sym('a'), encode.described('apache.org:selector-filter:string', str('x = 1'))],
        [sym('b'), encode.described('apache.org:selector-filter:string', str('y = 1'))],
      ]),
    ),
    reply: { refused: 'amqp:invalid-field' },
  },
  {
    name: 'consumer: a filter other than the selector (no-local)',
    role: 'consumer',
    source: source(str('attach.q'), none, none, none, none, none, none, encode.map([[sym('no-local'), encode.described('apache.org:no-local-filter:list', encode.list0())]])),
    reply: { refused: 'amqp:not-implemented' },
  },
  { name: 'consumer: an empty filter map', role: 'consumer', source: source(str('attach.q'), none, none, none, none, none, none, encode.map([])), reply: ok(2, 0, asSource(consumerSource({ address: 'attach.q' })), null) },
  {
    name: 'consumer: default-outcome modified{delivery-failed}',
    role: 'consumer',
    source: source(str('attach.q'), none, none, none, none, none, none, none, modifiedFailed),
    reply: ok(2, 0, asSource(consumerSource({ address: 'attach.q', default_outcome: new Described(0x27, [true, false]) })), null),
  },
  {
    name: 'consumer: default-outcome released (list0)',
    role: 'consumer',
    source: source(str('attach.q'), none, none, none, none, none, none, none, encode.described(0x26, encode.list0())),
    reply: ok(2, 0, asSource(consumerSource({ address: 'attach.q', default_outcome: new Described(0x26, []) })), null),
  },
  {
    name: 'consumer: default-outcome received (not terminal)',
    role: 'consumer',
    source: source(str('attach.q'), none, none, none, none, none, none, none, encode.described(0x23, encode.list([encode.uint(0), encode.uint(0)]))),
    reply: { refused: 'amqp:invalid-field' },
  },
  { name: 'consumer: a target in the source field', role: 'consumer', source: target(str('attach.q')), reply: { refused: 'amqp:invalid-field' } },
  { name: 'consumer: a coordinator in the source field', role: 'consumer', source: coordinator(0x30), reply: { refused: 'amqp:invalid-field' } },
  { name: "consumer: a coordinator as the client receiver's target", role: 'consumer', source: queue('attach.q'), target: coordinator(0x30), reply: { refused: 'amqp:invalid-field' } },
  { name: 'consumer: source not a described list', role: 'consumer', source: str('attach.q'), reply: { refused: 'amqp:invalid-field' } },
  { name: 'consumer: source address not a string', role: 'consumer', source: source(encode.uint(7)), reply: { refused: 'amqp:invalid-field' } },
  { name: 'consumer: unknown expiry-policy', role: 'consumer', source: source(str('attach.q'), none, sym('sometimes')), reply: { refused: 'amqp:invalid-field' } },
  {
    name: 'consumer: operator view $convoy/queues',
    role: 'consumer',
    source: queue('$convoy/queues'),
    reply: ok(2, 0, asSource(consumerSource({ address: '$convoy/queues' })), null),
  },
];

const PRODUCER_TERMINI: Row[] = [
  { name: 'producer: target absent: anonymous relay', role: 'producer', source: emptySource, reply: ok(2, 0, asSource({}), asTarget(producerTarget({}))) },
  { name: 'producer: target null: anonymous relay', role: 'producer', source: emptySource, target: encode.null(), reply: ok(2, 0, asSource({}), asTarget(producerTarget({}))) },
  { name: 'producer: target empty (list0): anonymous relay', role: 'producer', source: emptySource, target: emptyTarget, reply: ok(2, 0, asSource({}), asTarget(producerTarget({}))) },
  { name: 'producer: target empty (list8): anonymous relay', role: 'producer', source: emptySource, target: target(), reply: ok(2, 0, asSource({}), asTarget(producerTarget({}))) },
  { name: 'producer: source absent', role: 'producer', target: target(str('attach.p')), reply: ok(2, 0, null, asTarget(producerTarget({ address: 'attach.p' }))) },
  { name: 'producer: source null', role: 'producer', source: encode.null(), target: target(str('attach.p')), reply: ok(2, 0, null, asTarget(producerTarget({ address: 'attach.p' }))) },
  {
    name: 'producer: source with its own fields, echoed',
    role: 'producer',
    source: source(str('client-outbox'), encode.uint(2), sym('connection-close')),
    target: target(str('attach.p')),
    reply: ok(2, 0, asSource({ address: 'client-outbox', durable: 2, expiry_policy: 'connection-close' }), asTarget(producerTarget({ address: 'attach.p' }))),
  },
  { name: 'producer: target address with options', role: 'producer', target: target(str('attach.p?x=1')), reply: { refused: 'amqp:invalid-field' } },
  { name: 'producer: target address reserved ($convoy/)', role: 'producer', target: target(str('$convoy/queues')), reply: { refused: 'amqp:invalid-field' } },
  {
    name: 'producer: dynamic target',
    role: 'producer',
    target: target(none, none, none, none, encode.boolean(true)),
    reply: ok(2, 0, null, asTarget(producerTarget({ address: TEMPORARY, dynamic: true }))),
  },
  { name: 'producer: dynamic target with an address', role: 'producer', target: target(str('attach.p'), none, none, none, encode.boolean(true)), reply: { refused: 'amqp:invalid-field' } },
  {
    name: 'producer: durable configuration, expiry never: the broker states what it keeps',
    role: 'producer',
    target: target(str('attach.p'), encode.uint(1), sym('never'), encode.uint(60)),
    reply: ok(2, 0, null, asTarget(producerTarget({ address: 'attach.p' }))),
  },
  {
    name: 'producer: capabilities queue',
    role: 'producer',
    target: target(str('attach.p'), none, none, none, none, none, encode.symbolArray(['queue'])),
    reply: ok(2, 0, null, asTarget(producerTarget({ address: 'attach.p', capabilities: ['queue'] }))),
  },
  {
    name: 'producer: capability topic',
    role: 'producer',
    target: target(str('attach.pt'), none, none, none, none, none, encode.symbolArray(['topic'])),
    reply: ok(2, 0, null, asTarget(producerTarget({ address: 'attach.pt', capabilities: ['topic'] }))),
  },
  { name: 'producer: capability queue on a topic', role: 'producer', target: target(str('attach.t'), none, none, none, none, none, encode.symbolArray(['queue'])), reply: { refused: 'amqp:not-found' } },
  {
    name: 'producer: capability temporary-topic on a name that is no temporary topic',
    role: 'producer',
    target: target(str('attach.gone'), none, none, none, none, none, encode.symbolArray(['temporary-topic'])),
    reply: { refused: 'amqp:not-found' },
  },
  {
    name: 'producer: dynamic temporary-topic (Qpid JMS createTemporaryTopic)',
    role: 'producer',
    target: target(none, none, none, none, encode.boolean(true), none, encode.symbolArray(['temporary-topic'])),
    reply: ok(2, 0, null, asTarget(producerTarget({ address: TEMPORARY, dynamic: true, capabilities: ['temporary-topic'] }))),
  },
  { name: 'producer: coordinator target (transactions)', role: 'producer', source: emptySource, target: coordinator(0x30), reply: ok(2, 0, asSource({}), OUR_COORDINATOR) },
  { name: 'producer: coordinator target, symbolic descriptor', role: 'producer', target: coordinator('amqp:coordinator:list'), reply: ok(2, 0, null, OUR_COORDINATOR) },
  {
    name: 'producer: coordinator asking for distributed transactions: the reply says what it has',
    role: 'producer',
    snd: 0,
    target: encode.described(0x30, encode.list([encode.symbolArray(['amqp:distributed-transactions'])])),
    reply: ok(0, 0, null, OUR_COORDINATOR),
  },
  { name: 'producer: coordinator with capabilities that are not symbols', role: 'producer', target: encode.described(0x30, encode.list([encode.uint(1)])), reply: { refused: 'amqp:invalid-field' } },
  { name: 'producer: a source in the target field', role: 'producer', target: source(str('attach.p')), reply: { refused: 'amqp:invalid-field' } },
  { name: 'producer: a terminus with an unknown descriptor', role: 'producer', target: encode.described(0x99, encode.list([str('attach.p')])), reply: { refused: 'amqp:invalid-field' } },
];

const ROWS: Row[] = [...settleModeRows(), ...CONSUMER_TERMINI, ...PRODUCER_TERMINI];

let broker: RunningBroker;
let connection: RawConnection;
/** rhea writes some complaints straight to the console (an unknown terminus, an unknown outcome). */
let consoleWarnings: MockInstance;
let consoleErrors: MockInstance;
let nextHandle = 0;
/** Frames read while looking for another one. */
const stash: Frame[] = [];

beforeAll(async () => {
  broker = await startTestBroker();
  connection = await RawConnection.open(broker.port);
  consoleWarnings = vi.spyOn(console, 'warn');
  consoleErrors = vi.spyOn(console, 'error');
});
afterAll(async () => {
  consoleWarnings.mockRestore();
  consoleErrors.mockRestore();
  connection.close();
  await broker.stop();
});

async function frameWhere(predicate: (frame: Frame) => boolean, what: string): Promise<Frame> {
  const index = stash.findIndex(predicate);
  if (index >= 0) return stash.splice(index, 1)[0]!;
  for (;;) {
    const frame = await connection.next(3000).catch((error: Error) => {
      throw new Error(`${error.message} (waiting for ${what})`);
    });
    if (predicate(frame)) return frame;
    if (frame.descriptor === Performative.close || frame.descriptor === Performative.end) throw new Error(`the broker ended the ${frame.descriptor === Performative.close ? 'connection' : 'session'}: ${JSON.stringify(frame.fields)}`);
    stash.push(frame);
  }
}

function viewOf(value: unknown): TerminusView {
  if (value === null || value === undefined) return null;
  if (!(value instanceof Described)) throw new Error(`terminus is not described: ${JSON.stringify(value)}`);
  const kind = value.descriptor === 0x28 ? 'source' : value.descriptor === 0x29 ? 'target' : value.descriptor === 0x30 ? 'coordinator' : null;
  if (!kind) throw new Error(`terminus descriptor ${String(value.descriptor)}`);
  const names = kind === 'source' ? SOURCE_FIELDS : kind === 'target' ? TARGET_FIELDS : ['capabilities'];
  const items = value.value as unknown[];
  expect(items.length, `${kind} has at most ${names.length} fields`).toBeLessThanOrEqual(names.length);
  const fields: Record<string, unknown> = {};
  items.forEach((item, index) => {
    if (item !== null) fields[names[index]!] = item;
  });
  return { kind, fields };
}

describe('attach replies (AMQP 1.0 2.6.3, 2.7.3, 3.5.3, 3.5.4)', () => {
  test.each(ROWS.map((row) => [row.name, row] as const))('%s', async (_name, row) => {
    const handle = nextHandle++;
    const name = `row-${handle}`;
    connection.send(attach({ name, handle, role: row.role === 'consumer', sndSettleMode: row.snd, rcvSettleMode: row.rcv, source: row.source, target: row.target, properties: row.properties }));
    const reply = await frameWhere((frame) => frame.descriptor === Performative.attach && frame.fields[0] === name, `the attach reply to ${name}`);
    const [, replyHandle, role, snd, rcv, replySource, replyTarget] = reply.fields;
    expect(role, 'the broker takes the other role').toBe(row.role === 'producer');
    if ('refused' in row.reply) {
      expect([replySource ?? null, replyTarget ?? null], 'a refused link has no terminus (2.6.3)').toEqual([null, null]);
      const detach = await frameWhere((frame) => frame.descriptor === Performative.detach && frame.fields[0] === replyHandle, `the detach of ${name}`);
      expect(detach.fields[1], 'closed').toBe(true);
      const error = detach.fields[2] as Described;
      expect(error.descriptor).toBe(0x1d);
      const [condition, description] = error.value as [string, string];
      expect(condition).toBe(row.reply.refused);
      expect(typeof description === 'string' && description.length > 10, `a description: ${description}`).toBe(true);
      expect(condition === 'amqp:internal-error').toBe(false);
      return;
    }
    expect({ snd, rcv }).toEqual({ snd: row.reply.snd, rcv: row.reply.rcv });
    expect(viewOf(replySource)).toEqual(row.reply.source);
    expect(viewOf(replyTarget)).toEqual(row.reply.target);
  });

  test('nothing above made rhea write to the console: every terminus it could not represent was handled first', () => {
    expect(consoleWarnings).not.toHaveBeenCalled();
    expect(consoleErrors).not.toHaveBeenCalled();
  });

  test('after every refusal above, the same connection and session still attach and move messages', async () => {
    const handle = nextHandle++;
    connection.send(attach({ name: 'after-refusals', handle, role: false, source: emptySource, target: target(str('attach.after')) }));
    const reply = await frameWhere((frame) => frame.descriptor === Performative.attach && frame.fields[0] === 'after-refusals', 'the attach reply');
    expect(viewOf(reply.fields[6])).toEqual(asTarget(producerTarget({ address: 'attach.after' })));
    await frameWhere((frame) => frame.descriptor === Performative.flow && frame.fields[4] === reply.fields[1], 'credit for the producer');
    connection.send(settledTransfer(handle, 0, 'after refusals'));
    const client = await connect(broker.port);
    const received = await receive(await client.openReceiver('attach.after'), 1);
    await client.close();
    expect(received.map((r) => String(r.message.body.content ?? r.message.body))).toEqual(['after refusals']);
    expect(connection.closed).toBe(false);
  });
});

describe('the default-outcome in the reply is the one applied (AMQP 1.0 3.5.3)', () => {
  test('modified{delivery-failed} (Qpid JMS): a delivery settled without an outcome comes back with its count raised', async () => {
    const client = await connect(broker.port);
    await sendAll(await client.openSender('attach.default-outcome'), [{ body: 'settled without outcome' }]);
    const defaultOutcome = (rheaMessage as unknown as { modified(fields: object): { described(): unknown } }).modified({ delivery_failed: true }).described();
    const receiver = await client.openReceiver({ address: 'attach.default-outcome', default_outcome: defaultOutcome });
    const [first] = await receive(receiver, 1);
    first!.delivery.update(true);
    const [again] = await receive(receiver, 1);
    expect(again?.message.body).toBe('settled without outcome');
    expect(again?.message.delivery_count).toBe(1);
    again!.delivery.accept();
    await client.close();
  });
});
