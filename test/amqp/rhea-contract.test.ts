import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { create_container, types as rheaTypes, type Connection, type Receiver, type Sender } from 'rhea';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { PINNED_RHEA_VERSION, RHEA_PATCHES } from '../../src/amqp/rhea';
import { connect, type TestClient } from './../support/client';

/**
 * The contract between Convoy and the rhea internals it patches or reads (src/amqp/rhea/index.ts): on
 * live, unpatched rhea objects of a server connection, every member a patch names exists with the type
 * it assumes. An upgrade of rhea that renames or removes one fails here, not in production.
 */
const requireFromRhea = createRequire(require.resolve('rhea'));

interface ServerSide {
  connection: Connection;
  session: unknown;
  sender: Sender;
  receiver: Receiver;
}

let server: ReturnType<ReturnType<typeof create_container>['listen']>;
let client: TestClient;
let live: ServerSide;

beforeAll(async () => {
  const container = create_container({ id: 'contract' });
  const found: Partial<ServerSide> = {};
  const ready = new Promise<void>((resolve) => {
    const check = (): void => {
      if (found.connection && found.sender && found.receiver) resolve();
    };
    container.on('connection_open', (ctx) => {
      found.connection = ctx.connection;
      check();
    });
    container.on('sender_open', (ctx) => {
      found.sender = ctx.sender;
      found.session = ctx.session;
      check();
    });
    container.on('receiver_open', (ctx) => {
      found.receiver = ctx.receiver;
      check();
    });
  });
  server = container.listen({ port: 0, host: '127.0.0.1' });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  client = await connect((server.address() as { port: number }).port);
  await client.openReceiver('contract');
  await client.openSender('contract');
  await ready;
  live = found as ServerSide;
});

afterAll(async () => {
  await client.close();
  server.close();
});

/** Resolves `object.path` (see src/amqp/rhea/index.ts) to the live value. */
function resolveMember(member: string): unknown {
  let root: unknown;
  let rest: string;
  const libFile = /^(lib\/[a-z_]+\.js)\.(.+)$/.exec(member);
  if (libFile) {
    root = requireFromRhea(`./${libFile[1]!.slice('lib/'.length)}`);
    rest = libFile[2]!;
  } else {
    const [head, ...tail] = member.split('.');
    rest = tail.join('.');
    const roots: Record<string, unknown> = {
      rhea: require('rhea'),
      connection: live.connection,
      session: live.session,
      sender: live.sender,
      receiver: live.receiver,
    };
    if (!(head! in roots)) throw new Error(`unknown root object in ${member}`);
    root = roots[head!];
  }
  let value = root;
  for (const key of rest.split('.')) value = value === null || value === undefined ? undefined : (value as Record<string, unknown>)[key];
  return value;
}

describe('rhea under contract', () => {
  test(`rhea is pinned to exactly ${PINNED_RHEA_VERSION}, in package.json and in node_modules`, () => {
    const ours = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    expect(ours.dependencies.rhea).toBe(PINNED_RHEA_VERSION);
    const installed = JSON.parse(readFileSync(requireFromRhea.resolve('../package.json'), 'utf8')) as { version: string };
    expect(installed.version).toBe(PINNED_RHEA_VERSION);
  });

  for (const patch of RHEA_PATCHES) {
    test(`${patch.file}: every rhea member it replaces or relies on exists with the assumed type`, () => {
      const members = { ...patch.replaces, ...patch.reliesOn };
      expect(Object.keys(members).length + patch.guardedBy.length).toBeGreaterThan(0);
      for (const [member, type] of Object.entries(members)) {
        const value = resolveMember(member);
        expect(value === null ? 'null' : typeof value, member).toBe(type);
      }
    });
  }

  test('every patch file named in the index exists, and every file of the folder is in the index', () => {
    const folder = join(__dirname, '..', '..', 'src', 'amqp', 'rhea');
    const indexed = new Set(RHEA_PATCHES.map((patch) => patch.file));
    const files = require('node:fs').readdirSync(folder) as string[];
    for (const file of indexed) expect(files).toContain(file);
    const unindexed = files.filter((file) => file !== 'index.ts' && !indexed.has(file));
    expect(unindexed, 'files in src/amqp/rhea/ missing from RHEA_PATCHES').toEqual([]);
    for (const patch of RHEA_PATCHES) for (const test of patch.guardedBy) expect(require('node:fs').existsSync(join(__dirname, '..', '..', test)), test).toBe(true);
  });
});

/** rhea's value decoder (types.js Reader). */
function decode(bytes: number[]): { type: { typecode: number }; value: unknown; descriptor?: { value: unknown } } {
  const Reader = (rheaTypes as unknown as { Reader: new (buffer: Buffer) => { read(): never } }).Reader;
  return new Reader(Buffer.from(bytes)).read();
}

/**
 * The hazard class behind own-empty-lists.ts and the attach replies built from plain values
 * (attach-reply.ts): rhea shares one decoded value between every decoder in the process, and some of its
 * functions write into the values they are given. Each behaviour is checked as the installed rhea has
 * it, so that an upgrade that changes one is noticed here; test/amqp/decoded-values.test.ts checks that
 * the broker, given frames full of empty lists, keeps that shared value untouched.
 */
describe('decoded values rhea shares, and rhea functions that write into what they are given', () => {
  const terminus = requireFromRhea('./terminus.js') as { unwrap(field: unknown): { value: unknown[] } | null };
  const sharedEmptyList = (): unknown[] => decode([0x45]).value as unknown[];

  test('every empty list (0x45) decodes to one and the same array (types.js List0)', () => {
    expect(sharedEmptyList()).toBe(sharedEmptyList());
    expect(sharedEmptyList()).toEqual([]);
  });

  test('a decoded value has type.typecode, value and descriptor.value (what own-empty-lists.ts and received-termini.ts read)', () => {
    const emptySource = decode([0x00, 0x53, 0x28, 0x45]);
    expect(emptySource.type.typecode).toBe(0x45);
    expect(emptySource.value).toBe(sharedEmptyList());
    expect(emptySource.descriptor!.value).toBe(0x28);
  });

  test('set_source fills in the terminus it is given: given a decoded one, it writes into the shared empty list', () => {
    const decoded = terminus.unwrap(decode([0x00, 0x53, 0x28, 0x45]))!;
    expect(decoded.value).toBe(sharedEmptyList());
    try {
      (live.sender as unknown as { set_source(fields: unknown): void }).set_source(decoded);
      expect(sharedEmptyList(), 'rhea wrote every source field into it').toHaveLength(11);
    } finally {
      sharedEmptyList().length = 0;
    }
  });

  test("link.on_attach writes the unwrapped termini into the attach it is given (the frame's own list)", () => {
    const frames = requireFromRhea('./frames.js') as { attach(fields: Record<string, unknown>): { value: unknown[]; source: unknown } };
    const attach = frames.attach({ name: 'contract-probe', handle: 7, role: false });
    const written = attach.value;
    expect(written).toHaveLength(3);
    const link = (live.session as { create_receiver(name: string): Record<string, unknown> & { on_attach(frame: unknown): void } }).create_receiver('contract-probe');
    // Only the unwrapping is observed: the probe link neither answers nor reports the attach.
    link.open = () => undefined;
    link.dispatch = () => false;
    link.on_attach({ handle: 7, performative: attach });
    expect(attach.value).toBe(written);
    expect(written.length, 'source and target fields written').toBeGreaterThanOrEqual(7);
  });
});
