import { afterEach } from 'vitest';
import type { RunningBroker } from '../../src/broker/server';
import type { BrokerOptionsInput } from '../../src/config/options';
import { startTestBroker } from './broker';
import { connect, type TestClient } from './client';

/**
 * For test files whose tests each need a broker with options of their own: `start` starts one (in
 * process, memory store), `client` connects to it, `track` registers anything else to close; all of it is
 * closed and stopped after each test.
 */
export function brokerPerTest(): {
  start(options: BrokerOptionsInput): Promise<RunningBroker>;
  client(port: number): Promise<TestClient>;
  track(closable: { close(): unknown }): void;
  readonly broker: RunningBroker;
} {
  let broker: RunningBroker | null = null;
  const opened: { close(): unknown }[] = [];
  afterEach(async () => {
    for (const item of opened.splice(0)) await item.close();
    await broker?.stop();
    broker = null;
  });
  return {
    async start(options) {
      broker = await startTestBroker(options);
      return broker;
    },
    async client(port) {
      const made = await connect(port);
      opened.push(made);
      return made;
    },
    track(closable) {
      opened.push(closable);
    },
    get broker() {
      if (!broker) throw new Error('no broker started in this test');
      return broker;
    },
  };
}
