import { readFileSync } from 'node:fs';
import { ConfigError } from './validation';

/** Reads and parses a JSON file; a problem is a ConfigError naming the file (`what` says what it should be). */
export function readJsonFile(path: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(path, what, (error as Error).message);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ConfigError(path, 'valid JSON', (error as Error).message);
  }
}
