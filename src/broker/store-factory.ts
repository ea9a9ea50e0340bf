import { join } from 'node:path';
import type { BrokerOptions } from '../config/options';
import { JournalStore } from '../store/journal-store';
import { MemoryStore } from '../store/memory-store';
import type { FsyncPolicy, MessageStore } from '../store/types';
import type { Logger } from './logger';

/** `onFsync` hears how long each fdatasync of the journal took, in seconds. */
export function createStore(options: BrokerOptions, logger: Logger, onFsync?: (seconds: number) => void): MessageStore {
  if (options.store === 'memory') return new MemoryStore();
  return new JournalStore({
    dir: join(options.dataDir, 'journal'),
    fsync: fsyncPolicy(options),
    segmentBytes: options.segmentBytes,
    logger: logger.child({ component: 'journal' }),
    ...(onFsync !== undefined && { onFsync }),
  });
}

function fsyncPolicy(options: BrokerOptions): FsyncPolicy {
  if (options.fsyncPolicy === 'interval') return { mode: 'interval', intervalMs: options.fsyncIntervalMs };
  return { mode: options.fsyncPolicy };
}
