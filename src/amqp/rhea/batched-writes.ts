import type { Socket } from 'node:net';
import type { Connection } from 'rhea';
import { FrameBuffer } from './frame-buffer';
import { connectionInternals } from './internals';

/** The broker's turn (src/broker/turn.ts) as a connection sees it: frames go out in its network step. */
export interface NetworkTurn {
  /** `flush` runs in the network step of the current turn, after the store step. */
  requestNetworkFlush(flush: () => void): void;
  /** Ends the turn now, both steps, for output that cannot wait (a socket about to be ended). */
  runNow(): void;
}

export interface BatchedOutput {
  /** The connection's frame buffer, for frames encoded without rhea (see transfer-encoding.ts). */
  readonly frames: FrameBuffer;
  /** Asks for this connection's frames to be written in the network step of the current turn. */
  requestOutput(): void;
}

/**
 * rhea calls `output()` after every frame it queues, and each call writes that one frame to the socket:
 * a system call per transfer, flow and disposition, plus a heartbeat timer cleared and set again each
 * time. On one connection here, frames are encoded into a shared buffer as rhea queues them
 * (FrameBuffer), `output()` only asks the broker's turn for a flush, and the turn's network step writes
 * them in one call, after its store step. Frames keep the order rhea queued them in; only the moment
 * they reach the socket moves, never past the turn.
 */
export function batchSocketWrites(connection: Connection, socket: Socket, turn: NetworkTurn): BatchedOutput {
  const internals = connectionInternals(connection);
  const transport = internals.amqp_transport;
  const frames = new FrameBuffer();
  const output = internals.output.bind(connection);
  const writeHeader = transport.write.bind(transport);
  let scheduled = false;

  internals._write_frame = (channel, performative, payload) => {
    frames.append(channel ?? 0, performative, payload);
    internals.output();
  };
  transport.has_writes_pending = () => !frames.isEmpty || !transport.header_sent;
  transport.write = (target) => {
    writeHeader(target); // rhea's own write: the protocol header if not yet sent (2.2); it has no frames queued
    frames.writeTo(target as Socket);
  };

  const flush = (): void => {
    if (!scheduled) return;
    scheduled = false;
    socket.cork();
    try {
      // While SASL frames are pending, rhea's SASL layer writes only those (AMQP 1.0 5.3.2). A client
      // that pipelines its AMQP header and open behind the SASL exchange has AMQP frames queued in the
      // same turn: a second pass writes them, as rhea's own next output() call would have.
      for (let pass = 0; pass < 2; pass++) {
        output();
        if (frames.isEmpty) break;
      }
    } finally {
      socket.uncork();
    }
  };

  const requestOutput = (): void => {
    if (scheduled) return;
    scheduled = true;
    turn.requestNetworkFlush(flush);
  };
  internals.output = requestOutput;

  // rhea ends the socket itself right after queueing a last frame (SASL failure, a protocol error
  // answered with a close): that frame must go out first, as it did when every frame was written at once.
  const end = socket.end.bind(socket);
  socket.end = ((...args: Parameters<Socket['end']>) => {
    turn.runNow();
    flush();
    return end(...args);
  }) as Socket['end'];
  return { frames, requestOutput };
}
