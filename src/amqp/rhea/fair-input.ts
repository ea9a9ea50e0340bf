import type { Socket } from 'node:net';
import type { Connection } from 'rhea';
import { connectionInternals } from './internals';

/** Bytes handed to rhea at a time; rhea keeps a frame cut between two slices until it is whole. */
const SLICE_BYTES = 4096;
/** Work one connection's input may take in one turn before the other connections get theirs. */
const TURN_BUDGET_MS = 5;

/**
 * rhea reads every frame of a socket read before it returns, and a read brings up to 64 KiB: of
 * transfers that is a millisecond of work, of attaches (a few hundred, each creating a link and its
 * reply) hundreds of milliseconds, during which no other client is served. Here a read is handed to
 * rhea in slices; once a connection has used its budget for the turn, the rest of the read waits for the
 * next turn and its socket stops reading (TCP holds the client back), so one client's flood of
 * expensive frames delays the others by a few milliseconds, not by the whole flood.
 */
export function shareInputFairly(connection: Connection, socket: Socket): void {
  const internals = connectionInternals(connection);
  const input = internals.input.bind(connection);
  let waiting: Buffer | null = null;

  const feed = (chunk: Buffer): void => {
    const started = performance.now();
    for (let offset = 0; offset < chunk.length; ) {
      const end = Math.min(chunk.length, offset + SLICE_BYTES);
      input(chunk.subarray(offset, end));
      offset = end;
      if (offset < chunk.length && performance.now() - started > TURN_BUDGET_MS) {
        waiting = chunk.subarray(offset);
        socket.pause();
        setImmediate(resume);
        return;
      }
    }
  };

  const resume = (): void => {
    const rest = waiting!;
    waiting = null;
    if (socket.destroyed) return;
    feed(rest);
    if (waiting === null) socket.resume();
  };

  const fairInput = (chunk: Buffer): void => {
    // Data already read when the socket was paused: it queues behind what waits.
    if (waiting !== null) waiting = Buffer.concat([waiting, chunk]);
    else feed(chunk);
  };
  internals.input = fairInput;
}
