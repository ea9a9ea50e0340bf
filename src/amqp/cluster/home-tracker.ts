import type { ClusterServices, LinkPurpose, QueueHome } from '../../broker/cluster-services';

/** After a failed attempt to reach a queue's home, the next one waits this long, doubling up to the cap. */
const RETRY_FIRST_MS = 100;
const RETRY_MAX_MS = 2000;

/**
 * Where one link's queue is served, followed for that link. `look` asks the cluster and hands the answer
 * over; while the answer is "waiting", or after a failure to reach the home (`retryLater`), it looks again
 * as soon as etcd says something changed about the queue, and after a failure also after a pause
 * (doubling, up to 2 s).
 */
export class HomeTracker {
  private unsubscribe: (() => void) | null = null;
  private timer: NodeJS.Timeout | null = null;
  private failures = 0;
  private stopped = false;

  constructor(
    private readonly cluster: ClusterServices,
    private readonly queue: string,
    private readonly purpose: LinkPurpose,
    private readonly onHome: (home: QueueHome) => void,
  ) {}

  look(): void {
    if (this.stopped) return;
    this.clear();
    const home = this.cluster.homeOf(this.queue, this.purpose);
    if (home.kind === 'waiting') this.unsubscribe = this.cluster.subscribe(this.queue, () => this.look());
    this.onHome(home);
  }

  /** The home was reached: the next failure waits the shortest pause again. */
  reached(): void {
    this.failures = 0;
  }

  retryLater(): void {
    if (this.stopped) return;
    this.clear();
    this.timer = setTimeout(() => this.look(), Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** this.failures++));
    this.timer.unref();
    this.unsubscribe = this.cluster.subscribe(this.queue, () => this.look());
  }

  stop(): void {
    this.stopped = true;
    this.clear();
  }

  private clear(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}
