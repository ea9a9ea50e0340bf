import type { Sender } from 'rhea';
import type { LinkInternals } from './internals';

/**
 * AMQP 1.0 2.6.7: a sender asked to drain advances delivery-count by its remaining credit and sends its
 * flow state, drain flag set. rhea skips that flow when transfers already used the credit up, and
 * clients (rhea, Qpid JMS) wait for it, so every answered drain here writes the flow.
 */
export function answerDrainWithFlow(sender: Sender): void {
  const link = sender as unknown as LinkInternals & { _drained: boolean; _get_drain(): boolean };
  link._get_drain = () => {
    if (!link._draining || !link._drained) return false;
    link.delivery_count += link.credit;
    link.credit = 0;
    link._draining = false;
    return true;
  };
}
