import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The web console's files. The page and its style are plain files in src/http/console/; its script is
 * written in TypeScript there and compiled by `npm run build` (part of `npm ci`) into dist/console/. Both
 * folders are found from the package root, so the broker serves the same files from dist/ and from
 * src/ (tests).
 */
const PACKAGE_ROOT = join(__dirname, '..', '..');

const ASSETS: Readonly<Record<string, { readonly file: string; readonly contentType: string }>> = {
  '/': { file: join(PACKAGE_ROOT, 'src', 'http', 'console', 'index.html'), contentType: 'text/html; charset=utf-8' },
  '/console.css': { file: join(PACKAGE_ROOT, 'src', 'http', 'console', 'console.css'), contentType: 'text/css; charset=utf-8' },
  '/console.js': { file: join(PACKAGE_ROOT, 'dist', 'console', 'console.js'), contentType: 'text/javascript; charset=utf-8' },
};

export interface Asset {
  readonly body: Buffer;
  readonly contentType: string;
}

/** The console's files by path. Each is read once, then kept. */
export class ConsoleAssets {
  private readonly loaded = new Map<string, Asset>();

  /** Whether `path` is one of the console's files. */
  has(path: string): boolean {
    return Object.hasOwn(ASSETS, path);
  }

  get(path: string): Asset {
    const known = ASSETS[path];
    if (known === undefined) throw new Error(`${path} is not a console file`);
    let asset = this.loaded.get(path);
    if (asset === undefined) {
      try {
        asset = { body: readFileSync(known.file), contentType: known.contentType };
      } catch (error) {
        throw new Error(`the console file ${known.file} cannot be read (${(error as Error).message}): run npm run build`);
      }
      this.loaded.set(path, asset);
    }
    return asset;
  }
}
