import { expect, test } from 'vitest';
import { runTransactionCrashCycles } from './transaction-crash-cycles';

/**
 * kill -9 while transactions commit: a transaction is wholly there or wholly absent after every crash
 * (its sends and its acknowledgements), and every commit the broker confirmed survives. The default run
 * does a few cycles; the long run is one command:
 *   CONVOY_CRASH_CYCLES=100 npx vitest run test/crash
 */
const CYCLES = Number(process.env.CONVOY_CRASH_CYCLES ?? 5);

test(`SIGKILL the broker ${CYCLES} times while transactions move messages between queues: never a partial transaction`, async () => {
  const report = await runTransactionCrashCycles(CYCLES);
  console.log(`transaction crash cycles: ${JSON.stringify({ ...report, lost: report.lost.length, duplicated: report.duplicated.length })}`);
  expect(report.committed).toBeGreaterThan(CYCLES);
  expect(report.lost).toEqual([]);
  expect(report.duplicated).toEqual([]);
  expect(report.partial).toEqual([]);
  expect(report.confirmedMissing).toEqual([]);
}, 60_000 + CYCLES * 5_000);
