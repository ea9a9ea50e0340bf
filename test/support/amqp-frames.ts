import net from 'node:net';

/**
 * Raw AMQP 1.0 frames for tests that must control every byte a client sends (an empty list as 0x45, a
 * field absent or encoded as null) and see every byte the broker answers. Written from the spec (AMQP
 * 1.0 part 1 types, 2.3 frames, 2.7 performatives), independent of rhea and of the broker's code.
 */

/** Encoders for the AMQP types the tests need (AMQP 1.0 1.6). */
export const encode = {
  null: (): Buffer => Buffer.from([0x40]),
  boolean: (value: boolean): Buffer => Buffer.from([value ? 0x41 : 0x42]),
  ubyte: (value: number): Buffer => Buffer.from([0x50, value]),
  uint(value: number): Buffer {
    if (value === 0) return Buffer.from([0x43]);
    if (value < 256) return Buffer.from([0x52, value]);
    const bytes = Buffer.alloc(5);
    bytes[0] = 0x70;
    bytes.writeUInt32BE(value, 1);
    return bytes;
  },
  int(value: number): Buffer {
    const bytes = Buffer.alloc(5);
    bytes[0] = 0x71;
    bytes.writeInt32BE(value, 1);
    return bytes;
  },
  binary: (value: Buffer): Buffer => variable(0xa0, 0xb0, value),
  string: (value: string): Buffer => variable(0xa1, 0xb1, Buffer.from(value, 'utf8')),
  symbol: (value: string): Buffer => variable(0xa3, 0xb3, Buffer.from(value, 'ascii')),
  /** list0: the one-byte empty list. */
  list0: (): Buffer => Buffer.from([0x45]),
  /** A list8 (or list32 when large), also when empty: `c0 01 00`. */
  list(items: readonly Buffer[]): Buffer {
    const body = Buffer.concat(items);
    if (body.length + 1 < 256 && items.length < 256) return Buffer.concat([Buffer.from([0xc0, body.length + 1, items.length]), body]);
    const head = Buffer.alloc(9);
    head[0] = 0xd0;
    head.writeUInt32BE(body.length + 4, 1);
    head.writeUInt32BE(items.length, 5);
    return Buffer.concat([head, body]);
  },
  map(entries: readonly (readonly [Buffer, Buffer])[]): Buffer {
    const body = Buffer.concat(entries.flatMap(([key, value]) => [key, value]));
    return Buffer.concat([Buffer.from([0xc1, body.length + 1, entries.length * 2]), body]);
  },
  symbolArray(values: readonly string[]): Buffer {
    const items = Buffer.concat(values.map((value) => Buffer.concat([Buffer.from([Buffer.byteLength(value, 'ascii')]), Buffer.from(value, 'ascii')])));
    return Buffer.concat([Buffer.from([0xe0, items.length + 2, values.length, 0xa3]), items]);
  },
  /** A described value with a ulong descriptor (small-ulong below 256) or a symbolic one. */
  described(descriptor: number | string, value: Buffer): Buffer {
    if (typeof descriptor === 'string') return Buffer.concat([Buffer.from([0x00]), encode.symbol(descriptor), value]);
    if (descriptor < 256) return Buffer.concat([Buffer.from([0x00, 0x53, descriptor]), value]);
    const head = Buffer.alloc(10);
    head[1] = 0x80;
    head.writeBigUInt64BE(BigInt(descriptor), 2);
    return Buffer.concat([head, value]);
  },
};

function variable(small: number, large: number, bytes: Buffer): Buffer {
  if (bytes.length < 256) return Buffer.concat([Buffer.from([small, bytes.length]), bytes]);
  const head = Buffer.alloc(5);
  head[0] = large;
  head.writeUInt32BE(bytes.length, 1);
  return Buffer.concat([head, bytes]);
}

/** A described value as decoded. */
export class Described {
  constructor(
    readonly descriptor: number | string,
    readonly value: unknown,
  ) {}
}

/** Decodes one AMQP value at `offset` (AMQP 1.0 1.6); symbols and strings both decode to strings. */
export function decodeValue(bytes: Buffer, offset = 0): { value: unknown; end: number } {
  const code = bytes[offset]!;
  let at = offset + 1;
  const fixed = (width: number, read: () => unknown): { value: unknown; end: number } => ({ value: read(), end: at + width });
  switch (code) {
    case 0x00: {
      const descriptor = decodeValue(bytes, at);
      const described = decodeValue(bytes, descriptor.end);
      return { value: new Described(descriptor.value as number | string, described.value), end: described.end };
    }
    case 0x40:
      return { value: null, end: at };
    case 0x41:
      return { value: true, end: at };
    case 0x42:
      return { value: false, end: at };
    case 0x43:
    case 0x44:
      return { value: 0, end: at };
    case 0x45:
      return { value: [], end: at };
    case 0x50:
    case 0x52:
    case 0x53:
      return fixed(1, () => bytes[at]);
    case 0x51:
      return fixed(1, () => bytes.readInt8(at));
    case 0x54:
      return fixed(1, () => bytes.readInt8(at));
    case 0x55:
      return fixed(1, () => bytes.readInt8(at));
    case 0x56:
      return fixed(1, () => bytes[at] !== 0);
    case 0x60:
      return fixed(2, () => bytes.readUInt16BE(at));
    case 0x61:
      return fixed(2, () => bytes.readInt16BE(at));
    case 0x70:
      return fixed(4, () => bytes.readUInt32BE(at));
    case 0x71:
      return fixed(4, () => bytes.readInt32BE(at));
    case 0x80:
    case 0x83:
      return fixed(8, () => Number(bytes.readBigUInt64BE(at)));
    case 0x81:
      return fixed(8, () => Number(bytes.readBigInt64BE(at)));
    case 0xa0:
    case 0xa1:
    case 0xa3:
    case 0xb0:
    case 0xb1:
    case 0xb3: {
      const wide = code >= 0xb0;
      const length = wide ? bytes.readUInt32BE(at) : bytes[at]!;
      at += wide ? 4 : 1;
      const slice = bytes.subarray(at, at + length);
      return { value: code === 0xa0 || code === 0xb0 ? Buffer.from(slice) : slice.toString('utf8'), end: at + length };
    }
    case 0xc0:
    case 0xc1:
    case 0xd0:
    case 0xd1: {
      const wide = code >= 0xd0;
      const size = wide ? bytes.readUInt32BE(at) : bytes[at]!;
      const count = wide ? bytes.readUInt32BE(at + 4) : bytes[at + 1]!;
      const end = at + (wide ? 4 : 1) + size;
      at += wide ? 8 : 2;
      const items: unknown[] = [];
      for (let index = 0; index < count; index++) {
        const item = decodeValue(bytes, at);
        items.push(item.value);
        at = item.end;
      }
      if (code === 0xc1 || code === 0xd1) {
        const map = new Map<unknown, unknown>();
        for (let index = 0; index + 1 < items.length; index += 2) map.set(items[index], items[index + 1]);
        return { value: map, end };
      }
      return { value: items, end };
    }
    case 0xe0:
    case 0xf0: {
      const wide = code === 0xf0;
      const size = wide ? bytes.readUInt32BE(at) : bytes[at]!;
      const count = wide ? bytes.readUInt32BE(at + 4) : bytes[at + 1]!;
      const end = at + (wide ? 4 : 1) + size;
      at += wide ? 8 : 2;
      const element = bytes[at]!;
      at += 1;
      const items: unknown[] = [];
      for (let index = 0; index < count; index++) {
        // An array element is encoded without its constructor: decode it as if it had one.
        const withCode = Buffer.concat([Buffer.from([element]), bytes.subarray(at, end)]);
        const item = decodeValue(withCode, 0);
        items.push(item.value);
        at += item.end - 1;
      }
      return { value: items, end };
    }
    default:
      throw new Error(`test decoder: type code 0x${code.toString(16)} not supported`);
  }
}

export const AMQP_HEADER = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 1, 0, 0]);
export const SASL_HEADER = Buffer.from([0x41, 0x4d, 0x51, 0x50, 3, 1, 0, 0]);

/** Performative descriptors (AMQP 1.0 2.7). */
export const Performative = { open: 0x10, begin: 0x11, attach: 0x12, flow: 0x13, transfer: 0x14, disposition: 0x15, detach: 0x16, end: 0x17, close: 0x18 } as const;

export interface Frame {
  readonly channel: number;
  /** The performative's descriptor code. */
  readonly descriptor: number;
  /** The performative's fields, as encoded (trailing absent fields are simply not there). */
  readonly fields: readonly unknown[];
  readonly payload: Buffer;
}

/** An AMQP frame (2.3.2) on `channel` carrying `body` (a performative, and a payload for transfers). */
export function frame(channel: number, body: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(8 + body.length, 0);
  head[4] = 2;
  head[5] = 0;
  head.writeUInt16BE(channel, 6);
  return Buffer.concat([head, body]);
}

/** A performative: its descriptor and its fields, trailing absent ones left out (1.4 composite types). */
export function performative(descriptor: number, fields: readonly (Buffer | undefined)[]): Buffer {
  let last = fields.length;
  while (last > 0 && fields[last - 1] === undefined) last--;
  const present = fields.slice(0, last).map((field) => field ?? encode.null());
  return encode.described(descriptor, encode.list(present));
}

/** A terminus in an attach: its encoded bytes, or absent. */
export type TerminusBytes = Buffer | undefined;

export interface AttachFields {
  readonly name: string;
  readonly handle: number;
  /** true: the client is the receiver (it consumes); false: the sender. */
  readonly role: boolean;
  readonly sndSettleMode?: number;
  readonly rcvSettleMode?: number;
  readonly source?: TerminusBytes;
  readonly target?: TerminusBytes;
  readonly properties?: Buffer;
}

export function attach(fields: AttachFields): Buffer {
  return performative(Performative.attach, [
    encode.string(fields.name),
    encode.uint(fields.handle),
    encode.boolean(fields.role),
    fields.sndSettleMode === undefined ? undefined : encode.ubyte(fields.sndSettleMode),
    fields.rcvSettleMode === undefined ? undefined : encode.ubyte(fields.rcvSettleMode),
    fields.source,
    fields.target,
    undefined,
    undefined,
    fields.role ? undefined : encode.uint(0),
    undefined,
    undefined,
    undefined,
    fields.properties,
  ]);
}

/** A settled transfer (2.7.5) of a message with one data section (3.2.6) holding `body`. */
export function settledTransfer(handle: number, deliveryId: number, body: string): Buffer {
  const transfer = performative(Performative.transfer, [encode.uint(handle), encode.uint(deliveryId), encode.binary(Buffer.from(`tag-${deliveryId}`)), encode.uint(0), encode.boolean(true)]);
  return Buffer.concat([transfer, encode.described(0x75, encode.binary(Buffer.from(body, 'utf8')))]);
}

/** A source (3.5.3) or target (3.5.4) from its fields in order; undefined fields are absent. */
export function terminus(kind: 'source' | 'target', fields: readonly (Buffer | undefined)[] = []): Buffer {
  const present = [...fields];
  while (present.length > 0 && present[present.length - 1] === undefined) present.pop();
  return encode.described(kind === 'source' ? 0x28 : 0x29, present.length === 0 ? encode.list([]) : encode.list(present.map((field) => field ?? encode.null())));
}

/**
 * A client connection speaking raw frames: AMQP header without SASL, open, begin on channel 0. Empty
 * frames (heartbeats) are skipped.
 */
export class RawConnection {
  private buffered = Buffer.alloc(0);
  private readonly frames: Frame[] = [];
  private waiting: (() => void) | null = null;
  private headerSeen = false;
  closed = false;

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('close', () => {
      this.closed = true;
      this.waiting?.();
    });
    socket.on('error', () => undefined);
  }

  /** Opens the connection and a session on channel 0; `open` replaces the default open performative. */
  static async open(port: number, open = performative(Performative.open, [encode.string('raw-test')])): Promise<RawConnection> {
    const connection = await RawConnection.connect(port, AMQP_HEADER);
    connection.send(open);
    connection.send(performative(Performative.begin, [undefined, encode.uint(0), encode.uint(2048), encode.uint(2048)]));
    await connection.expect(Performative.open);
    await connection.expect(Performative.begin);
    return connection;
  }

  /** Only the TCP connection and a protocol header (AMQP 1.0 2.2): AMQP_HEADER or SASL_HEADER. */
  static async connect(port: number, header: Buffer): Promise<RawConnection> {
    const socket = net.connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('error', reject);
    });
    const connection = new RawConnection(socket);
    socket.write(header);
    return connection;
  }

  send(body: Buffer, channel = 0): void {
    this.socket.write(frame(channel, body));
  }

  /** A SASL frame (5.3.1): frame type 1. */
  sendSasl(body: Buffer): void {
    const bytes = frame(0, body);
    bytes[5] = 1;
    this.socket.write(bytes);
  }

  /** Writes bytes as they are (a frame built by hand). */
  write(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** The next frame; fails after `timeoutMs`. */
  async next(timeoutMs = 3000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    while (this.frames.length === 0) {
      if (this.closed) throw new Error('connection closed while waiting for a frame');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('timed out waiting for a frame');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiting = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiting = null;
    }
    return this.frames.shift()!;
  }

  /** The next frame, which must carry performative `descriptor`. */
  async expect(descriptor: number, timeoutMs = 3000): Promise<Frame> {
    const got = await this.next(timeoutMs);
    if (got.descriptor !== descriptor) {
      throw new Error(`expected performative 0x${descriptor.toString(16)}, got 0x${got.descriptor.toString(16)} ${JSON.stringify(got.fields)}`);
    }
    return got;
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.buffered = Buffer.concat([this.buffered, chunk]);
    if (!this.headerSeen) {
      if (this.buffered.length < 8) return;
      this.buffered = this.buffered.subarray(8);
      this.headerSeen = true;
    }
    while (this.buffered.length >= 8) {
      const size = this.buffered.readUInt32BE(0);
      if (this.buffered.length < size) break;
      const bytes = this.buffered.subarray(0, size);
      this.buffered = this.buffered.subarray(size);
      const bodyStart = bytes[4]! * 4;
      if (bodyStart >= size) continue;
      const body = decodeValue(bytes, bodyStart);
      const described = body.value as Described;
      this.frames.push({
        channel: bytes.readUInt16BE(6),
        descriptor: described.descriptor as number,
        fields: described.value as unknown[],
        payload: Buffer.from(bytes.subarray(body.end)),
      });
    }
    this.waiting?.();
  }
}

export interface FlowFields {
  readonly handle: number;
  readonly deliveryCount: number;
  readonly linkCredit: number;
  /** The session's next-outgoing-id (2.5.6): transfers the client has sent on the session so far. */
  readonly nextOutgoingId: number;
  readonly drain?: boolean;
}

/** A link flow (2.7.4) with session windows of 2048. */
export function flow(fields: FlowFields): Buffer {
  return performative(Performative.flow, [
    undefined,
    encode.uint(2048),
    encode.uint(fields.nextOutgoingId),
    encode.uint(2048),
    encode.uint(fields.handle),
    encode.uint(fields.deliveryCount),
    encode.uint(fields.linkCredit),
    undefined,
    fields.drain === undefined ? undefined : encode.boolean(fields.drain),
  ]);
}

export interface TransferFields {
  readonly handle: number;
  readonly deliveryId: number;
  readonly settled?: boolean;
  /** The delivery state (2.7.5 state), encoded. */
  readonly state?: Buffer;
  readonly more?: boolean;
  /** The message bytes (sections, 3.2). */
  readonly payload: Buffer;
}

/** A transfer (2.7.5) with tag `tag-<delivery-id>`. */
export function transfer(fields: TransferFields): Buffer {
  const head = performative(Performative.transfer, [
    encode.uint(fields.handle),
    encode.uint(fields.deliveryId),
    encode.binary(Buffer.from(`tag-${fields.deliveryId}`)),
    encode.uint(0),
    encode.boolean(fields.settled ?? false),
    fields.more === undefined ? undefined : encode.boolean(fields.more),
    undefined,
    fields.state,
  ]);
  return Buffer.concat([head, fields.payload]);
}

export interface DispositionFields {
  /** true: the client is the receiver of these deliveries (it acknowledges what the broker sent). */
  readonly role: boolean;
  readonly first: number;
  readonly last?: number;
  readonly settled: boolean;
  readonly state?: Buffer;
}

export function disposition(fields: DispositionFields): Buffer {
  return performative(Performative.disposition, [
    encode.boolean(fields.role),
    encode.uint(fields.first),
    fields.last === undefined ? undefined : encode.uint(fields.last),
    encode.boolean(fields.settled),
    fields.state,
  ]);
}

/** Outcomes (3.4) as a client encodes them. */
export const outcome = {
  accepted: (): Buffer => encode.described(0x24, encode.list0()),
  released: (): Buffer => encode.described(0x26, encode.list0()),
  modified: (deliveryFailed: boolean): Buffer => encode.described(0x27, encode.list([encode.boolean(deliveryFailed)])),
};

export interface MessageFields {
  readonly durable?: boolean;
  readonly groupId?: string;
  /** Application properties with string values (3.2.5). */
  readonly properties?: Readonly<Record<string, string>>;
  /** A data section (3.2.6) with these bytes, or an amqp-value (3.2.8) with this encoded value. */
  readonly data?: string;
  readonly value?: Buffer;
}

/** A bare message: header, properties, application-properties and one body section, each when given. */
export function message(fields: MessageFields): Buffer {
  const sections: Buffer[] = [];
  if (fields.durable !== undefined) sections.push(encode.described(0x70, encode.list([encode.boolean(fields.durable)])));
  if (fields.groupId !== undefined) {
    sections.push(encode.described(0x73, encode.list([...Array<Buffer>(10).fill(encode.null()), encode.string(fields.groupId)])));
  }
  if (fields.properties) {
    sections.push(encode.described(0x74, encode.map(Object.entries(fields.properties).map(([key, value]) => [encode.string(key), encode.string(value)] as const))));
  }
  if (fields.data !== undefined) sections.push(encode.described(0x75, encode.binary(Buffer.from(fields.data, 'utf8'))));
  if (fields.value !== undefined) sections.push(encode.described(0x77, fields.value));
  return Buffer.concat(sections);
}

/** The sections of a message the broker sent, decoded: descriptor code -> value. */
export function sectionsOf(payload: Buffer): Map<number, unknown> {
  const sections = new Map<number, unknown>();
  for (let offset = 0; offset < payload.length; ) {
    const section = decodeValue(payload, offset);
    const described = section.value as Described;
    sections.set(described.descriptor as number, described.value);
    offset = section.end;
  }
  return sections;
}
