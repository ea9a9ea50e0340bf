import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { FuzzBroker, healthCheck, placeSentinel, runCase } from './harness';

/**
 * Inputs pinned from the wire fuzzer and from issue #9 (test/fuzz/regressions/<name>.bin, what each
 * one broke in <name>.json): each is written on its own connection, exactly as saved; the broker must
 * end that connection cleanly, log no error, and then serve a healthy client and still hold the durable
 * sentinel (harness.ts). To pin a finding, copy its .bin and .json from the fuzzer's findings folder.
 */
const FOLDER = join(__dirname, 'regressions');
const pinned = readdirSync(FOLDER)
  .filter((file) => file.endsWith('.bin'))
  .map((file) => file.slice(0, -'.bin'.length))
  .sort();

let broker: FuzzBroker;
beforeAll(async () => {
  broker = await FuzzBroker.start();
  await placeSentinel(broker.port);
});
afterAll(async () => {
  await broker?.stop();
});

describe('pinned wire inputs', () => {
  test('there are pinned inputs', () => {
    expect(pinned.length).toBeGreaterThanOrEqual(5);
  });

  test.each(pinned)('%s', async (name) => {
    const { problem } = JSON.parse(readFileSync(join(FOLDER, `${name}.json`), 'utf8')) as { problem: string };
    expect(problem.length).toBeGreaterThan(0);
    const logFrom = broker.logMark;
    const verdict = await runCase(broker.port, { session: name, mutations: [], bytes: readFileSync(join(FOLDER, `${name}.bin`)), splits: [], endAfterWrite: false });
    expect(verdict.problem).toBeNull();
    expect(broker.alive).toBe(true);
    expect(await healthCheck(broker.port, pinned.indexOf(name))).toBeNull();
    expect(broker.errorsInLog(logFrom)).toEqual([]);
  });
});
