import { SERIAL_MODULUS } from '../serial-numbers';
import type { FrameBuffer } from './frame-buffer';

/** rhea's outgoing delivery record (session.js Outgoing.send). */
interface OutgoingDelivery {
  id: number;
  tag: Buffer;
  format: number;
  settled: boolean;
  remote_settled: boolean;
  next_to_send: number;
  data: Buffer[];
  link: {
    credit: number;
    delivery_count: number;
    local: { handle: number };
    has_credit(): boolean;
  };
}

/** rhea's per-session outgoing state (session.js Outgoing). */
export interface OutgoingInternals {
  next_pending_delivery: number;
  next_delivery_id: number;
  next_transfer_id: number;
  window: number;
  deliveries: { by_id(id: number): OutgoingDelivery | undefined };
  transfer_window(): number;
  process(): void;
}

const MAX_SHORT_TAG_BYTES = 255;
const SENT: Buffer[] = [];

/**
 * rhea builds a transfer performative object per frame (six typed field wrappers, a composite) and
 * then encodes it generically. Here the transfers rhea's `Outgoing.process` would write are encoded
 * straight into the connection's frame buffer first, with the same bookkeeping, in the same order and
 * under the same limits (link credit, the peer's incoming-window, AMQP 1.0 2.5.6); rhea's own process
 * then runs as before and finds those deliveries sent (it still reports outcomes and writes
 * dispositions). A delivery it must write itself (an unusual tag) stops this loop and is left to rhea.
 */
export function encodeTransfersDirectly(
  outgoing: OutgoingInternals,
  session: { local: { channel: number } },
  frames: FrameBuffer,
  requestOutput: () => void,
): void {
  const process = outgoing.process.bind(outgoing);
  outgoing.process = () => {
    if (sendPending(outgoing, session.local.channel, frames)) requestOutput();
    process();
  };
}

/** session.js Outgoing.process, transfer part; returns whether any frame was encoded. */
function sendPending(outgoing: OutgoingInternals, channel: number, frames: FrameBuffer): boolean {
  let wrote = false;
  while (outgoing.next_pending_delivery < outgoing.next_delivery_id) {
    const delivery = outgoing.deliveries.by_id(outgoing.next_pending_delivery);
    if (!delivery || delivery.tag.length > MAX_SHORT_TAG_BYTES || !delivery.link.has_credit()) break;
    const frameCount = Math.min(outgoing.transfer_window(), delivery.data.length - delivery.next_to_send);
    if (frameCount <= 0) break;
    outgoing.window -= frameCount;
    const endOfSend = delivery.next_to_send + frameCount;
    for (let i = delivery.next_to_send; i < endOfSend; i++) {
      outgoing.next_transfer_id++;
      frames.appendTransfer(
        channel,
        {
          handle: delivery.link.local.handle,
          deliveryId: delivery.id % SERIAL_MODULUS, // rhea counts on past 2^32; the wire wraps (2.8.8)
          deliveryTag: delivery.tag,
          messageFormat: delivery.format,
          settled: delivery.settled,
          more: i + 1 < delivery.data.length,
        },
        delivery.data[i]!,
      );
      wrote = true;
    }
    if (endOfSend < delivery.data.length) {
      delivery.next_to_send = endOfSend;
      break;
    }
    if (delivery.settled) delivery.remote_settled = true; // sent pre-settled: rhea may clean it up now
    // rhea keeps a delivery in the session's ring until every delivery before it is settled, payload
    // included: one message held unsettled would pin the payload of everything sent after it. Nothing
    // reads a sent payload again (AMQP has no retransmission), so it is released here.
    delivery.data = SENT;
    delivery.link.credit--;
    delivery.link.delivery_count++;
    outgoing.next_pending_delivery++;
  }
  return wrote;
}
