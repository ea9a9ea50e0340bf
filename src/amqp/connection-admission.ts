import type { AmqpError } from './conditions';
import { Condition } from './conditions';

export interface ConnectionLimits {
  readonly maxConnections: number;
  readonly maxConnectionsPerAddress: number;
}

/**
 * Connections beyond a limit are still answered, so that the client reads why (an open answered by a
 * close with amqp:resource-limit-exceeded) instead of a reset socket; this many such answers may be
 * under way at once, and sockets beyond them are closed at once. Each lasts at most handshakeTimeoutMs.
 */
export const REFUSALS_UNDER_WAY_MAX = 64;

/** A socket let in: its refusal (null: within the limits), and the release to call once it closes. */
export interface Admission {
  readonly refusal: AmqpError | null;
  release(): void;
}

/**
 * Counts connections from the moment their socket is accepted, handshaking ones included, in total and
 * per client IP address (maxConnections, maxConnectionsPerAddress), so that sockets that never finish
 * their handshake are bounded too.
 */
export class ConnectionAdmission {
  private open = 0;
  private readonly byAddress = new Map<string, number>();
  private refusalsUnderWay = 0;

  constructor(private readonly limits: ConnectionLimits) {}

  /** Counts a new socket; null when it is to be closed at once. */
  admit(address: string): Admission | null {
    const fromAddress = this.byAddress.get(address) ?? 0;
    const refusal = this.refusalFor(address, fromAddress);
    if (refusal !== null) {
      if (this.refusalsUnderWay >= REFUSALS_UNDER_WAY_MAX) return null;
      this.refusalsUnderWay++;
      return { refusal, release: once(() => this.refusalsUnderWay--) };
    }
    this.open++;
    this.byAddress.set(address, fromAddress + 1);
    return {
      refusal: null,
      release: once(() => {
        this.open--;
        const left = (this.byAddress.get(address) ?? 1) - 1;
        if (left > 0) this.byAddress.set(address, left);
        else this.byAddress.delete(address);
      }),
    };
  }

  /** Connections counted now (within the limits); for operators and tests. */
  get connections(): number {
    return this.open;
  }

  private refusalFor(address: string, fromAddress: number): AmqpError | null {
    if (this.open >= this.limits.maxConnections) {
      return { condition: Condition.resourceLimitExceeded, description: `the broker has ${this.open} connections (maxConnections)` };
    }
    if (fromAddress >= this.limits.maxConnectionsPerAddress) {
      return { condition: Condition.resourceLimitExceeded, description: `${fromAddress} connections from ${address} already (maxConnectionsPerAddress)` };
    }
    return null;
  }
}

function once(action: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    action();
  };
}
