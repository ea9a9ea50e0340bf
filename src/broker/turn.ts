/** What the turn's store step does: write what this turn recorded, and start the fsync it needs. */
export interface StoreStep {
  flush(): void;
}

/**
 * The order of one broker turn.
 *
 * A turn is everything Node's event loop hands the broker in one round: socket reads, timers, fsync
 * completions. While it runs, commands are applied to the dispatch core one at a time and their effects
 * carried out: messages are queued, records for the store are buffered, frames for the network are
 * encoded (src/amqp/rhea/batched-writes.ts). Nothing reaches the disk or a socket yet. Then, once per
 * turn, after every callback of the round has run (setImmediate):
 *
 *   1. store:   the records of the turn are written to the journal in one write, and the fdatasync
 *               that the fsync policy asks for is started (group commit; producers whose durable
 *               messages it covers are accepted when it completes, in a later turn);
 *   2. network: every connection with frames encoded in the turn writes them, one write each.
 *
 * So a transfer never leaves before the record that it left (delivery-count after a crash) is in the
 * file, and the store sees a turn's records as one batch. A step that runs late (a socket about to be
 * ended by rhea) runs both steps at once, in the same order (`runNow`).
 */
export class BrokerTurn {
  private scheduled = false;
  private networkFlushes: (() => void)[] = [];
  private guard: (() => void) | null = null;

  constructor(private readonly store: StoreStep) {}

  /**
   * Runs `guard` before each turn's store and network steps; it throws to write nothing. A cluster node
   * checks there that its lease still holds (README, "Cluster: fencing").
   */
  guardWith(guard: () => void): void {
    this.guard = guard;
  }

  /** Asks for the end of this turn: store, then network. */
  request(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.runNow());
  }

  /** A connection has frames to write; they go out in the network step of this turn. */
  requestNetworkFlush(flush: () => void): void {
    this.networkFlushes.push(flush);
    this.request();
  }

  runNow(): void {
    this.scheduled = false;
    this.guard?.();
    this.store.flush();
    const flushes = this.networkFlushes;
    this.networkFlushes = [];
    for (const flush of flushes) flush();
  }
}
