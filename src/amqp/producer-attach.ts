import type { EventContext, Receiver } from 'rhea';
import type { BrokerOptions } from '../config/options';
import type { BrokerRuntime } from '../broker/runtime';
import { parseTargetAddress } from './address';
import type { ConnectionContext } from './connection-context';
import { ProducerLink } from './producer-link';
import { linkInternals } from './rhea';
import { refuseLink, setTerminus, temporaryQueueName } from './termini';

/**
 * A client sender attached (AMQP 1.0 2.6.3): the broker is the receiver. Its target names the queue, is
 * dynamic (a temporary queue), or is null for the anonymous relay (each message routed by its `to`).
 */
export function openProducerLink(receiver: Receiver, context: ConnectionContext, runtime: BrokerRuntime, options: BrokerOptions): void {
  try {
    const internals = linkInternals(receiver);
    const target = internals.remote.attach?.target as { address?: string | null; dynamic?: boolean } | null | undefined;
    let queue: string | null = null;
    if (target?.dynamic) {
      queue = temporaryQueueName();
      setTerminus(receiver, 'target', { ...target, address: queue });
    } else {
      if (target && typeof target.address === 'string' && target.address !== '') queue = parseTargetAddress(target.address);
      setTerminus(receiver, 'target', target);
    }
    setTerminus(receiver, 'source', internals.remote.attach?.source);
    internals.local.attach.rcv_settle_mode = 0;
    internals.local.attach.max_message_size = options.maxMessageBytes;
    const link = new ProducerLink(
      receiver,
      queue,
      runtime,
      context.logger,
      options.producerCreditWindow,
      options.maxMessageBytes,
      options.diskFullPolicy === 'block',
    );
    context.producers.set(receiver, link);
    receiver.on('message', (ctx: EventContext) => {
      const raw = ctx as unknown as { message: Buffer; format?: number | null };
      link.onMessage(raw.message, raw.format, ctx.delivery!);
    });
    link.open();
    context.logger.info({ queue: queue ?? '(anonymous relay)', link: receiver.name }, 'producer attached');
  } catch (error) {
    refuseLink(receiver, error, context.logger);
  }
}
