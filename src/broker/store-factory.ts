import { join } from 'node:path';
import type { BrokerOptions } from '../config/options';
import { JournalStore } from '../store/journal-store';
import { MemoryStore } from '../store/memory-store';
import type { FsyncPolicy, MessageStore } from '../store/types';
import type { Logger } from './logger';

/** Where a cluster node keeps its journal (its store), and what it checks before each write. */
export interface ClusterJournal {
  readonly dir: string;
  readonly beforeWrite: () => void;
}

/**
 * `onFsync` hears how long each fdatasync of the journal took, in seconds; a cluster node's journal is
 * where `clusterJournal` says, and checked before each write.
 */
export function createStore(options: BrokerOptions, logger: Logger, onFsync?: (seconds: number) => void, clusterJournal: ClusterJournal | null = null): MessageStore {
  if (options.store === 'memory') return new MemoryStore();
  return new JournalStore({
    dir: clusterJournal?.dir ?? join(options.dataDir, 'journal'),
    fsync: fsyncPolicy(options),
    segmentBytes: options.segmentBytes,
    logger: logger.child({ component: 'journal' }),
    ...(clusterJournal && { beforeWrite: clusterJournal.beforeWrite }),
    ...(onFsync !== undefined && { onFsync }),
  });
}

function fsyncPolicy(options: BrokerOptions): FsyncPolicy {
  if (options.fsyncPolicy === 'interval') return { mode: 'interval', intervalMs: options.fsyncIntervalMs };
  return { mode: options.fsyncPolicy };
}
