import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, test } from 'vitest';

/**
 * The layering of src/ (README, "Layout"), checked on every import:
 * - core imports only core (and nothing from Node or npm: it is pure);
 * - store and config import their own folder, and core types;
 * - security (users, passwords, roles, login throttle, limits: no I/O but the users and TLS files)
 *   imports itself, config and core types; nothing of the broker, the store or the AMQP layer;
 * - broker imports core, store types, config and itself; its composition root (server.ts,
 *   store-factory.ts, security-factory.ts) also picks the store implementation, builds the security
 *   pieces and starts the AMQP layer through its public surface, src/amqp/index.ts;
 * - selector (the JMS message selector language) imports only itself: pure, no Node, no npm;
 * - amqp imports itself, the broker runtime it drives, security, the selector language, core and
 *   config types; only amqp imports rhea, and only src/amqp/rhea/ patches it. The core never sees a
 *   selector: the AMQP layer hands it an opaque, deterministic predicate per consumer;
 * - cli imports config, broker, security, store types, core types and the AMQP layer's public
 *   surface, never amqp internals;
 * - http (API, metrics, console) imports the broker runtime, security, config, the core's read-only
 *   views (core/inspect) and the AMQP layer's public surface for types only: it acts through the
 *   runtime and lists connections through what the wiring hands it, never through rhea or amqp internals.
 *   The broker's composition root starts it through src/http/index.ts;
 * - cluster (membership, queue homes and takeovers on etcd; the only importer of etcd3) imports the
 *   broker runtime and its cluster interface, config, the store and core types; never amqp or rhea. The
 *   AMQP layer sees the cluster only through src/broker/cluster-services.ts; the broker's composition
 *   root (server.ts) starts it.
 * `import type` of core types is allowed everywhere: types are the shared vocabulary, not a dependency.
 */
const SRC = resolve(__dirname, '..', 'src');

interface Import {
  readonly file: string;
  readonly specifier: string;
  readonly typeOnly: boolean;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

function importsOf(file: string): Import[] {
  const text = readFileSync(file, 'utf8');
  const found: Import[] = [];
  const statement = /^(import|export)\s+(type\s+)?[^;]*?\bfrom\s+'([^']+)'/gms;
  for (const match of text.matchAll(statement)) found.push({ file, specifier: match[3]!, typeOnly: match[2] !== undefined });
  for (const match of text.matchAll(/\b(?:require|import)\(\s*'([^']+)'\s*\)/g)) found.push({ file, specifier: match[1]!, typeOnly: false });
  return found;
}

/** `core`, `amqp/index`, `store/types`...: the module an import resolves to, relative to src/ without extension. */
function target(imported: Import): string | null {
  if (!imported.specifier.startsWith('.')) return null;
  return relative(SRC, resolve(dirname(imported.file), imported.specifier)).replace(/\\/g, '/');
}

const layerOf = (module: string): string => module.split('/')[0]!;

function allowed(from: string, to: string, typeOnly: boolean): boolean {
  const fromLayer = layerOf(from);
  const toLayer = layerOf(to);
  if (fromLayer === toLayer) return !(fromLayer === 'amqp' && to.startsWith('amqp/rhea/') && !from.startsWith('amqp/rhea/') && to !== 'amqp/rhea/index' && to !== 'amqp/rhea');
  if (toLayer === 'core' && typeOnly && fromLayer !== 'core') return true;
  switch (fromLayer) {
    case 'core':
      return false;
    case 'store':
    case 'config':
      return false;
    case 'security':
      return toLayer === 'config';
    case 'broker': {
      const compositionRoot = from === 'broker/server' || from === 'broker/store-factory' || from === 'broker/security-factory';
      if (toLayer === 'core' || toLayer === 'config' || to === 'store/types') return true;
      if (from === 'broker/server' && to === 'cluster/cluster-node') return true;
      return compositionRoot && (toLayer === 'store' || toLayer === 'security' || to === 'amqp' || to === 'amqp/index' || to === 'http' || to === 'http/index');
    }
    case 'amqp':
      return toLayer === 'broker' || toLayer === 'security' || toLayer === 'selector' || (typeOnly && toLayer === 'config');
    case 'http':
      return toLayer === 'broker' || toLayer === 'security' || toLayer === 'config' || to === 'core/inspect' || (typeOnly && (to === 'amqp' || to === 'amqp/index'));
    case 'cli':
      return toLayer === 'config' || toLayer === 'broker' || toLayer === 'security' || to === 'store/types' || to === 'amqp' || to === 'amqp/index';
    case 'cluster':
      return toLayer === 'broker' || toLayer === 'config' || toLayer === 'store';
    default:
      return false;
  }
}

function packageAllowed(from: string, specifier: string): boolean {
  const layer = layerOf(from);
  if (specifier === 'rhea' || specifier.startsWith('rhea/')) return layer === 'amqp';
  if (specifier === 'etcd3') return layer === 'cluster';
  if (layer === 'core' || layer === 'selector') return false;
  if (specifier === 'commander') return layer === 'cli';
  if (specifier === 'prom-client') return layer === 'http';
  return true;
}

describe('architecture: import rules between the layers of src/', () => {
  const imports = sourceFiles(SRC).flatMap(importsOf);

  test('the scan sees the imports it should (guards the regular expressions)', () => {
    expect(imports.length).toBeGreaterThan(100);
    expect(imports.some((i) => i.specifier === 'rhea')).toBe(true);
    expect(imports.some((i) => i.typeOnly)).toBe(true);
  });

  test('every import between layers follows the rules', () => {
    const breaches: string[] = [];
    for (const imported of imports) {
      const from = relative(SRC, imported.file).replace(/\.ts$/, '').replace(/\\/g, '/');
      const to = target(imported);
      const ok = to === null ? packageAllowed(from, imported.specifier) : allowed(from, to, imported.typeOnly);
      if (!ok) breaches.push(`${from} imports ${imported.typeOnly ? 'type ' : ''}'${imported.specifier}'`);
    }
    expect(breaches).toEqual([]);
  });

  test('the rules reject what they must (a breach of each kind is caught)', () => {
    expect(allowed('core/apply', 'broker/runtime', false)).toBe(false);
    expect(allowed('core/apply', 'config/options', true)).toBe(false);
    expect(packageAllowed('core/apply', 'node:fs')).toBe(false);
    expect(packageAllowed('broker/runtime', 'rhea')).toBe(false);
    expect(allowed('cli/main', 'amqp/admin-client', false)).toBe(false);
    expect(allowed('cli/main', 'core/inspect', false)).toBe(false);
    expect(allowed('amqp/server', 'amqp/rhea/internals', false)).toBe(false);
    expect(allowed('broker/runtime', 'amqp/index', false)).toBe(false);
    expect(allowed('store/journal-store', 'broker/runtime', false)).toBe(false);
    expect(allowed('security/authenticator', 'amqp/server', false)).toBe(false);
    expect(allowed('security/authenticator', 'broker/runtime', false)).toBe(false);
    expect(allowed('config/options', 'security/scram', false)).toBe(false);
    expect(allowed('broker/runtime', 'security/authenticator', false)).toBe(false);
    expect(allowed('core/apply', 'security/access-rights', true)).toBe(false);
    expect(packageAllowed('security/scram', 'rhea')).toBe(false);
    expect(allowed('amqp/cluster/cluster-links', 'cluster/cluster-node', true)).toBe(false);
    expect(allowed('cluster/cluster-node', 'amqp/index', false)).toBe(false);
    expect(allowed('broker/runtime', 'cluster/cluster-node', false)).toBe(false);
    expect(allowed('cli/main', 'cluster/cluster-node', false)).toBe(false);
    expect(packageAllowed('cluster/etcd-session', 'rhea')).toBe(false);
    expect(packageAllowed('amqp/server', 'etcd3')).toBe(false);
    expect(allowed('core/dispatch', 'selector/compile', false)).toBe(false);
    expect(allowed('selector/compile', 'amqp/selector-fields', false)).toBe(false);
    expect(packageAllowed('selector/like', 'node:util')).toBe(false);
    expect(packageAllowed('http/server', 'rhea')).toBe(false);
    expect(allowed('http/api', 'amqp/server', false)).toBe(false);
    expect(allowed('http/api', 'amqp/index', false)).toBe(false);
    expect(allowed('http/api', 'store/journal-store', false)).toBe(false);
    expect(allowed('http/api', 'core/apply', false)).toBe(false);
    expect(allowed('broker/runtime', 'http/index', false)).toBe(false);
    expect(allowed('amqp/server', 'http/index', false)).toBe(false);
    expect(packageAllowed('broker/runtime', 'prom-client')).toBe(false);
  });
});
