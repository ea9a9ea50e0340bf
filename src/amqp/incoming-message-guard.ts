import type { Delivery, Receiver } from 'rhea';
import { Condition } from './conditions';
import { linkInternals } from './rhea';

/**
 * Watches the transfer frames of one link the broker receives on, before rhea assembles them: an aborted
 * delivery (AMQP 1.0 2.7.5 transfer.aborted) is discarded, and one larger than the link's limit closes
 * the link with amqp:link:message-size-exceeded, keeping none of its bytes.
 */
export class IncomingMessageGuard {
  /** The message being received was aborted: discard it. */
  private aborted = false;
  /** The message being received is over the limit: the link is being closed. */
  private oversized = false;
  private bytesOfCurrentMessage = 0;

  constructor(
    private readonly receiver: Receiver,
    private readonly maxMessageBytes: number,
    /** Names the limit in the detach's description, e.g. `maxMessageBytes`. */
    private readonly limitName: string,
  ) {}

  /** Called for every transfer frame on the link, before rhea assembles it. */
  onTransferFrame(payloadBytes: number, more: boolean, aborted: boolean): void {
    if (aborted) this.aborted = true;
    this.bytesOfCurrentMessage += payloadBytes;
    if (!this.oversized && this.bytesOfCurrentMessage > this.maxMessageBytes) {
      this.oversized = true;
      this.receiver.close({
        condition: Condition.messageSizeExceeded,
        description: `message exceeds ${this.limitName} (${this.maxMessageBytes} bytes)`,
      });
    }
    if (this.oversized) {
      // Keep nothing of a message we will refuse.
      const incomplete = linkInternals(this.receiver)._incomplete;
      if (incomplete?.frames) incomplete.frames.length = 0;
    }
    if (!more) this.bytesOfCurrentMessage = 0;
  }

  /** False while the message being received is over the limit: its frames are not kept. */
  get keepsFrames(): boolean {
    return !this.oversized;
  }

  /** True when the delivery just assembled is to be dropped (aborted, or over the limit); it is settled then. */
  discards(delivery: Delivery): boolean {
    if (!this.aborted && !this.oversized) return false;
    this.aborted = false;
    if (!delivery.remote_settled) delivery.update(true);
    return true;
  }
}
