import type { Connection, EventContext, Sender } from 'rhea';
import type { Outcome } from '../core/types';
import type { BrokerRuntime } from '../broker/runtime';
import { AddressError, parsePriority, parseSourceAddress } from './address';
import { adminSnapshot, isAdminAddress, serveAdminLink } from './admin-link';
import { describeClient, type ConnectionContext } from './connection-context';
import { ConsumerLink, outcomeOf } from './consumer-link';
import { connectionInternals, linkInternals } from './rhea';
import { refuseLink, setTerminus, temporaryQueueName } from './termini';

const DEFAULT_OUTCOME_ACCEPTED: Outcome = { type: 'accepted' };
const OUTCOME_EVENTS = ['accepted', 'released', 'rejected', 'modified', 'settled'] as const;

/**
 * A client receiver attached (AMQP 1.0 2.6.3): the broker is the sender. Its source names a queue to
 * consume from, or an operator view (`$convoy/...`).
 */
export function openConsumerLink(sender: Sender, connection: Connection, context: ConnectionContext, runtime: BrokerRuntime): void {
  try {
    const internals = linkInternals(sender);
    const requested = (internals.remote.attach?.source as { address?: unknown } | null | undefined)?.address;
    if (isAdminAddress(requested)) {
      const snapshot = adminSnapshot(runtime, requested);
      setTerminus(sender, 'source', internals.remote.attach?.source);
      setTerminus(sender, 'target', internals.remote.attach?.target);
      serveAdminLink(sender, snapshot);
      return;
    }
    const { queue, exclusive, priority, source } = consumerTerms(sender);
    setTerminus(sender, 'source', sourceReply(source));
    setTerminus(sender, 'target', internals.remote.attach?.target);
    internals.local.attach.snd_settle_mode = internals.remote.attach?.snd_settle_mode ?? 2;
    internals.local.attach.rcv_settle_mode = 0;
    const consumerId = context.newConsumerId();
    const link = new ConsumerLink(consumerId, sender, runtime, context.logger, defaultOutcomeOf(source));
    context.consumers.set(sender, link);
    listenToConsumerLink(sender, link);
    // Write the attach reply now: a flow that came in the same read may make the core deliver at
    // once, and rhea writes a session's transfers before its link attaches (AMQP 1.0 2.6.3 order).
    connectionInternals(connection)._process();
    runtime.attachConsumer(
      { type: 'attach', consumerId, queue, priority, exclusive, settleOnSend: link.settleOnSend },
      link,
      `${describeClient(context, connection.container_id)} link ${sender.name}`,
    );
    link.onFlow();
    context.logger.info({ consumer: consumerId, queue, exclusive, priority, link: sender.name }, 'consumer attached');
  } catch (error) {
    refuseLink(sender, error, context.logger);
  }
}

/**
 * The per-message events go to listeners on the link itself: rhea then stops there instead of passing
 * each event up through session, connection and container (a measurable share of broker CPU).
 */
function listenToConsumerLink(sender: Sender, link: ConsumerLink): void {
  sender.on('sendable', () => link.onFlow());
  // 'sendable' covers flows that grant credit; this covers flows that only drain or take credit away.
  sender.on('sender_flow', () => {
    if (!sender.sendable()) link.onFlow();
  });
  for (const event of OUTCOME_EVENTS) sender.on(event, (ctx: EventContext) => link.onOutcome(ctx.delivery!));
}

interface ConsumerTerms {
  readonly queue: string;
  readonly exclusive: boolean;
  readonly priority: number;
  readonly source: Record<string, unknown>;
}

/** Queue and consumer options from the attach: address options, overridden by link properties. */
function consumerTerms(sender: Sender): ConsumerTerms {
  const attach = linkInternals(sender).remote.attach ?? {};
  const source = attach.source as Record<string, unknown> | null | undefined;
  if (!source) throw new AddressError('a consumer link needs a source naming the queue');
  let address = source.address;
  if (source.dynamic === true) address = temporaryQueueName();
  if (typeof address !== 'string' || address === '') throw new AddressError('the source address names no queue');
  const parsed = parseSourceAddress(address);
  const properties = (attach.properties ?? {}) as Record<string, unknown>;
  let exclusive = parsed.options.exclusive ?? false;
  if (properties.exclusive !== undefined) {
    if (typeof properties.exclusive !== 'boolean') throw new AddressError('link property exclusive must be a boolean');
    exclusive = properties.exclusive;
  }
  let priority = parsed.options.priority ?? 0;
  if (properties.priority !== undefined) priority = parsePriority('link property priority', properties.priority);
  return { queue: parsed.queue, exclusive, priority, source: source.dynamic === true ? { ...source, address } : source };
}

/**
 * The attach reply echoes the source the client sent, address unchanged (Qpid Proton's blocking
 * receiver compares it). Filters are left out: we apply none, and a client must be able to see that.
 */
function sourceReply(source: Record<string, unknown>): Record<string, unknown> {
  const { filter: _filter, ...rest } = source;
  return rest;
}

function defaultOutcomeOf(source: Record<string, unknown>): Outcome {
  return source.default_outcome ? outcomeOf(source.default_outcome, DEFAULT_OUTCOME_ACCEPTED) : DEFAULT_OUTCOME_ACCEPTED;
}
