import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrokerOptionsInput } from '../../src/config/options';
import { CONVOY_BIN } from './broker-process';
import { freePorts } from './free-ports';

export interface ConvoyNode {
  readonly id: string;
  readonly port: number;
  readonly dataDir: string;
  readonly child: ChildProcess;
  /** Everything the process wrote to stdout so far (JSON log lines). */
  output(): string;
  /** Resolves with the exit code (or the signal's name). */
  readonly exited: Promise<number | string | null>;
  /** SIGTERM, and waits for the exit. */
  stop(): Promise<void>;
}

export interface NodeOptions {
  readonly id: string;
  readonly etcd: string;
  /** A data dir of this machine's "shared storage"; a fresh one unless given (a restart reuses it). */
  readonly dataDir?: string;
  readonly port?: number;
  /** The port other nodes reach this one at (a TcpRelay's); the node's own port unless given. */
  readonly advertisePort?: number;
  /** More configuration, e.g. cluster.leaseTtlMs. */
  readonly config?: BrokerOptionsInput;
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * Runs `convoy start --node-id ID --etcd URLS --advertise 127.0.0.1:PORT` as a child process and waits
 * until it listens. Lease times come from `config` (short in tests, so that failovers are quick).
 */
export async function startConvoyNode(options: NodeOptions): Promise<ConvoyNode> {
  const port = options.port ?? (await freePorts(1))[0]!;
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), `convoy-${options.id}-`));
  const configDir = mkdtempSync(join(tmpdir(), 'convoy-node-config-'));
  const configFile = join(configDir, 'convoy.json');
  // No HTTP listener: three nodes on one machine would all want its default port.
  writeFileSync(configFile, JSON.stringify({ logLevel: 'info', http: { port: null }, ...options.config }));
  const child = spawn(
    process.execPath,
    [CONVOY_BIN, 'start', '--host', '127.0.0.1', '--port', String(port), '--data-dir', dataDir, '--config', configFile,
      '--node-id', options.id, '--etcd', options.etcd, '--advertise', `127.0.0.1:${options.advertisePort ?? port}`],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...options.env } },
  );
  let stdout = '';
  let stderr = '';
  const exited = new Promise<number | string | null>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`node ${options.id} did not start: ${stdout} ${stderr}`)), 20_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.includes('"msg":"listening"')) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`node ${options.id} exited with ${code}: ${stdout} ${stderr}`));
    });
  });
  return {
    id: options.id,
    port,
    dataDir,
    child,
    output: () => stdout,
    exited,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGCONT');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
