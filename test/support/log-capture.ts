import pino, { type Logger } from 'pino';

export interface CapturedLog {
  readonly logger: Logger;
  /** Every line logged so far, parsed. */
  lines(): Record<string, unknown>[];
  /** The whole log as text (to check what must never appear in it). */
  text(): string;
}

/** A pino logger that keeps its JSON lines in memory, for tests that check what the broker logs. */
export function captureLog(level: pino.Level = 'info'): CapturedLog {
  const chunks: string[] = [];
  const logger = pino({ level }, { write: (chunk: string) => void chunks.push(chunk) });
  return {
    logger,
    lines: () => chunks.join('').split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as Record<string, unknown>),
    text: () => chunks.join(''),
  };
}
