import type { Socket } from 'node:net';
import type { Logger } from '../broker/logger';

/**
 * handshakeTimeoutMs: from the accepted socket to the client's AMQP open (protocol headers, SASL, open;
 * AMQP 1.0 2.4.1, 5.3). The idle timeout only counts silence, so a client trickling its header one byte
 * a second would otherwise hold its connection for ever. No AMQP frame can carry a reason before the
 * open, so the socket is closed; the log says why.
 */
export class HandshakeTimer {
  private deadlineMs: number;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly socket: Socket,
    private readonly timeoutMs: number,
    private readonly logger: Logger,
  ) {
    this.deadlineMs = Date.now() + timeoutMs;
    this.schedule();
  }

  /** The open arrived in time. */
  opened(): void {
    this.stop();
  }

  /** The broker itself makes the client wait this long (the login throttle): the deadline moves with it. */
  extend(waitMs: number): void {
    if (this.timer === null) return;
    this.deadlineMs += waitMs;
    this.schedule();
  }

  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.expire(), Math.max(0, this.deadlineMs - Date.now()));
    this.timer.unref();
  }

  private expire(): void {
    this.timer = null;
    this.logger.warn({ handshakeTimeoutMs: this.timeoutMs }, 'closing connection: no AMQP open within handshakeTimeoutMs');
    this.socket.destroy();
  }
}
