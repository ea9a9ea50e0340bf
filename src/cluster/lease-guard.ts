import { performance } from 'node:perf_hooks';

/** Thrown instead of a write once the node is fenced (when fencing did not end the process). */
export class FencedError extends Error {}

/** What the window keeps to spare: a tenth of the TTL, at least this. */
const MIN_MARGIN_MS = 500;

/**
 * Self-fencing by the local monotonic clock (README, "Cluster: fencing").
 *
 * etcd ends a lease no earlier than its TTL after its leader processed the last keep-alive (a new leader
 * only extends leases), and that is after this node sent it. So while less than the TTL has passed since
 * the sending of the last keep-alive etcd answered, the lease certainly holds, and no other node can have
 * taken this node's queues over. This node serves only inside that window, with a tenth of the TTL (at
 * least 500 ms) to spare for clock rate differences and for the turn already under way when a check
 * passed: `valid()` turns false at TTL - margin after that send. The clock is monotonic (it runs on
 * while the process is paused by SIGSTOP, and NTP does not move it), so a node resumed after a pause
 * sees at once that its window has closed.
 *
 * Once closed it never opens again: the node is fenced and `onFenced` runs (the broker exits; a
 * supervisor starts it again as a new member).
 */
export class LeaseGuard {
  private deadlineMs = -Infinity;
  private fenced = false;
  /** How long after the send of an acknowledged keep-alive this node may still serve. */
  readonly windowMs: number;

  constructor(
    ttlMs: number,
    private readonly onFenced: (reason: string) => void,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.windowMs = ttlMs - Math.max(MIN_MARGIN_MS, ttlMs / 10);
  }

  /** The window in which the lease certainly holds, after a keep-alive (or grant) sent at `sentAtMs`. */
  renewed(sentAtMs: number): void {
    if (this.fenced) return;
    this.deadlineMs = Math.max(this.deadlineMs, sentAtMs + this.windowMs);
  }

  /** Milliseconds on the monotonic clock, to stamp keep-alives with. */
  clock(): number {
    return this.now();
  }

  valid(): boolean {
    return !this.fenced && this.now() < this.deadlineMs;
  }

  /**
   * Before anything this node writes for the queues it serves: fences the node if the window has closed,
   * and throws, so that the write does not happen.
   */
  check(): void {
    if (this.fenceIfExpired()) throw new FencedError('this node is fenced: its etcd lease may have ended');
  }

  /** Fences the node if the window has closed (a timer asks, so that an idle node fences too); true when fenced. */
  fenceIfExpired(): boolean {
    if (this.valid()) return false;
    const sinceMs = Math.round(this.now() - (this.deadlineMs - this.windowMs));
    this.fence(`the etcd lease may have ended: the last keep-alive etcd acknowledged was sent ${sinceMs} ms ago`);
    return true;
  }

  /** The lease is certainly gone (etcd said so): fence now. */
  fence(reason: string): void {
    if (this.fenced) return;
    this.fenced = true;
    this.onFenced(reason);
  }

  get isFenced(): boolean {
    return this.fenced;
  }
}
