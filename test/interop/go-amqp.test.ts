/**
 * Interop: Microsoft's go-amqp (github.com/Azure/go-amqp, pinned in interop/go/go.mod), unmodified,
 * against an in-process Convoy broker. interop/go is built once (the Go module and build caches make a
 * re-run take seconds); each test runs one scenario, which prints one JSON line ({ ok, scenario, ... })
 * and exits 0 when every check held (interop/go/README.md).
 *
 * A missing Go toolchain FAILS this suite, it never skips: `.ci/run` installs one when `go` is missing.
 * The toolchain is `$GO`, else `go` on PATH, else /usr/local/go/bin/go.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningBroker } from '../../src/broker/server';
import { Described, Performative, RawConnection } from '../support/amqp-frames';
import { startTestBroker } from '../support/broker';

const GO_DIR = path.resolve(__dirname, '../../interop/go');
/** The first build downloads go-amqp through the Go module proxy; later ones come from the caches. */
const BUILD_TIMEOUT_MS = 300_000;
const SCENARIO_TIMEOUT_S = 45;
const TEST_TIMEOUT_MS = 60_000;
/** The broker of the heartbeat scenario drops a connection silent this long. */
const SHORT_IDLE_TIMEOUT_MS = 1500;

interface ProcessResult {
  code: number | string | null;
  stdout: string;
  stderr: string;
}

interface ScenarioResult {
  ok: boolean;
  scenario: string;
  error?: string;
  [fact: string]: unknown;
}

function exec(file: string, args: string[], options: { cwd?: string; timeoutMs: number }): Promise<ProcessResult> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { cwd: options.cwd, timeout: options.timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024, env: process.env },
      (error, stdout, stderr) => {
        const failed = error as (NodeJS.ErrnoException & { code?: number | string }) | null;
        resolve({ code: failed ? (failed.code ?? null) : 0, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}

/** `$GO`, `go` on PATH, or the usual install location; null when there is none. */
function goToolchain(): string | null {
  if (process.env.GO) return process.env.GO;
  const onPath = (process.env.PATH ?? '').split(path.delimiter).map((dir) => path.join(dir, 'go'));
  return [...onPath, '/usr/local/go/bin/go'].find((candidate) => existsSync(candidate)) ?? null;
}

let buildDir: string;
let binary: string;
let built: Promise<void>;

/** Builds interop/go once; every scenario waits for it, so a failed build fails each with its cause. */
function build(): Promise<void> {
  built ??= (async () => {
    const go = goToolchain();
    if (!go) throw new Error('no Go toolchain: `go` is not on PATH and /usr/local/go/bin/go is missing; .ci/run installs one');
    buildDir = mkdtempSync(path.join(tmpdir(), 'convoy-go-interop-'));
    binary = path.join(buildDir, 'convoy-go-interop');
    const result = await exec(go, ['build', '-mod=readonly', '-buildvcs=false', '-o', binary, '.'], { cwd: GO_DIR, timeoutMs: BUILD_TIMEOUT_MS });
    if (result.code !== 0) throw new Error(`go build in interop/go failed (exit ${result.code}):\n${result.stderr.trim()}`);
  })();
  return built;
}

async function runScenario(broker: RunningBroker, scenario: string, variant = ''): Promise<ScenarioResult> {
  await build();
  const args = ['-url', `amqp://127.0.0.1:${broker.port}`, '-scenario', scenario, '-queue', `go.${scenario}.${variant}`, '-timeout', `${SCENARIO_TIMEOUT_S}s`];
  if (variant) args.push('-variant', variant);
  const result = await exec(binary, args, { timeoutMs: (SCENARIO_TIMEOUT_S + 5) * 1000 });
  const line = result.stdout.trim().split('\n').reverse().find((text) => text.startsWith('{'));
  if (!line) throw new Error(`${scenario} printed no result (exit ${result.code}):\n${result.stdout}\n${result.stderr}`);
  const parsed = JSON.parse(line) as ScenarioResult;
  if (!parsed.ok || result.code !== 0) throw new Error(`${scenario} ${variant} failed (exit ${result.code}): ${parsed.error ?? ''}\n${result.stderr}`);
  return parsed;
}

afterAll(() => {
  if (buildDir) rmSync(buildDir, { recursive: true, force: true });
});

describe('go-amqp interop', () => {
  let broker: RunningBroker;
  beforeAll(async () => {
    broker = await startTestBroker();
  });
  afterAll(async () => {
    await broker.stop();
  });

  it('builds interop/go with the pinned go-amqp', async () => {
    await build();
    expect(existsSync(binary)).toBe(true);
  }, BUILD_TIMEOUT_MS);

  it('every sender and receiver settle mode attaches and moves messages; rcv-settle-mode second on a sender is answered "first"', async () => {
    expect((await runScenario(broker, 'settle-modes')).received).toBe(5);
  }, TEST_TIMEOUT_MS);

  it('empty source and target: senders, receivers and anonymous senders on three connections, interleaved', async () => {
    expect((await runScenario(broker, 'empty-termini')).links).toBe(9);
  }, TEST_TIMEOUT_MS);

  it('every AMQP type go-amqp can send arrives with its type, in every section and body kind', async () => {
    const result = await runScenario(broker, 'types');
    expect(result.types).toBeGreaterThanOrEqual(40);
  }, TEST_TIMEOUT_MS);

  it('groups A,B,A,C,B,A,C over three receivers: one whole group each, in order', async () => {
    const owners = (await runScenario(broker, 'groups')).owners as Record<string, number>;
    expect(Object.keys(owners).sort()).toEqual(['A', 'B', 'C']);
    expect(new Set(Object.values(owners)).size).toBe(3);
  }, TEST_TIMEOUT_MS);

  for (const close of ['link', 'connection']) {
    it(`the group owner's ${close} closes with messages unsettled: they go to the next receiver first, in order, delivery-count 1`, async () => {
      expect((await runScenario(broker, 'owner-close', close)).redelivered).toBe(3);
    }, TEST_TIMEOUT_MS);
  }

  for (const form of ['property', 'address']) {
    it(`exclusive receivers by ${form === 'property' ? 'link property exclusive' : 'address option consumer.exclusive'}: one receives; on detach the other takes over, unsettled first`, async () => {
      expect((await runScenario(broker, 'exclusive', form))['failed-over']).toBe(3);
    }, TEST_TIMEOUT_MS);
  }

  it('release, modify (delivery-failed, undeliverable-here), reject to the dead-letter queue, accept', async () => {
    expect((await runScenario(broker, 'outcomes'))['dead-lettered']).toBe(1);
  }, TEST_TIMEOUT_MS);

  it('manual credit gets exactly what was granted; drain is answered and uses the credit up', async () => {
    expect((await runScenario(broker, 'credit-drain')).received).toBe(6);
  }, TEST_TIMEOUT_MS);

  it('a 5 MiB message arrives byte for byte', async () => {
    expect((await runScenario(broker, 'large-message')).bytes).toBe(5 * 1024 * 1024);
  }, TEST_TIMEOUT_MS);

  it('the anonymous relay routes by to; a message without to is rejected with amqp:invalid-field', async () => {
    expect(String((await runScenario(broker, 'anonymous-relay')).rejection)).toContain('"to"');
  }, TEST_TIMEOUT_MS);
});

describe('go-amqp interop: heartbeats', () => {
  let broker: RunningBroker;
  beforeAll(async () => {
    broker = await startTestBroker({ idleTimeoutMs: SHORT_IDLE_TIMEOUT_MS });
  });
  afterAll(async () => {
    await broker.stop();
  });

  it(`a go-amqp connection silent for 3x the idle timeouts stays open on heartbeats alone`, async () => {
    const result = await runScenario(broker, 'heartbeats', String(SHORT_IDLE_TIMEOUT_MS));
    expect(result['silent-ms']).toBeGreaterThanOrEqual(3 * SHORT_IDLE_TIMEOUT_MS);
  }, TEST_TIMEOUT_MS);

  it('while a connection that sends nothing is closed by the same broker (the timeout is real)', async () => {
    const silent = await RawConnection.open(broker.port);
    const close = await silent.expect(Performative.close, 4 * SHORT_IDLE_TIMEOUT_MS);
    expect(((close.fields[0] as Described).value as unknown[])[0]).toBe('amqp:resource-limit-exceeded');
    silent.close();
  }, TEST_TIMEOUT_MS);
});
