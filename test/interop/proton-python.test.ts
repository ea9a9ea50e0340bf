/**
 * Interop: Qpid Proton Python clients (Debian `python3-qpid-proton`, run with /usr/bin/python3)
 * against an in-process Convoy broker. Each scenario script in interop/python/ prints one JSON
 * line ({ ok, scenario, ... }) and exits 0 on success; see interop/python/convoy_interop.py.
 *
 * If Proton Python is missing these tests FAIL (they never skip): install it with
 * `apt-get install python3-qpid-proton`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker } from '../support/broker';
import { protonProblem, runPythonScript, TEST_TIMEOUT_MS, type ScenarioResult } from '../support/proton-python';

type Broker = Awaited<ReturnType<typeof startTestBroker>>;

/** Runs interop/python/<script> against the broker and returns its parsed JSON line. */
function runScenario(script: string, broker: Broker, extra: string[] = []): Promise<ScenarioResult> {
  return runPythonScript(script, ['--url', `amqp://${broker.host}:${broker.port}`, ...extra]);
}

/** One broker per describe block: started in beforeAll, stopped in afterAll. */
function useBroker(): () => Broker {
  let broker: Broker | undefined;
  beforeAll(async () => {
    broker = await startTestBroker();
  });
  afterAll(async () => {
    await broker?.stop();
  });
  return () => {
    if (!broker) throw new Error('broker did not start');
    return broker;
  };
}

describe('Qpid Proton Python interop', () => {
  it('has Qpid Proton Python available to /usr/bin/python3', async () => {
    const problem = await protonProblem();
    expect(problem, problem ?? '').toBeNull();
  });

  describe('a. send and receive N messages', () => {
    const broker = useBroker();
    it(
      'at-least-once: unsettled sends accepted, receiver accepts, bodies in order',
      async () => {
        const r = await runScenario('roundtrip.py', broker(), [
          '--mode',
          'at-least-once',
          '--queue',
          'interop.a.alo',
          '--count',
          '200',
        ]);
        expect(r.received).toBe(200);
      },
      TEST_TIMEOUT_MS,
    );
    it(
      'at-most-once: pre-settled on both links, bodies in order',
      async () => {
        const r = await runScenario('roundtrip.py', broker(), [
          '--mode',
          'at-most-once',
          '--queue',
          'interop.a.amo',
          '--count',
          '200',
        ]);
        expect(r.received).toBe(200);
      },
      TEST_TIMEOUT_MS,
    );
  });

  describe('b. AMQP type round trip', () => {
    const broker = useBroker();
    it(
      'application properties, message annotations, bodies and properties keep their exact types',
      async () => {
        await runScenario('types_roundtrip.py', broker(), ['--queue', 'interop.b.types']);
      },
      TEST_TIMEOUT_MS,
    );
  });

  describe('c. large message', () => {
    const broker = useBroker();
    it(
      '10 MiB binary body round trip, byte for byte',
      async () => {
        const r = await runScenario('large_body.py', broker(), [
          '--queue',
          'interop.c.large',
          '--size',
          String(10 * 1024 * 1024),
        ]);
        expect(r.size).toBe(10 * 1024 * 1024);
      },
      TEST_TIMEOUT_MS,
    );
  });

  describe('d. TTL', () => {
    const broker = useBroker();
    it(
      'a message whose ttl passed while queued is never delivered; one without ttl is',
      async () => {
        await runScenario('ttl_expiry.py', broker(), [
          '--queue',
          'interop.d.ttl',
          '--ttl',
          '0.5',
          '--wait',
          '1.5',
          '--listen',
          '1.0',
        ]);
      },
      TEST_TIMEOUT_MS,
    );
  });

  describe('e. garbage on raw sockets', () => {
    const broker = useBroker();
    it(
      'random bytes, a wrong protocol header, garbage frames: broker answers/closes, Proton client unaffected',
      async () => {
        const r = await runScenario('garbage.py', broker(), ['--queue', 'interop.e.garbage']);
        expect(r.probe_roundtrips).toBe(6);
      },
      TEST_TIMEOUT_MS,
    );
  });

  describe('f. message groups', () => {
    const broker = useBroker();
    for (const close of ['link', 'connection'] as const) {
      it(
        `groups stay with one consumer in order; owner ${close} closed -> unsettled return first (delivery-count raised)`,
        async () => {
          await runScenario('groups.py', broker(), ['--queue', `interop.f.groups.${close}`, '--close', close]);
        },
        TEST_TIMEOUT_MS,
      );
    }
  });

  describe('g. exclusive consumer', () => {
    const broker = useBroker();
    for (const close of ['link', 'connection'] as const) {
      it(
        `only the first exclusive consumer receives; on ${close} close the second gets returned messages first`,
        async () => {
          await runScenario('exclusive.py', broker(), ['--queue', `interop.g.exclusive.${close}`, '--close', close]);
        },
        TEST_TIMEOUT_MS,
      );
    }
  });

  describe('i. a group changes owner without stalling (issue 8)', () => {
    let broker: Broker | undefined;
    beforeAll(async () => {
      broker = await startTestBroker({ queues: { 'interop.i.rebalance': { groupRebalance: true } } });
    });
    afterAll(async () => {
      await broker?.stop();
    });
    const cases = {
      refused: 'the owner refuses A0 (undeliverable-here) and leaves holding A1: the next consumer gets A0, A1, A2',
      rebalance: 'G starts moving to a newcomer and the owner leaves before settling A0: the newcomer gets A0, A1, A2',
    } as const;
    for (const [which, title] of Object.entries(cases)) {
      it(
        title,
        async () => {
          await runScenario('group_handover.py', broker!, ['--queue', `interop.i.${which}`, '--case', which]);
        },
        TEST_TIMEOUT_MS,
      );
    }
  });

  describe('j. operator views', () => {
    const broker = useBroker();
    it(
      '$convoy/queues and $convoy/groups/<queue> read with a blocking receiver, twice on one connection',
      async () => {
        const r = await runScenario('admin_views.py', broker(), ['--queue', 'interop.j.admin']);
        expect(r.reads).toBe(4);
      },
      TEST_TIMEOUT_MS,
    );
  });

  describe('h. group close', () => {
    const broker = useBroker();
    it(
      'group-sequence 4294967295 closes the group: A1..A3 to the owner, A4 delivered afresh',
      async () => {
        await runScenario('group_close.py', broker(), ['--queue', 'interop.h.group-close']);
      },
      TEST_TIMEOUT_MS,
    );
  });
});
