import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { recordCorpus } from './corpus';
import { FuzzBroker, healthCheck, placeSentinel, runCase, saveFinding, takeSentinel, type CaseVerdict } from './harness';
import { makeCase, type FuzzCase, type RecordedSession } from './mutations';

/**
 * The wire fuzzer (issue #9): real client sessions, recorded through a proxy, replayed against a broker
 * process in thousands of mutated variants. After every batch the broker must be alive, serve a healthy
 * client in time, still hold a durable message, have written no error to its log, and keep its memory
 * bounded; every connection must end cleanly (see harness.ts).
 *
 * The default run (seed 1) does 12000 cases and stops at 75 s whatever it has done. Longer runs:
 *   CONVOY_FUZZ_ITERATIONS=200000 CONVOY_FUZZ_SEED=7 npx vitest run test/fuzz/wire-fuzz.test.ts
 *   npm run fuzz:long            (30 minutes, CONVOY_FUZZ_SEED=clock: a seed from the clock, printed)
 * CONVOY_FUZZ_VERBOSE=1 prints a line per batch.
 * A finding is saved under $TMPDIR/convoy-fuzz-findings/ (the bytes of each failing case, what was done
 * to them, and the corpus the run used); CONVOY_FUZZ_CORPUS=<that corpus.json> with the same seed
 * replays the run. Copying a .bin to test/fuzz/regressions/ pins it (wire-regressions.test.ts).
 */

const ITERATIONS = Number(process.env.CONVOY_FUZZ_ITERATIONS ?? 12000);
/** A run of minutes instead of a number of cases. */
const MINUTES = process.env.CONVOY_FUZZ_MINUTES ? Number(process.env.CONVOY_FUZZ_MINUTES) : null;
/** The default run stops after this long even if its cases are not done, to stay within its budget. */
const DEFAULT_RUN_CAP_MS = 75_000;
const SEED = process.env.CONVOY_FUZZ_SEED === 'clock' ? Date.now() % 2147483647 : Number(process.env.CONVOY_FUZZ_SEED ?? 1);
const MAX_RSS_MIB = Number(process.env.CONVOY_FUZZ_MAX_RSS_MIB ?? 400);
const BATCH = 100;
const CONCURRENCY = 4;
const FINDINGS_DIR = join(tmpdir(), 'convoy-fuzz-findings');
const budgetMs = MINUTES !== null ? MINUTES * 60_000 : null;
const capMs = budgetMs ?? (process.env.CONVOY_FUZZ_ITERATIONS ? null : DEFAULT_RUN_CAP_MS);

let broker: FuzzBroker;
let corpus: RecordedSession[];

beforeAll(async () => {
  broker = await FuzzBroker.start();
  await placeSentinel(broker.port);
  corpus = process.env.CONVOY_FUZZ_CORPUS ? loadCorpus(process.env.CONVOY_FUZZ_CORPUS) : await recordCorpus(broker.port);
}, 120_000);

afterAll(async () => {
  await broker?.stop();
});

function loadCorpus(file: string): RecordedSession[] {
  const saved = JSON.parse(readFileSync(file, 'utf8')) as { name: string; units: { kind: 'header' | 'frame'; hex: string }[] }[];
  return saved.map((session) => ({ name: session.name, units: session.units.map((unit) => ({ kind: unit.kind, bytes: Buffer.from(unit.hex, 'hex') })) }));
}

function saveCorpus(): string {
  mkdirSync(FINDINGS_DIR, { recursive: true });
  const file = join(FINDINGS_DIR, `corpus-seed-${SEED}.json`);
  writeFileSync(file, JSON.stringify(corpus.map((session) => ({ name: session.name, units: session.units.map((unit) => ({ kind: unit.kind, hex: unit.bytes.toString('hex') })) }))));
  return file;
}

interface Batch {
  readonly cases: { index: number; fuzzCase: FuzzCase }[];
}

async function runBatch(batch: Batch, port: number): Promise<(CaseVerdict & { index: number; fuzzCase: FuzzCase })[]> {
  const verdicts: (CaseVerdict & { index: number; fuzzCase: FuzzCase })[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < batch.cases.length) {
      const item = batch.cases[next++]!;
      verdicts.push({ ...(await runCase(port, item.fuzzCase)), ...item });
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return verdicts;
}

/**
 * A crash or a failed health check: which cases of the batch do it on a fresh broker? Halves are tried
 * in turn (a case may need another one before it, so a half that fails is kept whole).
 */
async function isolate(cases: { index: number; fuzzCase: FuzzCase }[]): Promise<{ index: number; fuzzCase: FuzzCase }[]> {
  if (cases.length <= 1) return cases;
  const half = Math.ceil(cases.length / 2);
  for (const part of [cases.slice(0, half), cases.slice(half)]) {
    if (await breaksFreshBroker(part)) return isolate(part);
  }
  return cases;
}

async function breaksFreshBroker(cases: { index: number; fuzzCase: FuzzCase }[]): Promise<boolean> {
  const fresh = await FuzzBroker.start();
  try {
    await placeSentinel(fresh.port);
    for (const item of cases) await runCase(fresh.port, item.fuzzCase);
    return !fresh.alive || (await healthCheck(fresh.port, 0)) !== null;
  } finally {
    await fresh.stop();
  }
}

describe('wire fuzzing', () => {
  test(
    `mutated client sessions never take the broker down (seed ${SEED})`,
    async () => {
      expect(corpus.length).toBeGreaterThanOrEqual(6);
      const started = Date.now();
      const outcomes = new Map<string, number>();
      const findings: string[] = [];
      let peakRssMiB = broker.residentMiB();
      let ran = 0;
      let round = 0;
      const finding = (problem: string, cases: { index: number; fuzzCase: FuzzCase }[]): void => {
        const directory = saveFinding(FINDINGS_DIR, SEED, problem, cases);
        const corpusFile = saveCorpus();
        findings.push(`${problem} (cases ${cases.map((c) => c.index).join(', ')}; saved in ${directory}; corpus ${corpusFile}; mutations: ${cases.map((c) => c.fuzzCase.mutations.join(' / ')).join(' | ')})`);
      };
      const more = (): boolean => (budgetMs !== null || ran < ITERATIONS) && (capMs === null || Date.now() - started < capMs) && findings.length < 5;
      while (more()) {
        const size = budgetMs !== null ? BATCH : Math.min(BATCH, ITERATIONS - ran);
        const batch: Batch = { cases: Array.from({ length: size }, (_, i) => ({ index: ran + i, fuzzCase: makeCase(corpus, SEED, ran + i) })) };
        ran += size;
        round++;
        const logFrom = broker.logMark;
        const verdicts = await runBatch(batch, broker.port);
        for (const verdict of verdicts) {
          outcomes.set(verdict.outcome, (outcomes.get(verdict.outcome) ?? 0) + 1);
          if (verdict.problem) finding(verdict.problem, [verdict]);
        }
        for (const line of broker.errorsInLog(logFrom)) {
          const port = FuzzBroker.remotePortOf(line);
          const culprit = verdicts.find((verdict) => verdict.localPort === port);
          finding(`the broker logged an error: ${line}`, culprit ? [culprit] : batch.cases);
        }
        const healthFrom = Date.now();
        const health = broker.alive ? await healthCheck(broker.port, round) : 'the broker process exited';
        if (process.env.CONVOY_FUZZ_VERBOSE) console.log(`batch ${round}: ${ran} cases, ${((Date.now() - started) / 1000).toFixed(1)} s (health check ${Date.now() - healthFrom} ms), health ${health}, rss ${broker.residentMiB().toFixed(0)} MiB, findings ${findings.length}`);
        if (health !== null) {
          finding(`health check after batch ${round}: ${health}`, await isolate(batch.cases));
          await broker.stop();
          broker = await FuzzBroker.start();
          await placeSentinel(broker.port);
          continue;
        }
        const rss = broker.residentMiB();
        peakRssMiB = Math.max(peakRssMiB, rss);
        if (rss > MAX_RSS_MIB) {
          finding(`resident memory ${rss.toFixed(0)} MiB after batch ${round}, above ${MAX_RSS_MIB} MiB`, batch.cases);
          break;
        }
      }
      const sentinel = broker.alive ? await takeSentinel(broker.port) : 'the broker process exited';
      if (sentinel) findings.push(sentinel);
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      const histogram = [...outcomes.entries()].sort((a, b) => b[1] - a[1]).map(([outcome, count]) => `${outcome}: ${count}`).join(', ');
      console.log(`wire fuzz: seed ${SEED}, ${ran} cases in ${seconds} s over ${corpus.length} recorded sessions; peak broker RSS ${peakRssMiB.toFixed(0)} MiB; findings ${findings.length}\n  outcomes: ${histogram}`);
      expect(findings).toEqual([]);
    },
    (budgetMs ?? ITERATIONS * 60) + 120_000,
  );
});
