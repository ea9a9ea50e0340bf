import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { RunningBroker } from '../../src/broker/server';
import { startTestBroker } from '../support/broker';
import { startBrokerProcess, type BrokerProcess } from '../support/broker-process';
import { connect, receive, sendAll, type TestClient } from '../support/client';
import { AMQP_HEADER, encode, frame, performative, SASL_HEADER } from '../support/amqp-frames';
import { encodedMessage, frameOf, outcomeOf, performatives, RawPeer, rheaFrames, saslFrame } from '../support/raw-amqp';

/**
 * Input that breaks the protocol ends that connection (or session, or link) with an AMQP error of the
 * broker's own wording, while every other client carries on. The first three are the inputs of issue
 * #9 that stopped the broker; they run against a broker process so that, were they to freeze it or
 * exhaust its memory, the test fails instead of the test runner.
 */

/** rhea's own exception texts must never reach a client. */
const RHEA_INTERNALS = /is not a function|Cannot read|undefined|Invalid handle|received on invalid channel|frame sequence error|circular buffer/;

function expectOwnError(error: { condition?: string; description?: string }, condition: string, mentions: RegExp): void {
  expect(error.condition).toBe(condition);
  expect(error.description).toMatch(mentions);
  expect(error.description).not.toMatch(RHEA_INTERNALS);
}

/** A healthy rhea client sends and receives one message within `withinMs`. */
async function healthyRoundTrip(port: number, queue: string, withinMs = 3000): Promise<void> {
  const started = Date.now();
  const client = await connect(port);
  try {
    const sender = await client.openSender(queue);
    expect(await sendAll(sender, [{ body: 'still here' }])).toEqual(['accepted']);
    const receiver = await client.openReceiver(queue);
    const got = await receive(receiver, 1, withinMs);
    expect(got.map((r) => r.message.body)).toEqual(['still here']);
    got[0]!.delivery.accept();
  } finally {
    await client.close();
  }
  expect(Date.now() - started).toBeLessThan(withinMs);
}

function residentMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

describe('the three inputs of issue #9, against a broker process', () => {
  let broker: BrokerProcess;
  let bystander: TestClient;
  beforeAll(async () => {
    broker = await startBrokerProcess();
    bystander = await connect(broker.port);
  });
  afterAll(async () => {
    await bystander.close();
    broker.child.kill('SIGKILL');
    await broker.exited;
  });

  /** The client connected before the bad input still round-trips a message. */
  async function bystanderCarriesOn(queue: string): Promise<void> {
    const sender = await bystander.openSender(queue);
    expect(await sendAll(sender, [{ body: 'bystander' }])).toEqual(['accepted']);
    const receiver = await bystander.openReceiver(queue);
    const got = await receive(receiver, 1, 3000);
    expect(got.map((r) => r.message.body)).toEqual(['bystander']);
    got[0]!.delivery.accept();
  }

  test('an open whose offered-capabilities array declares 2^31-1 zero-width elements: decode-error at open, memory flat', async () => {
    const before = residentMiB(broker.child.pid!);
    // open(container-id "x", 6 nulls, offered-capabilities = array32 of 2147483647 nulls in 5 bytes)
    const capabilities = Buffer.from([0xf0, 0, 0, 0, 5, 0x7f, 0xff, 0xff, 0xff, 0x40]);
    const open = performative(0x10, [encode.string('x'), ...Array.from({ length: 6 }, encode.null), capabilities]);
    const peer = await RawPeer.connect(broker.port);
    peer.write(Buffer.concat([AMQP_HEADER, frame(0, open)]));
    expectOwnError(await peer.closeError(), 'amqp:decode-error', /offered-capabilities.*2147483647 elements/);
    await peer.closed;
    await bystanderCarriesOn('issue9.capabilities');
    await healthyRoundTrip(broker.port, 'issue9.capabilities.new');
    expect(residentMiB(broker.child.pid!) - before).toBeLessThan(64);
  });

  test('a disposition over first 0, last 2^32-1: invalid-field at once, no 20 s freeze', async () => {
    const peer = await RawPeer.connect(broker.port);
    await peer.open();
    peer.write(frameOf(0, performatives.begin()));
    await peer.waitFor((frame) => frame.name === 'begin');
    const started = Date.now();
    peer.write(frameOf(0, performatives.disposition({ role: true, first: 0, last: 4294967295, settled: true })));
    expectOwnError(await peer.closeError(), 'amqp:invalid-field', /disposition range 0\.\.4294967295/);
    await bystanderCarriesOn('issue9.disposition');
    expect(Date.now() - started).toBeLessThan(3000);
  });

  test('an open whose max-frame-size is a list, then a message to that client: decode-error at open, the broker lives', async () => {
    const queue = 'issue9.max-frame-size';
    // open(container-id "x", hostname null, max-frame-size = list [uint 1])
    const open = performative(0x10, [encode.string('x'), encode.null(), encode.list([encode.uint(1)])]);
    const peer = await RawPeer.connect(broker.port);
    peer.write(
      Buffer.concat([
        AMQP_HEADER,
        frame(0, open),
        frameOf(0, performatives.begin()),
        frameOf(0, performatives.attachReceiver('victim', 0, queue)),
        frameOf(0, performatives.flow({ handle: 0, delivery_count: 0, link_credit: 10 })),
      ]),
    );
    expectOwnError(await peer.closeError(), 'amqp:decode-error', /open\.max-frame-size: expected uint, got list/);
    const sender = await bystander.openSender(queue);
    expect(await sendAll(sender, [{ body: 'for the victim' }])).toEqual(['accepted']);
    const receiver = await bystander.openReceiver(queue);
    expect((await receive(receiver, 1, 3000)).map((r) => r.message.body)).toEqual(['for the victim']);
    await bystanderCarriesOn(`${queue}.after`);
  });
});

describe('protocol violations get the error of their scope', () => {
  let broker: RunningBroker;
  beforeAll(async () => {
    broker = await startTestBroker({ maxFrameBytes: 65536 });
  });
  afterAll(async () => {
    await broker.stop();
  });

  async function openSession(): Promise<RawPeer> {
    const peer = await RawPeer.connect(broker.port);
    await peer.open();
    peer.write(frameOf(0, performatives.begin()));
    await peer.waitFor((frame) => frame.name === 'begin');
    return peer;
  }

  test('an unknown performative descriptor: decode-error in our words, not "frame.performative.dispatch is not a function"', async () => {
    const peer = await RawPeer.connect(broker.port);
    await peer.open();
    peer.write(frame(0, performative(0x30, [encode.null()])));
    expectOwnError(await peer.closeError(), 'amqp:decode-error', /unknown performative with descriptor 0x30/);
  });

  test('a frame before open, and a second open: illegal-state', async () => {
    const early = await RawPeer.connect(broker.port);
    early.write(Buffer.concat([AMQP_HEADER, frameOf(0, performatives.begin())]));
    expectOwnError(await early.closeError(), 'amqp:illegal-state', /begin before open/);
    // The broker answers with its own open before the close (AMQP 1.0 2.4.1).
    expect(early.received.map((frame) => frame.name)).toEqual(['open', 'close']);
    const twice = await RawPeer.connect(broker.port);
    await twice.open();
    twice.write(frameOf(0, performatives.open()));
    expectOwnError(await twice.closeError(), 'amqp:illegal-state', /a second open/);
  });

  test('a frame on a channel without a session: framing-error', async () => {
    const peer = await RawPeer.connect(broker.port);
    await peer.open();
    peer.write(frameOf(5, performatives.attachReceiver('x', 0, 'q')));
    expectOwnError(await peer.closeError(), 'amqp:connection:framing-error', /attach on channel 5, which has no session/);
  });

  test('a field of the wrong type, a mandatory field missing, a value out of range', async () => {
    const wrongType = await RawPeer.connect(broker.port);
    await wrongType.open();
    wrongType.write(frame(0, performative(0x11, [encode.null(), encode.string('zero'), encode.uint(1), encode.uint(1)])));
    expectOwnError(await wrongType.closeError(), 'amqp:decode-error', /begin\.next-outgoing-id: expected uint, got string/);

    const missing = await RawPeer.connect(broker.port);
    await missing.open();
    missing.write(frame(0, performative(0x11, [encode.null(), encode.uint(0)])));
    expectOwnError(await missing.closeError(), 'amqp:decode-error', /begin\.incoming-window is mandatory/);

    const small = await RawPeer.connect(broker.port);
    small.write(Buffer.concat([AMQP_HEADER, frameOf(0, performatives.open({ max_frame_size: 100 }))]));
    expectOwnError(await small.closeError(), 'amqp:invalid-field', /open\.max-frame-size is 100 \(AMQP 1\.0 2\.7\.1: at least 512\)/);

    // An idle-time-out of 1 ms would have the broker send this client 2000 heartbeats a second.
    const hasty = await RawPeer.connect(broker.port);
    hasty.write(Buffer.concat([AMQP_HEADER, frameOf(0, performatives.open({ idle_time_out: 1 }))]));
    expectOwnError(await hasty.closeError(), 'amqp:invalid-field', /open\.idle-time-out is 1/);
  });

  test('values nested deeper than the limit: decode-error', async () => {
    let nested = encode.null();
    for (let depth = 0; depth < 40; depth++) nested = encode.list([nested]);
    const entries = Buffer.concat([encode.symbol('deep'), nested]);
    const properties = Buffer.concat([Buffer.from([0xd1, 0, 0, 0, 0, 0, 0, 0, 2]), entries]);
    properties.writeUInt32BE(entries.length + 4, 1);
    const peer = await RawPeer.connect(broker.port);
    await peer.open();
    peer.write(frame(0, performative(0x11, [encode.null(), encode.uint(0), encode.uint(1), encode.uint(1), encode.null(), encode.null(), encode.null(), properties])));
    expectOwnError(await peer.closeError(), 'amqp:decode-error', /nested deeper than 32/);
  });

  test('a flow on a handle that is not attached ends that session with unattached-handle; the connection goes on', async () => {
    const peer = await openSession();
    peer.write(frameOf(0, performatives.flow({ handle: 7, delivery_count: 0, link_credit: 10 })));
    const end = await peer.waitFor((frame) => frame.name === 'end');
    expectOwnError((end.performative!.error ?? {}) as never, 'amqp:session:unattached-handle', /flow on handle 7, which is not attached/);
    // Frames on the ended session are dropped until the peer's end; then the channel is free again.
    peer.write(frameOf(0, performatives.transfer({ handle: 7, delivery_id: 0, delivery_tag: Buffer.from('t') }), encodedMessage('dropped')));
    peer.write(frameOf(0, performatives.end()));
    peer.write(frameOf(0, performatives.begin()));
    await peer.waitFor((frame) => frame.name === 'begin' && peer.received.filter((f) => f.name === 'begin').length === 2);
    peer.write(frameOf(0, performatives.attachSender('p', 0, 'violations.after-end')));
    await peer.waitFor((frame) => frame.name === 'attach');
    expect(peer.received.some((frame) => frame.name === 'close')).toBe(false);
    peer.destroy();
  });

  test('an attach on a handle in use ends the session with handle-in-use', async () => {
    const peer = await openSession();
    peer.write(frameOf(0, performatives.attachSender('one', 0, 'violations.handle')));
    peer.write(frameOf(0, performatives.attachSender('two', 0, 'violations.handle')));
    const end = await peer.waitFor((frame) => frame.name === 'end');
    expectOwnError((end.performative!.error ?? {}) as never, 'amqp:session:handle-in-use', /attach on handle 0, which is in use/);
    peer.destroy();
  });

  test('a transfer beyond the granted credit detaches that link with transfer-limit-exceeded; nothing of it is queued', async () => {
    // Full message memory (memoryFullPolicy block) is when the broker withholds credit: the first message
    // fills it, so the window granted at attach is all a producer gets.
    const full = await startTestBroker({ maxMemoryBytes: 1000, producerCreditWindow: 5 });
    const queue = 'violations.credit';
    const peer = await RawPeer.connect(full.port);
    await peer.open();
    peer.write(frameOf(0, performatives.begin()));
    await peer.waitFor((frame) => frame.name === 'begin');
    peer.write(frameOf(0, performatives.attachSender('greedy', 0, queue)));
    const flow = await peer.waitFor((frame) => frame.name === 'flow' && frame.performative!.handle === 0);
    const credit = flow.performative!.link_credit as number;
    const transfers = Array.from({ length: credit + 1 }, (_, id) =>
      frameOf(0, performatives.transfer({ handle: 0, delivery_id: id, delivery_tag: Buffer.from(String(id)), settled: true }), encodedMessage(`m${id}`)),
    );
    peer.write(Buffer.concat(transfers));
    const detach = await peer.waitFor((frame) => frame.name === 'detach');
    expectOwnError((detach.performative!.error ?? {}) as never, 'amqp:link:transfer-limit-exceeded', /beyond the link-credit/);
    expect(full.runtime.queueReports().find((report) => report.name === queue)?.queued).toBe(credit);
    peer.destroy();
    await full.stop();
  });

  test('delivery-ids out of sequence, and a transfer without delivery-id: invalid-field', async () => {
    const gap = await openSession();
    gap.write(frameOf(0, performatives.attachSender('gap', 0, 'violations.ids')));
    await gap.waitFor((frame) => frame.name === 'flow');
    gap.write(frameOf(0, performatives.transfer({ handle: 0, delivery_id: 0, delivery_tag: Buffer.from('a'), settled: true }), encodedMessage('a')));
    gap.write(frameOf(0, performatives.transfer({ handle: 0, delivery_id: 5, delivery_tag: Buffer.from('b'), settled: true }), encodedMessage('b')));
    expectOwnError(await gap.closeError(), 'amqp:invalid-field', /delivery-id 5, expected 1/);

    const noId = await openSession();
    noId.write(frameOf(0, performatives.attachSender('no-id', 0, 'violations.ids')));
    await noId.waitFor((frame) => frame.name === 'flow');
    noId.write(frameOf(0, performatives.transfer({ handle: 0, delivery_tag: Buffer.from('a') }), encodedMessage('a')));
    expectOwnError(await noId.closeError(), 'amqp:invalid-field', /first transfer of a delivery has no delivery-id/);
  });

  test('a disposition whose last precedes its first: invalid-field', async () => {
    const peer = await openSession();
    peer.write(frameOf(0, performatives.disposition({ role: true, first: 10, last: 5, settled: true })));
    expectOwnError(await peer.closeError(), 'amqp:invalid-field', /disposition range 10\.\.5: last precedes first/);
  });

  test('a flow without delivery-count or link-credit gives a consumer the credit the specification says, not NaN', async () => {
    const queue = 'violations.flow-fields';
    const producer = await connect(broker.port);
    const sender = await producer.openSender(queue);
    await sendAll(sender, [{ body: 'one' }, { body: 'two' }]);
    const peer = await openSession();
    peer.write(frameOf(0, performatives.attachReceiver('partial-flow', 0, queue)));
    await peer.waitFor((frame) => frame.name === 'attach');
    // No delivery-count: taken as the initial delivery-count, 0 (AMQP 1.0 2.7.4); credit 1.
    peer.write(frameOf(0, performatives.flow({ handle: 0, link_credit: 1 })));
    await peer.waitFor((frame) => frame.name === 'transfer');
    // No link-credit: none granted.
    peer.write(frameOf(0, performatives.flow({ handle: 0, delivery_count: 1 })));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(peer.received.filter((frame) => frame.name === 'transfer')).toHaveLength(1);
    expect(peer.received.some((frame) => frame.name === 'close')).toBe(false);
    peer.destroy();
    await producer.close();
  });

  test('SASL: a malformed sasl-init, or a sasl-response before any sasl-init, gets the outcome sys-perm and the connection ends', async () => {
    const malformed = await RawPeer.connect(broker.port);
    malformed.write(Buffer.concat([SASL_HEADER, saslFrame(performative(0x41, [encode.uint(3)]))]));
    expect((await malformed.waitFor((frame) => frame.name === 'sasl_outcome')).performative!.code).toBe(3); // sys-perm
    await malformed.closed;

    const early = await RawPeer.connect(broker.port);
    early.write(Buffer.concat([SASL_HEADER, saslFrame(performative(0x43, [encode.binary(Buffer.from('x'))]))]));
    expect((await early.waitFor((frame) => frame.name === 'sasl_outcome')).performative!.code).toBe(3);
    await early.closed;
  });

  test('a message whose body a consumer could not decode is rejected at its producer with decode-error', async () => {
    const queue = 'violations.body';
    const peer = await openSession();
    peer.write(frameOf(0, performatives.attachSender('bodies', 0, queue)));
    await peer.waitFor((frame) => frame.name === 'flow');
    const good = encodedMessage('fine');
    const oversizedData = Buffer.from(good);
    oversizedData.writeUInt32BE(1000, 4); // the data section claims 1000 bytes
    const trailing = Buffer.concat([good, Buffer.from([0xff, 0xfe])]);
    const afterFooter = Buffer.concat([good, Buffer.from([0x00, 0x53, 0x78, 0xc1, 0x01, 0x00]), good]);
    const unknownSection = Buffer.concat([Buffer.from([0x00, 0x53, 0x10, 0x45]), good]);
    // A header whose list size takes in the data section behind it: read field by field the message
    // looked fine, and its redelivery (which rewrites the header) failed inside the broker.
    const headerSwallowsBody = Buffer.concat([Buffer.from([0x00, 0x53, 0x70, 0xc0, 2 + good.length, 0x01, 0x41]), good]);
    [oversizedData, trailing, afterFooter, unknownSection, headerSwallowsBody, good].forEach((message, id) =>
      peer.write(frameOf(0, performatives.transfer({ handle: 0, delivery_id: id, delivery_tag: Buffer.from([id]) }), message)),
    );
    const outcomes = await Promise.all([0, 1, 2, 3, 4, 5].map((id) => peer.waitFor((frame) => frame.name === 'disposition' && (frame.performative!.first as number) <= id && id <= ((frame.performative!.last as number | null) ?? (frame.performative!.first as number)))));
    const states = outcomes.map((frame) => outcomeOf(frame.performative!.state));
    expect(states.slice(0, 5).map((state) => state.error?.condition)).toEqual(Array(5).fill('amqp:decode-error'));
    expect(states[5]!.constructor.composite_type).toBe('accepted');
    const consumer = await connect(broker.port);
    const receiver = await consumer.openReceiver(queue);
    expect((await receive(receiver, 6, 500)).map((r) => String((r.message.body as { content: Buffer }).content))).toEqual(['fine']);
    await consumer.close();
    peer.destroy();
  });

  test('an attach with a null source or target is answered, not failed with an internal error (found by the fuzzer)', async () => {
    const peer = await openSession();
    // A sender with neither source nor target: the anonymous relay (AMQP 1.0 2.7.3 allows null termini).
    peer.write(frameOf(0, rheaFrames.attach({ name: 'no-termini', handle: 0, role: false, initial_delivery_count: 0 })));
    await peer.waitFor((frame) => frame.name === 'attach' && frame.performative!.handle === 0);
    // A receiver without a source names no queue (it names a durable subscription): refused in the broker's words.
    peer.write(frameOf(0, rheaFrames.attach({ name: 'no-source', handle: 1, role: true })));
    const detach = await peer.waitFor((frame) => frame.name === 'detach');
    const error = (detach.performative!.error ?? {}) as { condition?: string; description?: string };
    expect(error.condition).not.toBe('amqp:internal-error');
    expect(error.description).not.toMatch(RHEA_INTERNALS);
    expect(peer.received.filter((frame) => frame.name === 'detach')).toHaveLength(1);
    peer.destroy();
  });

  test('a transfer after its session ended, in the same read, finds no session: framing-error, not an internal error (found by the fuzzer)', async () => {
    const peer = await openSession();
    peer.write(frameOf(0, performatives.attachSender('after-end', 0, 'violations.after-end-transfer')));
    await peer.waitFor((frame) => frame.name === 'flow');
    peer.write(Buffer.concat([frameOf(0, performatives.end()), frameOf(0, performatives.transfer({ handle: 0, delivery_id: 0, delivery_tag: Buffer.from('t') }), encodedMessage('late'))]));
    expectOwnError(await peer.closeError(), 'amqp:connection:framing-error', /transfer on channel 0, which has no session/);
  });

  test('a link detached and attached again under the same name and handle in one read is answered and works', async () => {
    const queue = 'violations.reattach';
    const producer = await connect(broker.port);
    await sendAll(await producer.openSender(queue), [{ body: 'after the reattach' }]);
    const peer = await openSession();
    peer.write(frameOf(0, performatives.attachReceiver('same', 0, queue)));
    await peer.waitFor((frame) => frame.name === 'attach');
    peer.write(Buffer.concat([frameOf(0, performatives.detach({ handle: 0, closed: true })), frameOf(0, performatives.attachReceiver('same', 0, queue))]));
    // The old link's detach is answered, and the new attach too (rhea re-used the dying link and never answered).
    await peer.waitFor((frame) => frame.name === 'detach');
    await peer.waitFor((frame) => frame.name === 'attach' && peer.received.filter((f) => f.name === 'attach').length === 2);
    peer.write(frameOf(0, performatives.flow({ handle: 0, delivery_count: 0, link_credit: 1 })));
    await peer.waitFor((frame) => frame.name === 'transfer');
    expect(peer.received.some((frame) => frame.name === 'close' || frame.name === 'end')).toBe(false);
    peer.destroy();
    await producer.close();
  });

  test('after all of the above, a healthy client round-trips', async () => {
    await healthyRoundTrip(broker.port, 'violations.healthy');
  });
});
