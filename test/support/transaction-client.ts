import {
  Described,
  Performative,
  RawConnection,
  attach,
  disposition,
  encode,
  flow,
  message,
  performative,
  sectionsOf,
  terminus,
  transfer,
  type Frame,
} from './amqp-frames';

/**
 * A transaction controller and transactional producer and consumer over raw frames (AMQP 1.0 4), written
 * from the spec and independent of the broker's code: every byte of declare, discharge, transactional
 * transfers and dispositions is the test's own. One session (channel 0).
 */

const ALL_OUTCOMES = ['amqp:accepted:list', 'amqp:rejected:list', 'amqp:released:list', 'amqp:modified:list'];

/** 4.5.1 coordinator with the capabilities asked for. */
export const coordinatorTarget = (capabilities: readonly string[] = ['amqp:local-transactions']): Buffer =>
  encode.described(0x30, encode.list([encode.symbolArray(capabilities)]));
/** 4.5.2 declare, optionally with a global-id. */
export const declareBody = (globalId?: Buffer): Buffer => encode.described(0x31, globalId ? encode.list([globalId]) : encode.list0());
/** 4.5.3 discharge. */
export const dischargeBody = (txnId: Buffer, fail: boolean): Buffer => encode.described(0x32, encode.list([encode.binary(txnId), encode.boolean(fail)]));
/** 4.5.6 transactional-state, with an outcome or none. */
export const transactionalState = (txnId: Buffer, outcome?: Buffer): Buffer =>
  encode.described(0x34, encode.list(outcome ? [encode.binary(txnId), outcome] : [encode.binary(txnId)]));

/** An AMQP error (2.8.14) as decoded: condition and description. */
export interface ErrorView {
  readonly condition: string;
  readonly description: string;
}

/** A delivery state as the broker sent it, decoded. */
export interface StateView {
  /** 0x24 accepted, 0x25 rejected, 0x33 declared, 0x34 transactional-state... */
  readonly descriptor: number;
  readonly fields: readonly unknown[];
}

export function errorOf(state: StateView): ErrorView {
  const error = state.fields[0] as Described;
  const [condition, description] = error.value as [string, string];
  return { condition, description };
}

export interface ReceivedTransfer {
  readonly handle: number;
  readonly deliveryId: number;
  readonly settled: boolean;
  readonly sections: Map<number, unknown>;
  /** The data section as text, or the amqp-value when it is a string. */
  readonly body: string;
  /** header.delivery-count (3.2.1); 0 when absent. */
  readonly deliveryCount: number;
}

export class TransactionClient {
  private nextHandle = 0;
  private nextOutgoingDeliveryId = 0;
  /** Transfers this client sent on the session (2.5.6 next-outgoing-id). */
  private transfersSent = 0;
  private readonly stash: Frame[] = [];
  /** Per consumer handle: transfers received, the link's delivery-count. */
  private readonly deliveryCounts = new Map<number, number>();
  /** Dispositions of deliveries this client sent, by delivery id (a disposition may cover a range, 2.7.6). */
  private readonly outcomes = new Map<number, { settled: boolean; state: StateView | null }>();
  /** Our handle -> the broker's handle for the same link (from its attach). */
  private readonly brokerHandles = new Map<number, number>();

  private constructor(readonly connection: RawConnection) {}

  static async open(port: number): Promise<TransactionClient> {
    return new TransactionClient(await RawConnection.open(port));
  }

  close(): void {
    this.connection.close();
  }

  /** A coordinator link: waits for the reply and the broker's credit. Returns the handle and the reply's target. */
  async attachCoordinator(options: { capabilities?: readonly string[]; outcomes?: readonly string[] } = {}): Promise<{ handle: number; target: unknown }> {
    const handle = this.nextHandle++;
    const outcomes = options.outcomes ?? ALL_OUTCOMES;
    const source = terminus('source', [undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, encode.symbolArray(outcomes)]);
    this.connection.send(attach({ name: `coordinator-${handle}`, handle, role: false, sndSettleMode: 0, source, target: coordinatorTarget(options.capabilities) }));
    const reply = await this.attachReply(handle, `coordinator-${handle}`);
    if (reply.fields[6] === null || reply.fields[6] === undefined) throw new Error(`coordinator refused: ${JSON.stringify(await this.detachOf(handle))}`);
    await this.frame((f) => f.descriptor === Performative.flow && f.fields[4] === reply.fields[1], 'credit for the coordinator');
    return { handle, target: reply.fields[6] };
  }

  /** A sender to `queue`; waits for its credit. */
  async attachSender(queue: string): Promise<number> {
    const handle = this.nextHandle++;
    this.connection.send(attach({ name: `sender-${handle}`, handle, role: false, source: terminus('source', []), target: terminus('target', [encode.string(queue)]) }));
    const reply = await this.attachReply(handle, `sender-${handle}`);
    await this.frame((f) => f.descriptor === Performative.flow && f.fields[4] === reply.fields[1], 'credit for the sender');
    return handle;
  }

  /** A receiver of `queue` with `credit`. Its unsettled deliveries take the client's dispositions. */
  async attachReceiver(queue: string, credit: number): Promise<number> {
    const handle = this.nextHandle++;
    this.connection.send(attach({ name: `receiver-${handle}`, handle, role: true, source: terminus('source', [encode.string(queue)]), target: terminus('target', []) }));
    await this.attachReply(handle, `receiver-${handle}`);
    this.deliveryCounts.set(handle, 0);
    this.grant(handle, credit);
    return handle;
  }

  /** Sets the receiver's credit to `credit` from here (2.6.7). */
  grant(handle: number, credit: number): void {
    this.connection.send(flow({ handle, deliveryCount: this.deliveryCounts.get(handle)!, linkCredit: credit, nextOutgoingId: this.transfersSent }));
  }

  detach(handle: number): void {
    this.connection.send(performative(Performative.detach, [encode.uint(handle), encode.boolean(true)]));
  }

  /** Sends a message; returns its delivery id. */
  send(handle: number, payload: Buffer, options: { state?: Buffer; settled?: boolean } = {}): number {
    const deliveryId = this.nextOutgoingDeliveryId++;
    this.connection.send(transfer({ handle, deliveryId, payload, state: options.state, settled: options.settled }));
    this.transfersSent++;
    return deliveryId;
  }

  /** The broker's disposition of a delivery this client sent: settled, and its state. */
  async outcomeOf(deliveryId: number, timeoutMs = 3000): Promise<{ settled: boolean; state: StateView | null }> {
    const deadline = Date.now() + timeoutMs;
    while (!this.outcomes.has(deliveryId)) {
      await this.frame(isOutcome, `the disposition of delivery ${deliveryId}`, Math.max(1, deadline - Date.now()));
    }
    return this.outcomes.get(deliveryId)!;
  }

  /** Declares a transaction on the coordinator; returns the answer's state. */
  async declare(coordinator: number, globalId?: Buffer): Promise<StateView> {
    const { state } = await this.outcomeOf(this.send(coordinator, message({ value: declareBody(globalId) })));
    return state!;
  }

  /** Declares a transaction that must succeed; returns its txn-id. */
  async begin(coordinator: number): Promise<Buffer> {
    const state = await this.declare(coordinator);
    if (state.descriptor !== 0x33) throw new Error(`declare answered with ${JSON.stringify(state)}`);
    return state.fields[0] as Buffer;
  }

  async discharge(coordinator: number, txnId: Buffer, fail: boolean): Promise<StateView> {
    const { settled, state } = await this.outcomeOf(this.send(coordinator, message({ value: dischargeBody(txnId, fail) })));
    if (!settled) throw new Error('a discharge must be answered settled');
    return state!;
  }

  /** The next transfer on the receiver `handle`. */
  async receive(handle: number, timeoutMs = 3000): Promise<ReceivedTransfer> {
    const frame = await this.frame((f) => f.descriptor === Performative.transfer && f.fields[0] === handle, `a transfer on handle ${handle}`, timeoutMs);
    this.deliveryCounts.set(handle, this.deliveryCounts.get(handle)! + 1);
    const sections = sectionsOf(frame.payload);
    const header = (sections.get(0x70) as unknown[] | undefined) ?? [];
    const data = sections.get(0x75) ?? sections.get(0x77);
    return {
      handle,
      deliveryId: frame.fields[1] as number,
      settled: frame.fields[4] === true,
      sections,
      body: Buffer.isBuffer(data) ? data.toString('utf8') : typeof data === 'string' ? data : '',
      deliveryCount: typeof header[4] === 'number' ? header[4] : 0,
    };
  }

  /** Asserts that nothing arrives on `handle` for `quietMs`. */
  async expectNothing(handle: number, quietMs = 300): Promise<void> {
    const got = await this.receive(handle, quietMs).catch(() => null);
    if (got) throw new Error(`expected nothing on handle ${handle}, got "${got.body}"`);
  }

  /** Settles a delivery the broker sent, with `state`. */
  acknowledge(deliveryId: number, state: Buffer, settled = true): void {
    this.connection.send(disposition({ role: true, first: deliveryId, settled, state }));
  }

  /** The detach the broker sends for our link `handle`, with its error. */
  async detachOf(handle: number): Promise<ErrorView | null> {
    const brokerHandle = this.brokerHandles.get(handle);
    const detach = await this.frame((f) => f.descriptor === Performative.detach && f.fields[0] === brokerHandle, `the detach of handle ${handle}`);
    const error = detach.fields[2] as Described | null | undefined;
    if (!error) return null;
    const [condition, description] = error.value as [string, string];
    return { condition, description };
  }

  private async attachReply(handle: number, name: string): Promise<Frame> {
    const reply = await this.frame((f) => f.descriptor === Performative.attach && f.fields[0] === name, `the attach reply for ${name}`);
    this.brokerHandles.set(handle, reply.fields[1] as number);
    return reply;
  }

  /** The next frame matching `predicate`; frames read meanwhile are kept for later. */
  async frame(predicate: (frame: Frame) => boolean, what: string, timeoutMs = 3000): Promise<Frame> {
    const index = this.stash.findIndex(predicate);
    if (index >= 0) return this.stash.splice(index, 1)[0]!;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const left = deadline - Date.now();
      const frame = await this.connection.next(Math.max(1, left)).catch((error: Error) => {
        throw new Error(`${error.message} (waiting for ${what})`);
      });
      if (isOutcome(frame)) {
        const last = (frame.fields[2] as number | null | undefined) ?? (frame.fields[1] as number);
        for (let id = frame.fields[1] as number; id <= last; id++) this.outcomes.set(id, { settled: frame.fields[3] === true, state: stateView(frame.fields[4]) });
        if (predicate(frame)) return frame;
        continue;
      }
      if (predicate(frame)) return frame;
      if (frame.descriptor === Performative.close || frame.descriptor === Performative.end) {
        throw new Error(`the broker ended the ${frame.descriptor === Performative.close ? 'connection' : 'session'}: ${JSON.stringify(frame.fields)}`);
      }
      this.stash.push(frame);
    }
  }
}

/** A disposition from the broker as receiver (role true): about deliveries this client sent. */
function isOutcome(frame: Frame): boolean {
  return frame.descriptor === Performative.disposition && frame.fields[0] === true;
}

function stateView(value: unknown): StateView | null {
  if (!(value instanceof Described)) return null;
  return { descriptor: value.descriptor as number, fields: (value.value as unknown[]) ?? [] };
}
