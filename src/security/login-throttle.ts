/**
 * Slows down password guessing from one address (README, "Securing Convoy"): after a failed login,
 * every login attempt from that address waits its turn. Turns are spaced by a delay that starts at
 * `failedLoginDelayMs` and doubles with each further failure up to `maxFailedLoginDelayMs`, and
 * attempts from one address are answered one per delay, however many connections it opens. An
 * attempt that would wait longer than `maxFailedLoginDelayMs` is refused without being checked.
 * A successful login, or `maxFailedLoginDelayMs` without a failure, forgets the address.
 *
 * Pure bookkeeping: the caller passes the time and performs the wait.
 */
export interface LoginThrottleOptions {
  readonly failedLoginDelayMs: number;
  readonly maxFailedLoginDelayMs: number;
  /** Addresses remembered at once; the one that failed longest ago is forgotten first. */
  readonly maxTrackedAddresses: number;
}

export type Admission = { readonly check: true; readonly waitMs: number } | { readonly check: false };

interface AddressRecord {
  failures: number;
  lastFailureAtMs: number;
  /** The earliest time the next attempt may be checked. */
  nextTurnAtMs: number;
}

export const DEFAULT_MAX_TRACKED_ADDRESSES = 10_000;

export class LoginThrottle {
  private readonly records = new Map<string, AddressRecord>();

  constructor(private readonly options: LoginThrottleOptions) {}

  /** A login attempt from `address` starts: check it after `waitMs`, or refuse it unchecked. */
  admit(address: string, nowMs: number): Admission {
    const record = this.records.get(address);
    if (!record) return { check: true, waitMs: 0 };
    if (nowMs - record.lastFailureAtMs >= this.options.maxFailedLoginDelayMs && nowMs >= record.nextTurnAtMs) {
      this.records.delete(address);
      return { check: true, waitMs: 0 };
    }
    const turnAtMs = Math.max(nowMs, record.nextTurnAtMs);
    if (turnAtMs - nowMs > this.options.maxFailedLoginDelayMs) return { check: false };
    record.nextTurnAtMs = turnAtMs + this.delayAfter(record.failures);
    return { check: true, waitMs: turnAtMs - nowMs };
  }

  failed(address: string, nowMs: number): void {
    if (this.options.failedLoginDelayMs === 0) return;
    const record = this.records.get(address) ?? { failures: 0, lastFailureAtMs: nowMs, nextTurnAtMs: nowMs };
    record.failures++;
    record.lastFailureAtMs = nowMs;
    record.nextTurnAtMs = Math.max(record.nextTurnAtMs, nowMs + this.delayAfter(record.failures));
    // Re-inserted at the end: the map's order is the order of last failures, oldest first.
    this.records.delete(address);
    this.records.set(address, record);
    if (this.records.size > this.options.maxTrackedAddresses) this.records.delete(this.records.keys().next().value!);
  }

  succeeded(address: string): void {
    this.records.delete(address);
  }

  /** Failures remembered for `address` (for logs). */
  failuresOf(address: string): number {
    return this.records.get(address)?.failures ?? 0;
  }

  private delayAfter(failures: number): number {
    const { failedLoginDelayMs, maxFailedLoginDelayMs } = this.options;
    return Math.min(failedLoginDelayMs * 2 ** Math.min(failures - 1, 30), maxFailedLoginDelayMs);
  }
}
