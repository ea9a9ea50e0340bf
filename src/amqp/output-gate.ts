import type { Socket } from 'node:net';

/**
 * maxOutputBytesPerConnection: bytes written to a connection's socket that the client has not read yet.
 * A client that grants credit and does not read (a greedy consumer, a stalled one) would otherwise have
 * the broker move messages into that socket's buffer without end, settled ones included, which the
 * message memory no longer counts. A consumer gets credit in the dispatch core only for as many
 * deliveries as fit below the limit (AMQP 1.0 2.6.7 allows the sender to send less than the credit),
 * and none above it until the socket has drained. A turn's deliveries reach the socket after the
 * consumer has asked again, so the backlog may pass the limit by one such share: at most twice it.
 */
export class OutputGate {
  private readonly waiting = new Set<() => void>();

  constructor(
    private readonly socket: Socket,
    private readonly maxBytes: number,
  ) {
    socket.on('drain', () => this.drained());
  }

  /** Deliveries may go out. */
  get open(): boolean {
    return this.socket.writableLength < this.maxBytes;
  }

  /** How many deliveries of about `deliveryBytes` each fit below the limit now; at least 1 while open. */
  deliveriesThatFit(deliveryBytes: number): number {
    const room = this.maxBytes - this.socket.writableLength;
    return room <= 0 ? 0 : Math.max(1, Math.floor(room / deliveryBytes));
  }

  /** Calls back once when the socket has drained. */
  whenOpen(callback: () => void): void {
    this.waiting.add(callback);
  }

  private drained(): void {
    if (this.waiting.size === 0) return;
    const callbacks = [...this.waiting];
    this.waiting.clear();
    for (const callback of callbacks) callback();
  }
}
