/**
 * Qpid JMS interop: runs the Java scenario client (interop/jms, org.apache.qpid:qpid-jms-client 2.x)
 * against an in-process Convoy broker, one fresh broker per scenario.
 *
 * The client prints one JSON line per run: { scenario, ok, error?, ...details }. A missing `java` or
 * a failed Maven build FAILS this suite; it never skips.
 *
 * Debugging: CONVOY_JMS_TRACE=1 runs the client with PN_TRACE_FRM=true (proton-j frame trace on
 * the client's stdout) and prints the client's output; CONVOY_JMS_LOG=debug raises client logging.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker } from '../support/broker';

const JMS_DIR = path.resolve(__dirname, '../../interop/jms');
const BUILD_SCRIPT = path.join(JMS_DIR, 'build.sh');
const JAR = path.join(JMS_DIR, 'target', 'convoy-jms-interop.jar');
const BUILD_TIMEOUT_MS = 300_000;
const SCENARIO_TIMEOUT_MS = 60_000;
const TRACE = process.env.CONVOY_JMS_TRACE === '1' || process.env.CONVOY_JMS_TRACE === 'true';

interface ProcessResult {
  code: number | string | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  spawnError?: string;
}

interface ScenarioResult {
  scenario: string;
  ok: boolean;
  error?: string;
  [detail: string]: unknown;
}

interface Received {
  body: string;
  n: number | null;
  dc: number;
  redelivered: boolean;
  group?: string;
}

function run(
  file: string,
  args: string[],
  timeoutMs: number,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ProcessResult> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024, env },
      (error, stdout, stderr) => {
        const err = error as (NodeJS.ErrnoException & { code?: number | string; signal?: string }) | null;
        resolve({
          code: err ? (err.code ?? null) : 0,
          signal: err?.signal ?? null,
          stdout: String(stdout),
          stderr: String(stderr),
          spawnError: err && typeof err.code === 'string' ? err.message : undefined,
        });
      },
    );
  });
}

function tail(text: string, lines = 40): string {
  return text.split('\n').slice(-lines).join('\n');
}

/** The last stdout line that is a JSON object with a `scenario` field (frame traces may surround it). */
function parseResult(stdout: string): ScenarioResult | undefined {
  const lines = stdout.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('{'));
  for (let i = lines.length - 1; i >= 0; i--) {
    try {
      const value = JSON.parse(lines[i]) as ScenarioResult;
      if (value && typeof value === 'object' && 'scenario' in value) return value;
    } catch {
      // not our line
    }
  }
  return undefined;
}

async function runScenario(scenario: string): Promise<ScenarioResult> {
  const broker = await startTestBroker();
  let proc: ProcessResult;
  try {
    const url = `amqp://${broker.host}:${broker.port}`;
    const env = { ...process.env, ...(TRACE ? { PN_TRACE_FRM: 'true' } : {}) };
    proc = await run('java', ['-jar', JAR, scenario, url], SCENARIO_TIMEOUT_MS, env);
  } finally {
    await broker.stop();
  }
  if (TRACE) {
    console.log(`--- ${scenario} stdout ---\n${proc.stdout}\n--- ${scenario} stderr ---\n${proc.stderr}`);
  }
  const result = parseResult(proc.stdout);
  if (!result) {
    throw new Error(
      `scenario ${scenario}: no JSON result line (exit ${proc.code}, signal ${proc.signal}` +
        `${proc.spawnError ? `, ${proc.spawnError}` : ''})\nstdout:\n${tail(proc.stdout)}\nstderr:\n${tail(proc.stderr)}`,
    );
  }
  if (!result.ok || proc.code !== 0) {
    const { scenario: _s, ok: _o, error, ...details } = result;
    throw new Error(
      `scenario ${scenario} failed (exit ${proc.code}): ${error ?? 'no error message'}\n` +
        `details: ${JSON.stringify(details)}\nclient stderr (tail):\n${tail(proc.stderr, 25)}`,
    );
  }
  return result;
}

describe('Qpid JMS interop', () => {
  beforeAll(async () => {
    const java = await run('java', ['-version'], 30_000);
    if (java.code !== 0) {
      throw new Error(`java is required for the Qpid JMS interop tests: ${java.spawnError ?? java.stderr}`);
    }
    const build = await run('bash', [BUILD_SCRIPT], BUILD_TIMEOUT_MS);
    if (build.code !== 0) {
      throw new Error(
        `interop/jms/build.sh failed (exit ${build.code}, signal ${build.signal})\n${tail(build.stdout)}\n${tail(build.stderr)}`,
      );
    }
    if (!existsSync(JAR)) throw new Error(`interop/jms/build.sh succeeded but ${JAR} is missing`);
  }, BUILD_TIMEOUT_MS + 30_000);

  it('basic: typed properties, message kinds, anonymous producer (ANONYMOUS-RELAY)', async () => {
    const r = await runScenario('basic');
    expect(r.textMessages).toBe(100);
    expect(r.otherMessages).toEqual(['bytes', 'map', 'stream', 'plain']);
    expect(r.anonymousRelay).toBe(true);
    expect(r.anonymousMessages).toBe(10);
  }, 90_000);

  it('groups: each group wholly at one consumer, in order; A and B apart', async () => {
    const r = await runScenario('groups');
    const owners = r.owners as Record<string, string>;
    expect(Object.keys(owners).sort()).toEqual(['A', 'B', 'C']);
    expect(owners.A).not.toBe(owners.B);
    const received = r.received as Record<string, string[]>;
    expect(received.c1.length + received.c2.length).toBe(35);
  }, 90_000);

  it('group-close: JMSXGroupSeq=-1 closes the group', async () => {
    const r = await runScenario('group-close');
    const received = r.received as Record<string, string[]>;
    const owner = r.a1At as string;
    expect(received[owner].filter((b) => b !== 'A4')).toEqual(['A1', 'A2', 'A3']);
    expect([...received.c1, ...received.c2].filter((b) => b === 'A4')).toHaveLength(1);
    expect(r.a3GroupSeq).toBe(-1);
  }, 90_000);

  it('exclusive-failover: consumer 2 takes over with the unacknowledged messages first, in order', async () => {
    const r = await runScenario('exclusive-failover');
    const got = r.consumer2 as Received[];
    expect(got.map((m) => m.n)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    // Every unsettled delivery of a closing consumer comes back with delivery-count + 1 (prefetched ones
    // too); the five the application saw were also settled modified{delivery-failed} by Qpid JMS on close.
    expect(got.every((m) => m.redelivered)).toBe(true);
    expect(got.slice(0, 5).every((m) => m.dc >= 2 && m.dc <= 3)).toBe(true);
    expect(got.slice(5).map((m) => m.dc)).toEqual(Array(15).fill(2));
  }, 90_000);

  it('group-failover: group A moves to consumer 2 with its unacknowledged messages first', async () => {
    const r = await runScenario('group-failover');
    const got = r.consumer2 as Received[];
    expect(got.map((m) => m.body)).toEqual(['A1', 'A2', 'A3', 'A4', 'A5', 'A6', 'A7', 'A8']);
    expect(got.slice(0, 5).every((m) => m.dc >= 2 && m.dc <= 3)).toBe(true);
    expect(got.slice(5).map((m) => m.dc)).toEqual([2, 2, 2]);
    expect(got.every((m) => m.redelivered)).toBe(true);
  }, 90_000);
});
