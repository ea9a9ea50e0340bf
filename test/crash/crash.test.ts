import { expect, test } from 'vitest';
import { runCrashCycles } from './crash-cycles';

/**
 * kill -9 at random moments loses no accepted durable message, first arrivals keep per-group order, and
 * once everything is consumed a clean restart brings nothing back.
 * The default run does a few cycles; the long run is one command:
 *   CONVOY_CRASH_CYCLES=100 npx vitest run test/crash
 */
const CYCLES = Number(process.env.CONVOY_CRASH_CYCLES ?? 5);

test(`SIGKILL the broker ${CYCLES} times mid-load: nothing accepted is lost, groups stay in order`, async () => {
  const report = await runCrashCycles(CYCLES);
  console.log(`crash cycles: ${JSON.stringify({ ...report, missing: report.missing.length, outOfOrder: report.outOfOrder.length })}`);
  expect(report.accepted).toBeGreaterThan(CYCLES * 20);
  expect(report.missing).toEqual([]);
  expect(report.outOfOrder).toEqual([]);
  expect(report.redeliveredWithoutCount).toEqual([]);
  expect(report.resurrected).toBe(0);
}, 60_000 + CYCLES * 5_000);
