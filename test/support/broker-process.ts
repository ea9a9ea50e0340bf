import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const CONVOY_BIN = join(__dirname, '..', '..', 'bin', 'convoy');

export interface BrokerProcess {
  readonly child: ChildProcess;
  readonly port: number;
  /** Everything the process wrote to stdout so far. */
  output(): string;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
}

/**
 * Runs `convoy start` as a child process on a free port and waits for its "listening" log line. Each
 * process gets a fresh data dir unless `args` names one. `port` is the plain listener's, unless
 * `listening` picks another port from that line (e.g. `tlsPort` when the plain listener is off).
 */
export function startBrokerProcess(args: string[] = [], listening = /"port":(\d+),"msg":"listening"/): Promise<BrokerProcess> {
  const dataDir = args.includes('--data-dir') ? [] : ['--data-dir', mkdtempSync(join(tmpdir(), 'convoy-process-'))];
  const child = spawn(process.execPath, [CONVOY_BIN, 'start', '--host', '127.0.0.1', '--port', '0', '--http-port', '0', ...dataDir, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`broker did not start: ${stdout} ${stderr}`)), 15_000);
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = listening.exec(stdout);
      if (match) {
        clearTimeout(timer);
        resolve({ child, port: Number(match[1]), output: () => stdout, exited });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`broker exited with ${code}: ${stderr}`));
    });
  });
}
