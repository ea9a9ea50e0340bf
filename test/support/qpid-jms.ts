import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { RunningBroker } from '../../src/broker/server';
import { startTestBroker } from './broker';

/**
 * Runs the Qpid JMS scenario client (interop/jms, org.apache.qpid:qpid-jms-client 2.x). It prints one
 * JSON line per run: { scenario, ok, error?, ...details }. A missing `java` or a failed Maven build
 * FAILS the tests; they never skip.
 *
 * Debugging: CONVOY_JMS_TRACE=1 runs the client with PN_TRACE_FRM=true (proton-j frame trace on the
 * client's stdout) and prints the client's output; CONVOY_JMS_LOG=debug raises client logging.
 */
const JMS_DIR = path.resolve(__dirname, '../../interop/jms');
const BUILD_SCRIPT = path.join(JMS_DIR, 'build.sh');
const JAR = path.join(JMS_DIR, 'target', 'convoy-jms-interop.jar');
export const BUILD_TIMEOUT_MS = 300_000;
const SCENARIO_TIMEOUT_MS = 60_000;
const TRACE = process.env.CONVOY_JMS_TRACE === '1' || process.env.CONVOY_JMS_TRACE === 'true';

export interface ProcessResult {
  code: number | string | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  spawnError?: string;
}

export interface ScenarioResult {
  scenario: string;
  ok: boolean;
  error?: string;
  [detail: string]: unknown;
}

export function run(file: string, args: string[], timeoutMs: number, env: NodeJS.ProcessEnv = process.env): Promise<ProcessResult> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024, env }, (error, stdout, stderr) => {
      const err = error as (NodeJS.ErrnoException & { code?: number | string; signal?: string }) | null;
      resolve({
        code: err ? (err.code ?? null) : 0,
        signal: err?.signal ?? null,
        stdout: String(stdout),
        stderr: String(stderr),
        spawnError: err && typeof err.code === 'string' ? err.message : undefined,
      });
    });
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
      const value = JSON.parse(lines[i]!) as ScenarioResult;
      if (value && typeof value === 'object' && 'scenario' in value) return value;
    } catch {
      // not our line
    }
  }
  return undefined;
}

/** Checks for java and builds the client jar (interop/jms/build.sh; idempotent). */
export async function buildJmsClient(): Promise<void> {
  const java = await run('java', ['-version'], 30_000);
  if (java.code !== 0) {
    throw new Error(`java is required for the Qpid JMS interop tests: ${java.spawnError ?? java.stderr}`);
  }
  const build = await run('bash', [BUILD_SCRIPT], BUILD_TIMEOUT_MS);
  if (build.code !== 0) {
    throw new Error(`interop/jms/build.sh failed (exit ${build.code}, signal ${build.signal})\n${tail(build.stdout)}\n${tail(build.stderr)}`);
  }
  if (!existsSync(JAR)) throw new Error(`interop/jms/build.sh succeeded but ${JAR} is missing`);
}

/** Runs one scenario against `url`; `env` adds variables (e.g. credentials). Throws unless it reports ok. */
export async function runJmsScenario(scenario: string, url: string, env: NodeJS.ProcessEnv = {}): Promise<ScenarioResult> {
  const proc = await run('java', ['-jar', JAR, scenario, url], SCENARIO_TIMEOUT_MS, { ...process.env, ...env, ...(TRACE ? { PN_TRACE_FRM: 'true' } : {}) });
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

/** Runs one scenario against a fresh in-process broker; `check` looks at the broker before it stops. */
export async function runJmsScenarioOnFreshBroker(scenario: string, check?: (broker: RunningBroker) => void): Promise<ScenarioResult> {
  const broker = await startTestBroker();
  try {
    const result = await runJmsScenario(scenario, `amqp://${broker.host}:${broker.port}`);
    check?.(broker);
    return result;
  } finally {
    await broker.stop();
  }
}

/**
 * Starts a scenario that reports its result and then keeps running (e.g. holding a transaction open):
 * `reported` resolves with the result line; `stop` kills the client.
 */
export function startJmsScenario(scenario: string, url: string): { reported: Promise<ScenarioResult>; stop(): void } {
  const child = spawn('java', ['-jar', JAR, scenario, url], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const reported = new Promise<ScenarioResult>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`scenario ${scenario} reported nothing within ${SCENARIO_TIMEOUT_MS} ms\n${tail(stderr)}`)), SCENARIO_TIMEOUT_MS);
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const result = stdout.includes('\n') ? parseResult(stdout) : undefined;
      if (!result) return;
      clearTimeout(timer);
      if (result.ok) resolve(result);
      else reject(new Error(`scenario ${scenario} failed: ${result.error}\nclient stderr (tail):\n${tail(stderr, 25)}`));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`scenario ${scenario} exited with ${code} before reporting\n${tail(stdout)}\n${tail(stderr)}`));
    });
  });
  return { reported, stop: () => child.kill('SIGKILL') };
}
