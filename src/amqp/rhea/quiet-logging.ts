import { createRequire } from 'node:module';

type DebugFunction = ((...args: unknown[]) => void) & { enabled?: boolean };

/**
 * rhea calls its `debug` loggers on every frame and event (rhea:frames, rhea:events, ...), paying for
 * the call and its arguments even when DEBUG does not enable them. The disabled ones are replaced by a
 * function that does nothing; with DEBUG=rhea* set, rhea logs as usual.
 */
export function skipDisabledRheaLogging(): void {
  const log = createRequire(require.resolve('rhea'))('./log.js') as Record<string, DebugFunction>;
  for (const name of Object.keys(log)) {
    if (!log[name]!.enabled) log[name] = doNothing;
  }
}

function doNothing(): void {}
