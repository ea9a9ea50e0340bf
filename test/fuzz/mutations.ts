import { AmqpReader } from '../../src/amqp/amqp-reader';

/**
 * Mutations of recorded AMQP client sessions. A session is the client's byte stream cut into units
 * (protocol headers and whole frames); a mutation changes units the ways a broken or hostile peer
 * would: flipped bits, cut streams, wrong frame sizes, fields of the wrong type, huge counts, absurd
 * numbers (ranges, credit, ids), unknown handles and channels, frames dropped, repeated, reordered or
 * taken from another session. Everything is drawn from a seeded generator: the same seed, case index
 * and corpus give the same bytes.
 */

export interface Unit {
  readonly kind: 'header' | 'frame';
  readonly bytes: Buffer;
}

export interface RecordedSession {
  readonly name: string;
  readonly units: readonly Unit[];
}

/** How a case is written: at once, or in random pieces (the guard reassembles frames across reads). */
export interface FuzzCase {
  readonly session: string;
  readonly mutations: string[];
  readonly bytes: Buffer;
  /** Where the stream is cut into separate writes. */
  readonly splits: number[];
  /** The client half-closes after writing (a stream cut short). */
  readonly endAfterWrite: boolean;
}

/** mulberry32: a small, fast, seeded generator of numbers in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Draw {
  constructor(readonly random: () => number) {}
  below(n: number): number {
    return Math.floor(this.random() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)]!;
  }
  chance(p: number): boolean {
    return this.random() < p;
  }
}

/** The performative of a frame, cut into its fields (AMQP 1.0 2.3.2, 1.3): enough to rebuild it changed. */
interface ParsedFrame {
  readonly header: Buffer;
  readonly descriptor: Buffer;
  readonly fields: Buffer[];
  readonly payload: Buffer;
}

function parseFrame(frame: Buffer): ParsedFrame | null {
  try {
    const bodyStart = frame[4]! * 4;
    if (bodyStart < 8 || bodyStart >= frame.length || frame[bodyStart] !== 0x00) return null;
    const reader = new AmqpReader(frame, bodyStart + 1, frame.length);
    reader.skipValue();
    const descriptor = frame.subarray(bodyStart, reader.offset);
    const count = reader.enterCompound('list');
    const end = reader.compoundEnd;
    const fields: Buffer[] = [];
    const inner = new AmqpReader(frame, reader.offset, end);
    for (let i = 0; i < count; i++) {
      const start = inner.offset;
      inner.skipValue();
      fields.push(frame.subarray(start, inner.offset));
    }
    return { header: frame.subarray(0, bodyStart), descriptor, fields, payload: frame.subarray(end) };
  } catch {
    return null;
  }
}

function buildFrame(parsed: ParsedFrame): Buffer {
  const fields = Buffer.concat(parsed.fields);
  const list = Buffer.alloc(9);
  list[0] = 0xd0;
  list.writeUInt32BE(fields.length + 4, 1);
  list.writeUInt32BE(parsed.fields.length, 5);
  const frame = Buffer.concat([parsed.header, parsed.descriptor, list, fields, parsed.payload]);
  frame.writeUInt32BE(frame.length, 0);
  return frame;
}

const uint = (value: number): Buffer => {
  const out = Buffer.alloc(5);
  out[0] = 0x70;
  out.writeUInt32BE(value >>> 0, 1);
  return out;
};

/** Numbers that break arithmetic: zero, one, the sign bit, the top of the range. */
const ABSURD_NUMBERS = [0, 1, 2, 255, 256, 511, 512, 65535, 65536, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];

/** A value of some AMQP type, to put where another type belongs. */
function anyValue(draw: Draw): Buffer {
  const kind = draw.below(16);
  switch (kind) {
    case 0: return Buffer.from([0x40]);
    case 1: return Buffer.from([draw.pick([0x41, 0x42])]);
    case 2: return uint(draw.pick(ABSURD_NUMBERS));
    case 3: return Buffer.from([0x53, draw.below(256)]);
    case 4: return Buffer.from([0x81, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    case 5: return Buffer.concat([Buffer.from([0xa1, 3]), Buffer.from('abc')]);
    case 6: return Buffer.concat([Buffer.from([0xa3, 5]), Buffer.from('queue')]);
    case 7: return Buffer.from([0xa0, 2, 0xde, 0xad]);
    case 8: return Buffer.from([0x45]);
    case 9: return Buffer.from([0xc1, 0x01, 0x00]);
    case 10: return Buffer.from([0xe0, 0x02, 0x00, 0xa3]);
    case 11: return Buffer.from([0x00, 0x53, draw.pick([0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x1d, 0x30, 0x70]), 0x45]);
    case 12: return Buffer.from([0x82, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0]);
    case 13: return hugeCount(draw);
    case 14: return deeplyNested(draw.below(60) + 1);
    default: return Buffer.from([draw.below(256)]);
  }
}

/** A list, map or array whose declared count is far beyond its bytes (or its size beyond the frame). */
function hugeCount(draw: Draw): Buffer {
  const code = draw.pick([0xd0, 0xd1, 0xf0, 0xc0, 0xe0]);
  const count = draw.pick([0x7fffffff, 0xffffffff, 0x10000, 255]);
  const element = draw.pick([0x40, 0x41, 0x43, 0x45, 0xa3, 0x70]);
  if (code === 0xc0 || code === 0xe0) return Buffer.from([code, draw.pick([2, 255]), count & 0xff, element]);
  const out = Buffer.alloc(10);
  out[0] = code;
  out.writeUInt32BE(draw.pick([5, 0xffffffff, 0x7fffffff]), 1);
  out.writeUInt32BE(count >>> 0, 5);
  out[9] = element;
  return out;
}

function deeplyNested(depth: number): Buffer {
  let value = Buffer.from([0x40]);
  for (let i = 0; i < depth; i++) {
    const head = Buffer.alloc(9);
    head[0] = 0xd0;
    head.writeUInt32BE(value.length + 4, 1);
    head.writeUInt32BE(1, 5);
    value = Buffer.concat([head, value]);
  }
  return value;
}

type Operator = (units: Unit[], draw: Draw, others: readonly RecordedSession[]) => string | null;

function frameIndexes(units: readonly Unit[]): number[] {
  return units.flatMap((unit, index) => (unit.kind === 'frame' ? [index] : []));
}

function replaceFrame(units: Unit[], index: number, bytes: Buffer): void {
  units[index] = { kind: 'frame', bytes };
}

/** Applies `change` to one field of one performative; returns what it did, or null if none fits. */
function changeField(units: Unit[], draw: Draw, change: (parsed: ParsedFrame, field: number) => string | null): string | null {
  const frames = frameIndexes(units);
  for (let attempt = 0; attempt < 4 && frames.length > 0; attempt++) {
    const index = draw.pick(frames);
    const parsed = parseFrame(units[index]!.bytes);
    if (!parsed || parsed.fields.length === 0) continue;
    const field = draw.below(parsed.fields.length + 1);
    if (field === parsed.fields.length) parsed.fields.push(Buffer.from([0x40]));
    const what = change(parsed, field);
    if (what === null) continue;
    replaceFrame(units, index, buildFrame(parsed));
    return `frame ${index} field ${field}: ${what}`;
  }
  return null;
}

const OPERATORS: Record<string, Operator> = {
  bitFlips(units, draw) {
    const frames = frameIndexes(units);
    if (frames.length === 0) return null;
    const index = draw.pick(frames);
    const bytes = Buffer.from(units[index]!.bytes);
    const flips = 1 + draw.below(4);
    for (let i = 0; i < flips; i++) bytes[draw.below(bytes.length)]! ^= 1 << draw.below(8);
    replaceFrame(units, index, bytes);
    return `frame ${index}: ${flips} bits flipped`;
  },
  byteSet(units, draw) {
    const frames = frameIndexes(units);
    if (frames.length === 0) return null;
    const index = draw.pick(frames);
    const bytes = Buffer.from(units[index]!.bytes);
    const at = 4 + draw.below(Math.max(1, bytes.length - 4));
    bytes[at] = draw.pick([0x00, 0xff, 0x40, 0x7f, 0x80, 0xd0, 0xf0, 0x53, draw.below(256)]);
    replaceFrame(units, index, bytes);
    return `frame ${index}: byte ${at} set to ${bytes[at]}`;
  },
  wrongSize(units, draw) {
    const frames = frameIndexes(units);
    if (frames.length === 0) return null;
    const index = draw.pick(frames);
    const bytes = Buffer.from(units[index]!.bytes);
    const size = draw.pick([0, 4, 7, 8, bytes.length - 1, bytes.length + 1, bytes.length + 1000, 0x10000, 0x7fffffff, 0xffffffff]);
    bytes.writeUInt32BE(size >>> 0, 0);
    replaceFrame(units, index, bytes);
    return `frame ${index}: size ${size >>> 0} instead of ${units[index]!.bytes.length}`;
  },
  wrongType(units, draw) {
    return changeField(units, draw, (parsed, field) => {
      parsed.fields[field] = anyValue(draw);
      return `replaced by ${parsed.fields[field]!.subarray(0, 12).toString('hex')}`;
    });
  },
  hugeCount(units, draw) {
    return changeField(units, draw, (parsed, field) => {
      parsed.fields[field] = hugeCount(draw);
      return `compound with count ${parsed.fields[field]!.toString('hex')}`;
    });
  },
  absurdNumber(units, draw) {
    return changeField(units, draw, (parsed, field) => {
      const code = parsed.fields[field]![0];
      if (code !== 0x70 && code !== 0x52 && code !== 0x43 && code !== 0x40 && code !== 0x60 && code !== 0x50) return null;
      const value = draw.chance(0.7) ? draw.pick(ABSURD_NUMBERS) : draw.below(4294967296);
      parsed.fields[field] = uint(value);
      return `uint ${value}`;
    });
  },
  channel(units, draw) {
    const frames = frameIndexes(units);
    if (frames.length === 0) return null;
    const index = draw.pick(frames);
    const bytes = Buffer.from(units[index]!.bytes);
    const channel = draw.pick([1, 2, 7, 1023, 1024, 65535, draw.below(65536)]);
    bytes.writeUInt16BE(channel, 6);
    replaceFrame(units, index, bytes);
    return `frame ${index}: channel ${channel}`;
  },
  dropFrame(units, draw) {
    const frames = frameIndexes(units);
    if (frames.length === 0) return null;
    const index = draw.pick(frames);
    units.splice(index, 1);
    return `frame ${index} dropped`;
  },
  repeatFrame(units, draw) {
    const frames = frameIndexes(units);
    if (frames.length === 0) return null;
    const index = draw.pick(frames);
    const times = draw.pick([1, 2, 10, 100]);
    units.splice(index, 0, ...Array.from({ length: times }, () => units[index]!));
    return `frame ${index} repeated ${times} times`;
  },
  swapFrames(units, draw) {
    const frames = frameIndexes(units);
    if (frames.length < 2) return null;
    const a = draw.pick(frames);
    const b = draw.pick(frames);
    [units[a], units[b]] = [units[b]!, units[a]!];
    return `frames ${a} and ${b} swapped`;
  },
  spliceFromOther(units, draw, others) {
    const donor = draw.pick(others);
    const donorFrames = donor.units.filter((unit) => unit.kind === 'frame');
    if (donorFrames.length === 0) return null;
    const frame = draw.pick(donorFrames);
    const at = draw.below(units.length + 1);
    units.splice(at, 0, frame);
    return `a frame of ${donor.name} inserted at ${at}`;
  },
  /** A disposition over an absurd range, on a channel the session uses (AMQP 1.0 2.7.6). */
  dispositionRange(units, draw) {
    const first = draw.pick(ABSURD_NUMBERS);
    const last = draw.chance(0.5) ? draw.pick(ABSURD_NUMBERS) : (first + draw.below(100000)) >>> 0;
    const fields = [Buffer.from([draw.pick([0x41, 0x42])]), uint(first), uint(last), Buffer.from([0x41]), Buffer.from([0x00, 0x53, 0x24, 0x45])];
    const frame = buildFrame({ header: Buffer.from([0, 0, 0, 0, 2, 0, 0, 0]), descriptor: Buffer.from([0x00, 0x53, 0x15]), fields, payload: Buffer.alloc(0) });
    const at = 1 + draw.below(units.length);
    units.splice(at, 0, ...Array.from({ length: draw.pick([1, 5, 50]) }, () => ({ kind: 'frame' as const, bytes: frame })));
    return `disposition ${first}..${last} inserted at ${at}`;
  },
  /** A flow with absurd credit, delivery-count or windows on some handle (AMQP 1.0 2.7.4). */
  flowCredit(units, draw) {
    const fields = [
      uint(draw.pick(ABSURD_NUMBERS)), uint(draw.pick(ABSURD_NUMBERS)), uint(draw.pick(ABSURD_NUMBERS)), uint(draw.pick(ABSURD_NUMBERS)),
      uint(draw.pick([0, 1, 2, 7, 0xffffffff])), draw.chance(0.3) ? Buffer.from([0x40]) : uint(draw.pick(ABSURD_NUMBERS)),
      draw.chance(0.2) ? Buffer.from([0x40]) : uint(draw.pick(ABSURD_NUMBERS)), Buffer.from([0x40]), Buffer.from([draw.pick([0x41, 0x42])]), Buffer.from([draw.pick([0x41, 0x42])]),
    ];
    const frame = buildFrame({ header: Buffer.from([0, 0, 0, 0, 2, 0, 0, 0]), descriptor: Buffer.from([0x00, 0x53, 0x13]), fields, payload: Buffer.alloc(0) });
    const at = 1 + draw.below(units.length);
    units.splice(at, 0, { kind: 'frame', bytes: frame });
    return `flow with absurd numbers inserted at ${at}`;
  },
  /** A change inside a transfer's message bytes (message sections, AMQP 1.0 3.2). */
  payload(units, draw) {
    const transfers = frameIndexes(units).filter((index) => parseFrame(units[index]!.bytes)?.descriptor[2] === 0x14);
    if (transfers.length === 0) return null;
    const index = draw.pick(transfers);
    const parsed = parseFrame(units[index]!.bytes)!;
    if (parsed.payload.length === 0) return null;
    const payload = Buffer.from(parsed.payload);
    if (draw.chance(0.3)) {
      const cut = draw.below(payload.length);
      replaceFrame(units, index, buildFrame({ ...parsed, payload: Buffer.concat([payload.subarray(0, cut), hugeCount(draw)]) }));
      return `frame ${index}: message cut at ${cut}, a huge count appended`;
    }
    for (let i = 0; i < 1 + draw.below(4); i++) payload[draw.below(payload.length)] = draw.pick([0x00, 0xff, 0x40, 0xd0, 0xf0, 0xa1, draw.below(256)]);
    replaceFrame(units, index, buildFrame({ ...parsed, payload }));
    return `frame ${index}: message bytes changed`;
  },
};

const OPERATOR_NAMES = Object.keys(OPERATORS);

/** Case `index` of the run seeded with `seed`: a session of the corpus, mutated 1 to 3 times. */
export function makeCase(corpus: readonly RecordedSession[], seed: number, index: number): FuzzCase {
  const draw = new Draw(seededRandom((seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0));
  const session = draw.pick(corpus);
  const units = [...session.units];
  const mutations: string[] = [];
  const count = 1 + draw.below(3);
  for (let attempt = 0; mutations.length < count && attempt < 10; attempt++) {
    const name = draw.pick(OPERATOR_NAMES);
    const what = OPERATORS[name]!(units, draw, corpus);
    if (what !== null) mutations.push(`${name}: ${what}`);
  }
  let bytes = Buffer.concat(units.map((unit) => unit.bytes));
  let endAfterWrite = false;
  if (draw.chance(0.08)) {
    const cut = draw.below(bytes.length);
    bytes = bytes.subarray(0, cut);
    endAfterWrite = true;
    mutations.push(`stream cut after ${cut} bytes`);
  }
  const splits = draw.chance(0.3) ? Array.from({ length: 1 + draw.below(8) }, () => draw.below(bytes.length)).sort((a, b) => a - b) : [];
  return { session: session.name, mutations, bytes, splits, endAfterWrite };
}
