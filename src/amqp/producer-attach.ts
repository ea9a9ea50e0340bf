import type { EventContext, Receiver } from 'rhea';
import type { BrokerOptions } from '../config/options';
import type { BrokerRuntime } from '../broker/runtime';
import { NodeKindError } from '../broker/topics';
import { parseTargetAddress } from './address';
import { producerAttachReply, writeAttachReply, type ServedTerminus } from './attach-reply';
import { readAttachRequest, type AttachRequest } from './attach-request';
import { topicsNotClustered } from './cluster/unclustered-topics';
import type { ConnectionContext } from './connection-context';
import { openCoordinatorLink } from './coordinator-attach';
import { ProducerLink, type ProducerDestination } from './producer-link';
import { linkInternals } from './rhea';
import { checkDynamic, claimedNodeKind, servedCapabilities } from './served-termini';
import { temporaryQueueName } from './temporary-queues';
import { NotImplementedError, refuseLink } from './termini';

/**
 * A client sender attached (AMQP 1.0 2.6.3): the broker is the receiver. Its target names a queue or a
 * topic, is dynamic (a temporary queue, or with capability `temporary-topic` a temporary topic), or has
 * no address: the anonymous relay, each message routed by its `to`. A coordinator target makes it a
 * transaction controller's link instead (coordinator-attach.ts).
 */
export function openProducerLink(receiver: Receiver, context: ConnectionContext, runtime: BrokerRuntime, options: BrokerOptions): void {
  try {
    const request = readAttachRequest(receiver);
    if (request.coordinator) {
      openCoordinatorLink(receiver, request, context, runtime);
      return;
    }
    const { target, destination } = servedTarget(request, runtime);
    if (context.cluster && destination?.kind === 'topic') throw new NotImplementedError(topicsNotClustered(destination.address));
    context.access.checkProducer(target.address, target.dynamic);
    if (target.dynamic && destination?.kind === 'topic') createTemporaryTopic(receiver, context, runtime, destination.address);
    writeAttachReply(receiver, producerAttachReply(request, target));
    linkInternals(receiver).local.attach.max_message_size = options.maxMessageBytes;
    const link = new ProducerLink(
      receiver,
      destination,
      runtime,
      context.logger,
      options.producerCreditWindow,
      options.maxMessageBytes,
      { disk: options.diskFullPolicy, memory: options.memoryFullPolicy },
      context.access,
      context.transactions,
      context.queueProducers,
    );
    if (target.dynamic && destination?.kind === 'queue') context.temporaryQueues.own(receiver, target.address!);
    if (context.cluster) link.relayWith(context.cluster.producerRelay(context, link, target.address));
    context.producers.set(receiver, link);
    receiver.on('message', (ctx: EventContext) => {
      const raw = ctx as unknown as { message: Buffer; format?: number | null };
      link.onMessage(raw.message, raw.format, ctx.delivery!);
    });
    link.open();
    context.logger.info({ [destination?.kind ?? 'queue']: target.address ?? '(anonymous relay)', link: receiver.name }, 'producer attached');
  } catch (error) {
    refuseLink(receiver, error, context.logger);
  }
}

/**
 * The target the broker serves, and where its messages go. A target without an address, or no target
 * at all (rhea's `open_sender()`), is the anonymous relay (the connection offers ANONYMOUS-RELAY); the
 * reply then carries a target without an address, since a null target would mean the link was refused
 * (2.6.3).
 */
function servedTarget(request: AttachRequest, runtime: BrokerRuntime): { target: ServedTerminus; destination: ProducerDestination | null } {
  const target = request.target;
  if (!target) return { target: { address: null, dynamic: false, capabilities: [] }, destination: null };
  checkDynamic('target', target);
  const capabilities = servedCapabilities(target);
  const claim = claimedNodeKind('target', target);
  if (target.dynamic) {
    const address = temporaryQueueName();
    const kind = claim ?? 'queue';
    return { target: { address, dynamic: true, capabilities }, destination: { address, kind, temporary: kind === 'topic' } };
  }
  if (target.address === null || target.address === '') return { target: { address: null, dynamic: false, capabilities }, destination: null };
  const address = parseTargetAddress(target.address);
  const temporary = target.capabilities.includes('temporary-topic');
  if (temporary && !runtime.topics.isTemporary(address)) {
    throw new NodeKindError(`temporary topic "${address}" does not exist (a temporary topic is gone with the connection that created it)`);
  }
  const kind = runtime.topics.resolveKind(address, claim);
  return { target: { address, dynamic: false, capabilities }, destination: { address, kind, temporary } };
}

/**
 * A dynamic target with capability `temporary-topic` (Qpid JMS createTemporaryTopic): the topic lives
 * until its creating link closes (3.5.10 lifetime-policy delete-on-close, which Qpid JMS asks for) or
 * its connection does.
 */
function createTemporaryTopic(receiver: Receiver, context: ConnectionContext, runtime: BrokerRuntime, name: string): void {
  runtime.topics.declareTemporary(name, context.id);
  context.temporaryTopics.add(name);
  receiver.on('receiver_close', () => {
    context.producers.delete(receiver);
    context.temporaryTopics.delete(name);
    runtime.topics.deleteTemporary(name);
    context.logger.info({ topic: name, link: receiver.name }, 'temporary topic deleted');
  });
}
