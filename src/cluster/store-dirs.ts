import { existsSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { syncDirectory } from '../store/sync-directory';

/**
 * Where a cluster node keeps a store's journal: `<dataDir>/store-<storeId>/`. A node's data dir is on
 * storage every node can reach (README, "Cluster: durable messages"), so another node can take it over.
 */
export function storeDir(dataDir: string, storeId: string): string {
  return join(resolve(dataDir), `store-${storeId}`);
}

/** The data dir of the lost node can be reached from here (the store's own dir may be renamed already). */
export function storeDirReachable(dir: string): boolean {
  return existsSync(dirname(dir));
}

/**
 * Fences a lost node out of its store's directory, and returns every directory with journal data of that
 * store to recover. The directory is renamed to `<dir>.taken-<revision>`: a lost node that comes back
 * (resumed after a pause, or reconnected) writes through file descriptors it still holds, and those now
 * point into the renamed directory, which the taker deletes once it has copied the messages out: late
 * writes then land in unlinked files that nobody reads; and a new segment the lost node would create goes
 * to the old path, whose directory no longer exists, and fails. Earlier takeovers that stopped half way
 * left their renamed directories: they are recovered too (a message copied twice is delivered twice,
 * never lost).
 */
export function fenceStoreDir(dir: string, takeoverRevision: bigint): string[] {
  const parent = dirname(dir);
  if (existsSync(dir)) {
    renameSync(dir, `${dir}.taken-${String(takeoverRevision).padStart(20, '0')}`);
    syncDirectory(parent);
  }
  const prefix = `${basename(dir)}.taken-`;
  return readdirSync(parent)
    .filter((name) => name.startsWith(prefix))
    .sort()
    .map((name) => join(parent, name));
}

/** After its messages are durable in the taker's own journal. */
export function removeTakenDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  syncDirectory(dirname(dir));
}
