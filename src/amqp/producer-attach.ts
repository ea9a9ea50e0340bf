import type { EventContext, Receiver } from 'rhea';
import type { BrokerOptions } from '../config/options';
import type { BrokerRuntime } from '../broker/runtime';
import { parseTargetAddress } from './address';
import { producerAttachReply, writeAttachReply, type ServedTerminus } from './attach-reply';
import { readAttachRequest, type AttachRequest } from './attach-request';
import type { ConnectionContext } from './connection-context';
import { ProducerLink } from './producer-link';
import { linkInternals } from './rhea';
import { checkDynamic, servedCapabilities } from './served-termini';
import { temporaryQueueName } from './temporary-queues';
import { refuseLink } from './termini';

/**
 * A client sender attached (AMQP 1.0 2.6.3): the broker is the receiver. Its target names the queue, is
 * dynamic (a temporary queue), or has no address: the anonymous relay, each message routed by its `to`.
 */
export function openProducerLink(receiver: Receiver, context: ConnectionContext, runtime: BrokerRuntime, options: BrokerOptions): void {
  try {
    const request = readAttachRequest(receiver);
    const target = servedTarget(request);
    context.access.checkProducer(target.address, target.dynamic);
    writeAttachReply(receiver, producerAttachReply(request, target));
    linkInternals(receiver).local.attach.max_message_size = options.maxMessageBytes;
    const link = new ProducerLink(
      receiver,
      target.address,
      runtime,
      context.logger,
      options.producerCreditWindow,
      options.maxMessageBytes,
      { disk: options.diskFullPolicy, memory: options.memoryFullPolicy },
      context.access,
      context.queueProducers,
    );
    if (target.dynamic) context.temporaryQueues.own(receiver, target.address!);
    context.producers.set(receiver, link);
    receiver.on('message', (ctx: EventContext) => {
      const raw = ctx as unknown as { message: Buffer; format?: number | null };
      link.onMessage(raw.message, raw.format, ctx.delivery!);
    });
    link.open();
    context.logger.info({ queue: target.address ?? '(anonymous relay)', link: receiver.name }, 'producer attached');
  } catch (error) {
    refuseLink(receiver, error, context.logger);
  }
}

/**
 * The target the broker serves. A target without an address, or no target at all (rhea's
 * `open_sender()`), is the anonymous relay (the connection offers ANONYMOUS-RELAY); the reply then
 * carries a target without an address, since a null target would mean the link was refused (2.6.3).
 */
function servedTarget(request: AttachRequest): ServedTerminus {
  const target = request.target;
  if (!target) return { address: null, dynamic: false, capabilities: [] };
  checkDynamic('target', target);
  const capabilities = servedCapabilities('target', target);
  if (target.dynamic) return { address: temporaryQueueName(), dynamic: true, capabilities };
  const address = target.address === null || target.address === '' ? null : parseTargetAddress(target.address);
  return { address, dynamic: false, capabilities };
}
