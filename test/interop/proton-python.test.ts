/**
 * Interop: Qpid Proton Python clients (Debian `python3-qpid-proton`, run with /usr/bin/python3)
 * against an in-process Convoy broker. Each scenario script in interop/python/ prints one JSON
 * line ({ ok, scenario, ... }) and exits 0 on success; see interop/python/convoy_interop.py.
 *
 * If Proton Python is missing these tests FAIL (they never skip): install it with
 * `apt-get install python3-qpid-proton`.
 */
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker } from '../support/broker';

const PYTHON = '/usr/bin/python3';
const SCRIPTS_DIR = path.resolve(__dirname, '../../interop/python');
/** The script aborts itself after this; the child is killed a little later; the test later still. */
const SCRIPT_HARD_TIMEOUT_S = 40;
const EXEC_TIMEOUT_MS = 50_000;
const TEST_TIMEOUT_MS = 70_000;

interface ExecResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

interface ScenarioResult {
  ok: boolean;
  scenario: string;
  error?: string;
  [key: string]: unknown;
}

function exec(args: string[], timeoutMs = EXEC_TIMEOUT_MS): Promise<ExecResult> {
  return new Promise((resolve) => {
    execFile(
      PYTHON,
      args,
      {
        cwd: SCRIPTS_DIR,
        timeout: timeoutMs,
        killSignal: 'SIGKILL',
        maxBuffer: 16 * 1024 * 1024,
        env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1', PYTHONUNBUFFERED: '1' },
      },
      (err, stdout, stderr) => {
        const e = err as (NodeJS.ErrnoException & { code?: number | string; signal?: NodeJS.Signals }) | null;
        resolve({
          code: e ? (typeof e.code === 'number' ? e.code : null) : 0,
          signal: e?.signal ?? null,
          stdout: String(stdout),
          stderr: String(stderr) + (e && typeof e.code === 'string' ? `\n[spawn error ${e.code}]` : ''),
        });
      },
    );
  });
}

type Broker = Awaited<ReturnType<typeof startTestBroker>>;

let protonCheck: Promise<string | null> | undefined;

/** Resolves to null when `import proton` works with /usr/bin/python3, else to an explanation. */
function protonProblem(): Promise<string | null> {
  protonCheck ??= exec(['-c', 'import proton, sys; print(".".join(map(str, proton.VERSION)))'], 20_000).then(
    (r) =>
      r.code === 0
        ? null
        : `Qpid Proton Python is not importable by ${PYTHON} (exit ${r.code}, signal ${r.signal}): ` +
          `${r.stderr.trim().split('\n').slice(-1)[0] ?? ''}. ` +
          'Install the Debian package python3-qpid-proton (apt-get install python3-qpid-proton).',
  );
  return protonCheck;
}

async function requireProton(): Promise<void> {
  const problem = await protonProblem();
  if (problem) throw new Error(problem);
}

function tail(text: string, lines = 40): string {
  return text.trim().split('\n').slice(-lines).join('\n');
}

/** Runs interop/python/<script> against the broker and returns its parsed JSON line. */
async function runScenario(script: string, broker: Broker, extra: string[] = []): Promise<ScenarioResult> {
  await requireProton();
  const args = [
    path.join(SCRIPTS_DIR, script),
    '--url',
    `amqp://${broker.host}:${broker.port}`,
    '--hard-timeout',
    String(SCRIPT_HARD_TIMEOUT_S),
    ...extra,
  ];
  const r = await exec(args);
  const line = r.stdout
    .trim()
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('{'));
  if (!line) {
    throw new Error(
      `${script} ${extra.join(' ')} printed no JSON result (exit ${r.code}, signal ${r.signal}).\n` +
        `stdout:\n${tail(r.stdout)}\nstderr:\n${tail(r.stderr)}`,
    );
  }
  const result = JSON.parse(line) as ScenarioResult;
  if (!result.ok || r.code !== 0) {
    throw new Error(
      `${script} ${extra.join(' ')} failed (exit ${r.code}): ${result.error ?? '(no error text)'}\n` +
        `result: ${JSON.stringify(result, null, 2)}\nstderr:\n${tail(r.stderr)}`,
    );
  }
  expect(result.ok).toBe(true);
  return result;
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

  describe('i. operator views', () => {
    const broker = useBroker();
    it(
      '$convoy/queues and $convoy/groups/<queue> read with a blocking receiver, twice on one connection',
      async () => {
        const r = await runScenario('admin_views.py', broker(), ['--queue', 'interop.i.admin']);
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
