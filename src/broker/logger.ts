import pino, { type Logger } from 'pino';
import type { LogLevel } from '../config/options';

export type { Logger };

/** JSON lines on stdout; human-readable lines when stdout is a terminal. */
export function createLogger(level: LogLevel): Logger {
  if (process.stdout.isTTY) {
    return pino({ level, transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' } } });
  }
  return pino({ level }, pino.destination({ dest: 1, sync: false }));
}
