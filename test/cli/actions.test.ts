import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CONVOY_BIN, startBrokerProcess, type BrokerProcess } from '../support/broker-process';
import { connect, receive, sendAll, waitFor, type TestClient } from '../support/client';

const run = promisify(execFile);

/** `convoy purge`, `dlq-retry`, `release-group`, `connections` against a broker process, over its HTTP API. */
describe('convoy operator actions', () => {
  let broker: BrokerProcess;
  let httpPort: number;
  let client: TestClient;

  beforeAll(async () => {
    broker = await startBrokerProcess();
    await waitFor(() => /"httpPort":\d+/.test(broker.output()), 'the HTTP listener');
    httpPort = Number(/"httpPort":(\d+)/.exec(broker.output())![1]);
    client = await connect(broker.port, { container_id: 'cli-actions' });
  });

  afterAll(async () => {
    await client.close();
    broker.child.kill('SIGTERM');
    await broker.exited;
  });

  async function convoy(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    try {
      const { stdout, stderr } = await run(process.execPath, [CONVOY_BIN, ...args, '--http-port', String(httpPort)], { timeout: 15_000 });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const e = error as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  }

  test('purge, then dlq-retry moves rejected messages back', async () => {
    const sender = await client.openSender('cli.q');
    await sendAll(sender, ['a', 'b', 'c'].map((body) => ({ body })));
    const receiver = await client.openReceiver('cli.q', { name: 'cli-rejecter' });
    const got = await receive(receiver, 2, 2000, 2);
    for (const g of got) g.delivery.reject();
    receiver.close();
    const purge = await convoy('purge', 'cli.q');
    expect(purge.stdout.trim()).toBe('cli.q: 1 messages purged; 0 in flight left to settle');
    const retry = await convoy('dlq-retry', 'DLQ', '--from', 'cli.q', '--limit', '1', '--json');
    expect(JSON.parse(retry.stdout)).toEqual({ queue: 'DLQ', retried: 1, remaining: 1 });
    expect((await convoy('dlq-retry', 'DLQ')).stdout.trim()).toBe('DLQ: 1 messages moved back to their queues; 0 left');
    expect((await convoy('delete', 'cli.q')).stdout.trim()).toBe('cli.q: deleted with 2 messages');
  });

  test('release-group: the owner keeps the group until its in-flight message is settled; then it is gone', async () => {
    const sender = await client.openSender('cli.groups');
    await sendAll(sender, [{ body: 'g', group_id: 'G' }]);
    const receiver = await client.openReceiver('cli.groups', { name: 'cli-owner' });
    const [g] = await receive(receiver, 1, 2000, 1);
    const pending = await convoy('release-group', 'cli.groups', 'G');
    expect(pending.stdout).toMatch(/^cli\.groups\/G: leaves c\d+\/\d+ once its 1 in-flight messages are settled/);
    g!.delivery.accept();
    receiver.close();
    expect((await convoy('release-group', 'cli.groups', 'G')).stderr).toContain('queue "cli.groups" has no group "G"');
  });

  test('connections lists and closes; errors say what is wrong and exit 1', async () => {
    const listed = await convoy('connections');
    expect(listed.stdout).toMatch(/^ID\s+USER\s+CONTAINER/);
    expect(listed.stdout).toContain('cli-actions');
    const other = await connect(broker.port, { container_id: 'cli-victim' });
    other.connection.on('connection_error', () => undefined);
    const { connections } = JSON.parse((await convoy('connections', '--json')).stdout) as { connections: { id: string; container: string }[] };
    const victim = connections.find((c) => c.container === 'cli-victim')!;
    const closed = await convoy('connections', '--close', victim.id);
    expect(closed.stdout.trim()).toBe(`${victim.id}: closed`);
    await waitFor(() => other.connection.is_closed() || !other.connection.is_open(), 'the close');
    const missing = await convoy('purge', 'no-such-queue');
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toBe('convoy: no queue named "no-such-queue"');
    const unreachable = await run(process.execPath, [CONVOY_BIN, 'connections', '--http-port', '1']).catch((e: { code: number; stderr: string }) => e);
    expect((unreachable as { stderr: string }).stderr).toContain("cannot reach the broker's HTTP API at http://127.0.0.1:1");
  });
});
