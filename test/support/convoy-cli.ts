import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { CONVOY_BIN } from './broker-process';

const run = promisify(execFile);

/** Runs the `convoy` CLI; resolves with its exit code and output. */
export async function convoy(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CONVOY_BIN, ...args], { timeout: 15_000, env: { ...process.env, ...env } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}
