import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import type { QueueOptions } from '../../src/core/types';
import { logArb, optionsArb, resolveMove, type Move } from './generator';
import { Lockstep } from './lockstep';

/**
 * Model-based property test: random command logs through the reference model and the core in lockstep
 * (lockstep.ts), with the invariants after every command. Seeded and reproducible. The default run
 * (3,000 logs, about 7 s) is sized for `npm test`; the long search is one command (README "Development"):
 *   npm run test:model-search        # CONVOY_MODEL_RUNS=100000
 * CONVOY_MODEL_SEED picks another seed. A failure prints the shrunk log as literal steps: pin it in
 * test/core/scenarios.test.ts.
 */
const RUNS = Number(process.env.CONVOY_MODEL_RUNS ?? 3000);
const SEED = Number(process.env.CONVOY_MODEL_SEED ?? 20261207);
const TIMEOUT_MS = 30_000 + RUNS * 25;

const totals = { logs: 0, steps: 0, deliveries: 0, purged: 0, retried: 0, released: 0, autoDeleted: 0 };

function runLog(options: QueueOptions, moves: Move[]): void {
  const lockstep = new Lockstep(options);
  let sent = 0;
  for (const move of moves) {
    const step = resolveMove(lockstep.state, move, sent + 1);
    if (step === null) continue;
    if (step.op === 'send') sent++;
    const effects = lockstep.run(step);
    totals.purged += effects.filter((e) => e.type === 'removed' && e.reason === 'purged').length;
    totals.retried += effects.filter((e) => e.type === 'retried').length;
    if (step.op === 'release' && effects.some((e) => e.type === 'group-owner')) totals.released++;
    if (step.op === 'tick') totals.autoDeleted += effects.filter((e) => e.type === 'queue-deleted').length;
  }
  totals.logs++;
  totals.steps += lockstep.log.length;
  totals.deliveries += lockstep.delivered.length;
}

describe('reference model and core in lockstep', () => {
  test(
    'groups, priorities, rebalance, every queue option: same deliveries, owners and outcomes after every command',
    () => {
      fc.assert(fc.property(optionsArb(false), logArb(false), runLog), { numRuns: Math.ceil(RUNS / 2), seed: SEED });
    },
    TIMEOUT_MS,
  );

  test(
    'with exclusive consumers (link and queue option) mixed in: same deliveries, owners and outcomes after every command',
    () => {
      fc.assert(fc.property(optionsArb(true), logArb(true), runLog), { numRuns: Math.floor(RUNS / 2), seed: SEED + 1 });
      // Guard against a generator that stops exercising dispatch.
      expect(totals.deliveries).toBeGreaterThan(totals.logs * 10);
      // ... and the operator commands (purge, release-group, retry of dead letters) to do something.
      expect(Math.min(totals.purged, totals.retried, totals.released)).toBeGreaterThan(totals.logs / 10);
      // ... and unused queues with autoDelete to be deleted.
      expect(totals.autoDeleted).toBeGreaterThan(totals.logs / 20);
      console.log(
        `model search: ${totals.logs} logs, ${totals.steps} steps, ${totals.deliveries} deliveries, ` +
          `${totals.purged} purged, ${totals.retried} retried, ${totals.released} groups released, ${totals.autoDeleted} auto-deleted, seed ${SEED}`,
      );
    },
    TIMEOUT_MS,
  );
});
