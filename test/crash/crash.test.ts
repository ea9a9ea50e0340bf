import { expect, test } from 'vitest';
import { runCrashCycles } from './crash-cycles';

/**
 * kill -9 at random moments loses no accepted durable message, first arrivals keep per-group order, and
 * once everything is consumed a clean restart brings nothing back. Every other kill also leaves a torn
 * record after the newest segment's last one, as a power cut mid-write would.
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
  // The cycles crossed preallocated segments (their zero tails read as their ends) and torn writes.
  expect(report.preallocatedTails).toBeGreaterThan(0);
  expect(report.tornTails).toBeGreaterThan(0);
}, 60_000 + CYCLES * 5_000);
