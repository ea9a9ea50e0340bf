import { closeSync, fsyncSync, openSync } from 'node:fs';

/** fsyncs a directory, so that files created, renamed or deleted in it stay so after a power cut. */
export function syncDirectory(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
