import { startBroker, type RunningBroker } from '../../src/broker/server';
import type { BrokerOptionsInput } from '../../src/config/options';

/**
 * Starts an in-process broker on 127.0.0.1, port 0 (a free port), with a quiet logger and, unless the
 * test asks for the journal, the in-memory store, and without the HTTP listener unless the test asks for
 * it (`http: { port: 0 }`). Every test that needs a broker calls `stop()` after.
 */
export async function startTestBroker(overrides: BrokerOptionsInput = {}): Promise<RunningBroker> {
  return startBroker({ host: '127.0.0.1', port: 0, logLevel: 'silent', store: 'memory', http: { port: null }, ...overrides });
}
