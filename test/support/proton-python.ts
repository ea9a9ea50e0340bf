import { execFile } from 'node:child_process';
import * as path from 'node:path';

/**
 * Runs the Qpid Proton Python scenario scripts of interop/python/ (Debian `python3-qpid-proton`, run
 * with /usr/bin/python3). Each prints one JSON line ({ ok, scenario, ... }) and exits 0 on success;
 * see interop/python/convoy_interop.py. If Proton Python is missing the tests FAIL (they never skip):
 * install it with `apt-get install python3-qpid-proton`.
 */
export const PYTHON = '/usr/bin/python3';
export const SCRIPTS_DIR = path.resolve(__dirname, '../../interop/python');
/** The script aborts itself after this; the child is killed a little later; the test later still. */
const SCRIPT_HARD_TIMEOUT_S = 40;
const EXEC_TIMEOUT_MS = 50_000;
export const TEST_TIMEOUT_MS = 70_000;

interface ExecResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface ScenarioResult {
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

let protonCheck: Promise<string | null> | undefined;

/** Resolves to null when `import proton` works with /usr/bin/python3, else to an explanation. */
export function protonProblem(): Promise<string | null> {
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

/** Runs interop/python/<script> with `args` and returns its parsed JSON line; throws unless it reports ok. */
export async function runPythonScript(script: string, args: string[]): Promise<ScenarioResult> {
  await requireProton();
  const r = await exec([path.join(SCRIPTS_DIR, script), '--hard-timeout', String(SCRIPT_HARD_TIMEOUT_S), ...args]);
  const line = r.stdout
    .trim()
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('{'));
  if (!line) {
    throw new Error(
      `${script} ${args.join(' ')} printed no JSON result (exit ${r.code}, signal ${r.signal}).\n` +
        `stdout:\n${tail(r.stdout)}\nstderr:\n${tail(r.stderr)}`,
    );
  }
  const result = JSON.parse(line) as ScenarioResult;
  if (!result.ok || r.code !== 0) {
    throw new Error(
      `${script} ${args.join(' ')} failed (exit ${r.code}): ${result.error ?? '(no error text)'}\n` +
        `result: ${JSON.stringify(result, null, 2)}\nstderr:\n${tail(r.stderr)}`,
    );
  }
  return result;
}
