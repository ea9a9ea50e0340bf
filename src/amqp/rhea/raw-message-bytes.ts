import type { Connection, Receiver } from 'rhea';
import { connectionInternals, type TransferFrame } from './internals';

/** Told of every transfer frame on an incoming link, before rhea assembles the message. */
export type TransferFrameListener = (receiver: Receiver, payloadBytes: number, more: boolean, aborted: boolean) => void;

/**
 * rhea decodes every format-0 message, and re-encoding it would change AMQP types. A transfer whose
 * message-format is null reaches the 'message' event as the raw bytes; null means 0 (AMQP 1.0 2.7.5).
 * The listener sees each frame first (message size limits, aborted transfers).
 */
export function deliverRawBytes(connection: Connection, onTransferFrame: TransferFrameListener): void {
  const internals = connectionInternals(connection);
  const onTransfer = internals.on_transfer.bind(connection);
  internals.on_transfer = (frame: TransferFrame) => {
    const performative = frame.performative;
    if (performative.message_format === 0) performative.message_format = null;
    const session = internals.remote_channel_map[frame.channel];
    const link = session?.remote.handles[performative.handle];
    if (link && link.is_receiver()) {
      onTransferFrame(link as Receiver, frame.payload?.length ?? 0, performative.more === true, performative.aborted === true);
    }
    onTransfer(frame);
  };
}
