import type { EventContext, Receiver } from 'rhea';
import type { BrokerRuntime } from '../broker/runtime';
import { producerAttachReply, writeAttachReply } from './attach-reply';
import type { AttachRequest } from './attach-request';
import type { ConnectionContext } from './connection-context';
import { CoordinatorLink, MAX_CONTROL_MESSAGE_BYTES } from './coordinator-link';
import { linkInternals } from './rhea';
import { COORDINATOR_CAPABILITIES, coordinatorTerminus } from './transaction-types';

/** 3.5.3 outcomes: the descriptor of rejected, which a failed declare or discharge is answered with. */
const REJECTED_OUTCOME = 'amqp:rejected:list';

/**
 * A client sender whose target is a coordinator (AMQP 1.0 4.2): a transaction controller. The reply
 * echoes the client's source, as for any producer, and carries the broker's coordinator with every
 * capability it has (4.5.1: the controller checks that they meet its needs).
 */
export function openCoordinatorLink(receiver: Receiver, request: AttachRequest, context: ConnectionContext, runtime: BrokerRuntime): void {
  writeAttachReply(receiver, producerAttachReply(request, { address: null, dynamic: false, capabilities: [] }));
  const local = linkInternals(receiver).local.attach;
  local.target = coordinatorTerminus(COORDINATOR_CAPABILITIES);
  local.max_message_size = MAX_CONTROL_MESSAGE_BYTES;
  const outcomes = request.source?.outcomes ?? [];
  const link = new CoordinatorLink(receiver, context.transactions, runtime, context.logger, outcomes.length === 0 || outcomes.includes(REJECTED_OUTCOME));
  context.coordinators.set(receiver, link);
  receiver.on('message', (ctx: EventContext) => {
    const raw = ctx as unknown as { message: Buffer; format?: number | null };
    link.onMessage(raw.message, raw.format, ctx.delivery!);
  });
  link.open();
  context.logger.info({ link: receiver.name, capabilities: request.coordinator!.capabilities }, 'transaction coordinator attached');
}
