import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { RunningBroker } from '../../src/broker/server';
import { startTestBroker } from '../support/broker';
import { connect, receive, sendAll, type TestClient } from '../support/client';

let broker: RunningBroker;
let client: TestClient;
beforeAll(async () => {
  broker = await startTestBroker();
  client = await connect(broker.port);
});
afterAll(async () => {
  await client.close();
  await broker.stop();
});

function remoteAttach(link: unknown): Record<string, any> {
  return (link as { remote: { attach: Record<string, any> } }).remote.attach;
}

describe('links', () => {
  test('a receiver on source q consumes from queue q, created on first use; a sender to target q produces to it', async () => {
    const receiver = await client.openReceiver('links.first-use');
    expect(broker.runtime.state.queues.has('links.first-use')).toBe(true);
    const sender = await client.openSender('links.first-use');
    expect(await sendAll(sender, [{ body: 'hello' }])).toEqual(['accepted']);
    expect((await receive(receiver, 1)).map((r) => r.message.body)).toEqual(['hello']);
  });

  test('the attach reply echoes the terminus: address unchanged, capabilities kept', async () => {
    const address = 'links.echo?consumer.priority=3';
    const receiver = await client.openReceiver({ address, capabilities: ['queue'] });
    const source = remoteAttach(receiver).source;
    expect(source.address).toBe(address);
    expect(source.capabilities).toEqual(['queue']);
    const sender = await client.openSender({ address: 'links.echo', capabilities: ['queue'] });
    expect(remoteAttach(sender).target.address).toBe('links.echo');
    expect(remoteAttach(sender).target.capabilities).toEqual(['queue']);
  });

  test('an unknown address option refuses the link with amqp:invalid-field naming the option', async () => {
    const error = await client.openReceiver('links.bad?consumer.colour=blue').catch((e: { condition?: string; message: string }) => e);
    expect((error as { condition?: string }).condition).toBe('amqp:invalid-field');
    expect((error as Error).message).toContain('consumer.colour');
  });

  test('a bad option value is refused with amqp:invalid-field', async () => {
    const error = await client.openReceiver('links.bad?consumer.exclusive=maybe').catch((e) => e);
    expect((error as { condition?: string }).condition).toBe('amqp:invalid-field');
  });

  test('a refused link gets a null terminus in the attach reply, then the detach', async () => {
    const receiver = client.connection.open_receiver({ source: 'links.bad?nope=1', autoaccept: false, credit_window: 0 } as never);
    const detached = new Promise((resolve) => receiver.once('receiver_error', resolve));
    const attach = await new Promise<Record<string, any>>((resolve) => receiver.once('receiver_open', () => resolve(remoteAttach(receiver))));
    // rhea hands the client a typed null for an absent terminus.
    expect(attach.source === null || attach.source === undefined || attach.source.value === null).toBe(true);
    await detached;
    expect((receiver.error as { condition?: string }).condition).toBe('amqp:invalid-field');
  });

  test('the connection offers ANONYMOUS-RELAY; a null-target sender routes each message by its to', async () => {
    const offered = (client.connection as unknown as { remote: { open: { offered_capabilities: string[] } } }).remote.open.offered_capabilities;
    expect(offered).toContain('ANONYMOUS-RELAY');
    const relay = await client.openSender(null);
    const outcomes = await sendAll(relay, [
      { to: 'links.relay.a', body: 'for a' },
      { to: 'links.relay.b', body: 'for b' },
    ]);
    expect(outcomes).toEqual(['accepted', 'accepted']);
    expect((await receive(await client.openReceiver('links.relay.a'), 1)).map((r) => r.message.body)).toEqual(['for a']);
    expect((await receive(await client.openReceiver('links.relay.b'), 1)).map((r) => r.message.body)).toEqual(['for b']);
  });

  test('on the anonymous relay a message without to is rejected with a clear error', async () => {
    const relay = await client.openSender(null);
    const rejected = new Promise<Record<string, any>>((resolve) => relay.once('rejected', (ctx) => resolve(ctx.delivery!.remote_state as Record<string, any>)));
    await sendAll(relay, [{ body: 'nowhere' }]);
    const state = await rejected;
    expect(state.error.condition).toBe('amqp:invalid-field');
    expect(state.error.description).toContain('"to"');
  });

  test('link properties exclusive and priority override the address options', async () => {
    const receiver = await client.openReceiver('links.props?consumer.priority=1', { properties: { priority: 7, exclusive: true } });
    const consumer = broker.runtime.state.queues.get('links.props')!.consumers[0]!;
    expect(consumer.priority).toBe(7);
    expect(consumer.exclusive).toBe(true);
    receiver.close();
  });

  test('a dynamic source creates a temporary queue whose name comes back in the attach', async () => {
    const receiver = await client.openReceiver({ dynamic: true });
    const address = remoteAttach(receiver).source.address as string;
    expect(address).toMatch(/^temp\./);
    const sender = await client.openSender(address);
    await sendAll(sender, [{ body: 'reply' }]);
    expect((await receive(receiver, 1)).map((r) => r.message.body)).toEqual(['reply']);
  });

  test('detaching a consumer returns its unsettled messages', async () => {
    const sender = await client.openSender('links.detach');
    await sendAll(sender, [{ body: 'a' }, { body: 'b' }]);
    const first = await client.openReceiver('links.detach');
    expect(await receive(first, 2)).toHaveLength(2);
    first.close();
    const second = await client.openReceiver('links.detach');
    const again = await receive(second, 2);
    expect(again.map((r) => [r.message.body, r.message.delivery_count])).toEqual([['a', 1], ['b', 1]]);
  });
});
