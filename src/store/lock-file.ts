import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StoreError } from './types';

const LOCK_FILE = 'convoy.lock';

/** One broker per data dir: a second one would interleave writes into the same journal. */
export function acquireLock(dir: string): void {
  const path = join(dir, LOCK_FILE);
  try {
    writeFileSync(path, String(process.pid), { flag: 'wx' });
    return;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const holder = Number(readFileSync(path, 'utf8'));
  if (Number.isInteger(holder) && holder !== process.pid && isAlive(holder)) {
    throw new StoreError(`the data dir ${dir} is in use by another broker (pid ${holder})`);
  }
  // Left behind by a broker that was killed: take it over.
  writeFileSync(path, String(process.pid));
}

/**
 * Takes a data dir's lock whoever holds it: only after the cluster has fenced the holder out (its etcd
 * lease ended and this node took its store over in a fenced transaction, README "Cluster"). On shared
 * storage the holder's pid means nothing here: it may be another machine's.
 */
export function takeOverLock(dir: string): void {
  writeFileSync(join(dir, LOCK_FILE), String(process.pid));
}

export function releaseLock(dir: string): void {
  try {
    unlinkSync(join(dir, LOCK_FILE));
  } catch {
    // Already gone: nothing to release.
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
