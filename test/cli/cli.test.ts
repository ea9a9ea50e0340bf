import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, test } from 'vitest';
import { connect, sendAll } from '../support/client';
import { CONVOY_BIN, startBrokerProcess } from '../support/broker-process';

const run = promisify(execFile);

async function convoy(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CONVOY_BIN, ...args], { timeout: 15_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

function configFile(content: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'convoy-config-'));
  const path = join(dir, 'convoy.json');
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

describe('convoy CLI', () => {
  test('--help and --version', async () => {
    const help = await convoy(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('start');
    const version = await convoy(['--version']);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    const startHelp = await convoy(['start', '--help']);
    for (const flag of ['--host', '--port', '--http-port', '--data-dir', '--config', '--log-level', '--node-id', '--etcd', '--advertise']) expect(startHelp.stdout).toContain(flag);
  });

  test('an invalid option in the config file stops the start with a message naming the field', async () => {
    const bad = await convoy(['start', '--config', configFile({ queues: { 'orders.*': { maxGroups: 'many' } } })]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('queues["orders.*"].maxGroups');
    expect(bad.stderr).toContain('expected a positive integer');
  });

  test('an unknown config field is an error, not silently ignored', async () => {
    const bad = await convoy(['start', '--config', configFile({ prot: 5672 })]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('prot');
  });

  test('a config file that is not JSON is reported', async () => {
    const bad = await convoy(['start', '--config', configFile('{ not json')]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('valid JSON');
  });

  test('a bad --port is rejected', async () => {
    const bad = await convoy(['start', '--port', 'abc']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('--port');
  });

  test('flags override the config file', async () => {
    const broker = await startBrokerProcess(['--config', configFile({ port: 1, host: '10.255.255.1' })]);
    expect(broker.port).toBeGreaterThan(1);
    broker.child.kill('SIGTERM');
    expect(await broker.exited).toBe(0);
  });

  test('SIGTERM: clients are closed with amqp:connection:forced and the broker exits 0', async () => {
    const broker = await startBrokerProcess();
    const client = await connect(broker.port);
    const closed = new Promise<string | undefined>((resolve) => {
      client.connection.once('connection_error', (ctx) => resolve((ctx.connection.error as { condition?: string } | undefined)?.condition));
      client.connection.once('disconnected', () => resolve(undefined));
    });
    broker.child.kill('SIGTERM');
    expect(await closed).toBe('amqp:connection:forced');
    expect(await broker.exited).toBe(0);
  });

  test('SIGINT stops the broker with exit code 0', async () => {
    const broker = await startBrokerProcess();
    broker.child.kill('SIGINT');
    expect(await broker.exited).toBe(0);
  });
});

describe('operator views', () => {
  test('convoy queues and convoy groups show consumers, the active exclusive one, and group owners with counts', async () => {
    const broker = await startBrokerProcess();
    const client = await connect(broker.port);
    try {
      const receiver = await client.openReceiver('ops.orders');
      receiver.add_credit(1);
      await client.openReceiver('ops.excl?consumer.exclusive=true');
      await client.openReceiver('ops.excl?consumer.exclusive=true');
      const sender = await client.openSender('ops.orders');
      await sendAll(sender, [
        { body: 1, group_id: 'A' },
        { body: 2, group_id: 'A' },
        { body: 3, group_id: 'B' },
      ]);
      const queues = await convoy(['queues', '--port', String(broker.port)]);
      expect(queues.code).toBe(0);
      expect(queues.stdout).toMatch(/ops\.orders\s+2\s+1\s+3\s+2\s+1/);
      expect(queues.stdout).toContain('active');
      expect(queues.stdout).toContain('waiting');
      // Each consumer names its client: container id, address and link name.
      expect(queues.stdout).toMatch(/CLIENT[\s\S]*127\.0\.0\.1:\d+ link /);
      const groups = await convoy(['groups', 'ops.orders', '--port', String(broker.port)]);
      expect(groups.code).toBe(0);
      expect(groups.stdout).toMatch(/A\s+c\d+\/\d+\s+1\s+1\s+owned/);
      expect(groups.stdout).toMatch(/B\s+-\s+1\s+0\s+unowned\s+no-eligible-consumer \(until eligible-consumer-credit\)/);
      const json = JSON.parse((await convoy(['groups', 'ops.orders', '--json', '--port', String(broker.port)])).stdout);
      expect(json.groups.map((g: { id: string }) => g.id)).toEqual(['A', 'B']);
      const missing = await convoy(['groups', 'nope', '--port', String(broker.port)]);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain('no queue named "nope"');
    } finally {
      await client.close();
      broker.child.kill('SIGTERM');
      await broker.exited;
    }
  });

  test('convoy queues shows topics and their subscriptions; convoy groups reads a subscription by its queue name', async () => {
    const broker = await startBrokerProcess();
    const client = await connect(broker.port, { container_id: 'app1' } as never);
    try {
      const topic = (fields: Record<string, unknown> = {}) => ({ address: 'ops.prices', capabilities: ['topic'], ...fields });
      await client.openReceiver(topic({ durable: 2, expiry_policy: 'never' }), { name: 'audit' });
      await client.openReceiver(topic({ capabilities: ['topic', 'shared', 'global'] }), { name: 'pool|global-volatile1' });
      await client.openReceiver(topic());
      await sendAll(await client.openSender(topic()), [{ body: 1, group_id: 'A' }, { body: 2, group_id: 'B' }]);
      const queues = await convoy(['queues', '--port', String(broker.port)]);
      expect(queues.code).toBe(0);
      expect(queues.stdout).toMatch(/TOPIC\s+PUBLISHED\s+SUBSCRIPTIONS\nops\.prices\s+2\s+3/);
      expect(queues.stdout).toMatch(/ops\.prices::app1\.audit\s+ops\.prices\s+audit\s+app1\s+yes\s+no\s+1\s+2/);
      expect(queues.stdout).toMatch(/ops\.prices::pool\s+ops\.prices\s+pool\s+\(global\)\s+no\s+yes\s+1\s+2/);
      expect(queues.stdout).toMatch(/ops\.prices::c\d+\/\d+\s+ops\.prices\s+-\s+-\s+no\s+no\s+1\s+2/);
      const json = JSON.parse((await convoy(['queues', '--json', '--port', String(broker.port)])).stdout);
      expect(json.topics[0].subscriptions.map((s: { queue: string }) => s.queue)).toContain('ops.prices::app1.audit');
      const groups = await convoy(['groups', 'ops.prices::app1.audit', '--port', String(broker.port)]);
      expect(groups.code).toBe(0);
      expect(groups.stdout).toMatch(/^ops\.prices::app1\.audit: 2 groups, 2 queued/);
    } finally {
      await client.close();
      broker.child.kill('SIGTERM');
      await broker.exited;
    }
  });

  test('convoy queues without a broker says it cannot reach it', async () => {
    const result = await convoy(['queues', '--port', '1']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('cannot reach the broker');
  });
});
