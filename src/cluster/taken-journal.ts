import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Logger } from '../broker/logger';
import type { BrokerRuntime } from '../broker/runtime';
import type { StoredBody } from '../core/types';
import { JournalStore } from '../store/journal-store';

/** Messages copied per event-loop turn: the lease's keep-alives must go on during a large takeover. */
const MESSAGES_PER_TURN = 256;

/**
 * Copies the durable messages of a lost node's journal into this node's queues, in queue order, with
 * their delivery counts (raised for those that had left for a consumer, as after a crash): each one is
 * enqueued here, so it is written to this node's own journal. Empty queues are declared. Only durable
 * messages are in a journal: non-durable messages of a lost node are lost, as in every broker.
 */
export async function copyTakenJournal(
  dir: string,
  runtime: BrokerRuntime,
  logger: Logger,
  beforeEachTurn: () => void,
): Promise<{ queues: number; messages: number }> {
  const journal = new JournalStore({ dir, fsync: { mode: 'none' }, segmentBytes: 2 ** 31 - 1, logger, takeOverLock: true });
  let messages = 0;
  try {
    const recovered = journal.open(0);
    for (const queue of recovered.queues) {
      runtime.execute({ type: 'declare', queue: queue.name });
      for (const message of queue.messages) {
        const body = message.body instanceof Uint8Array ? message.body : journal.readBody(message.body as StoredBody);
        runtime.execute({ type: 'enqueue', queue: queue.name, meta: message.meta, body });
        if (++messages % MESSAGES_PER_TURN === 0) {
          await nextTurn();
          beforeEachTurn();
        }
      }
    }
    return { queues: recovered.queues.length, messages };
  } finally {
    journal.close();
  }
}
