import type { Socket } from 'node:net';

/**
 * maxOutputBytesPerConnection: bytes written to a connection's socket that the client has not read yet.
 * A client that grants credit and does not read (a greedy consumer, a stalled one) would otherwise have
 * the broker move messages into that socket's buffer without end, settled ones included, which the
 * message memory no longer counts. Above the limit the connection's consumers get no credit in the
 * dispatch core (AMQP 1.0 2.6.7 allows the sender to send less than the credit) until the socket has
 * drained.
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
