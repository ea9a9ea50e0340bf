import type { Connection, Delivery, Receiver, Sender } from 'rhea';

/**
 * rhea fields that its typings do not declare but a broker has to read or set. Kept in one place so
 * that an upgrade of rhea has one file to check.
 */
export interface LinkInternals {
  local: { attach: Record<string, unknown> };
  remote: { attach?: Record<string, unknown> };
  /** Transfers actually written (AMQP 1.0 2.6.7 delivery-count, sender side). */
  delivery_count: number;
  credit: number;
  _draining?: boolean;
  _incomplete?: { frames?: Buffer[] };
}

export interface TransferFrame {
  channel: number;
  performative: { message_format?: number | null; more?: boolean; aborted?: boolean; handle: number; delivery_id?: number };
  payload?: Buffer;
}

export interface ConnectionInternals {
  input(chunk: Buffer): void;
  on_transfer(frame: TransferFrame): void;
  remote_channel_map: Record<number, { remote: { handles: Record<number, Receiver | Sender> } }>;
  local: { close: Record<string, unknown> };
  is_open(): boolean;
  _process(): void;
  socket?: { destroy(): void; end(): void };
}

export function linkInternals(link: Sender | Receiver): LinkInternals {
  return link as unknown as LinkInternals;
}

export function connectionInternals(connection: Connection): ConnectionInternals {
  return connection as unknown as ConnectionInternals;
}

/** Our bookkeeping carried on a rhea delivery. */
export interface DeliveryTag {
  convoyDeliveryId?: number;
  convoySettled?: boolean;
}

export function tagOf(delivery: Delivery): DeliveryTag {
  return delivery as unknown as DeliveryTag;
}

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
