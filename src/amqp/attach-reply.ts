import type { Receiver, Sender } from 'rhea';
import type { Outcome } from '../core/types';
import type { AttachRequest, RequestedTerminus } from './attach-request';
import { linkInternals, rheaOutcomes } from './rhea';
import { DISTRIBUTION_MODE_MOVE } from './served-termini';
import { appliedFilterSet, type SourceSelector } from './source-filters';

/**
 * The broker's attach (AMQP 1.0 2.6.3, 2.7.3), built from scratch out of plain values: never from a
 * terminus rhea decoded, which rhea's set_source / set_target would write into.
 */
export interface AttachReply {
  readonly source: TerminusFields | null;
  readonly target: TerminusFields | null;
  readonly sndSettleMode: 0 | 1 | 2;
  readonly rcvSettleMode: 0 | 1;
}

/** Terminus fields by rhea's names (terminus.js), plain values only. */
export type TerminusFields = Readonly<Record<string, unknown>>;

/** The broker's own end of the link: the node it is attached to. */
export interface ServedTerminus {
  /** The node's address; null for the anonymous relay. */
  readonly address: string | null;
  readonly dynamic: boolean;
  readonly capabilities: readonly string[];
  /** A durable topic subscription: its terminus outlives the link (else the broker's default, below). */
  readonly durableSubscription?: boolean;
  /**
   * 3.5.7: `copy` for a browser, or for a subscription whose client asked for it (the topic copies); the
   * default is `move`.
   */
  readonly distributionMode?: string;
  /** 3.5.3 filter: the selector in place on a consumer's source, as the client sent it. */
  readonly selector?: SourceSelector | null;
}

/**
 * What the broker's terminus keeps (3.5.5 terminus-durability none: no state survives the link, links
 * are not resumed) and when it ends (3.5.6: at link detach, connection loss included, with no timeout).
 */
const OUR_DURABILITY = 0;
const OUR_EXPIRY_POLICY = 'link-detach';
const OUR_TIMEOUT = 0;

/**
 * A durable subscription's terminus: its configuration (topic, name) and messages are kept (3.5.5
 * configuration; unsettled deliveries return to the subscription rather than being resumed), and it
 * never expires (3.5.6): it ends only when a link closes it or the client unsubscribes.
 */
const DURABLE_SUBSCRIPTION_DURABILITY = 1;
const DURABLE_SUBSCRIPTION_EXPIRY_POLICY = 'never';

/** 3.5.3 outcomes: every terminal outcome of 3.4 is honoured on a consumer link. */
const SUPPORTED_OUTCOMES = ['amqp:accepted:list', 'amqp:rejected:list', 'amqp:released:list', 'amqp:modified:list'];

/** 2.8.2 mixed and 2.8.3 first: the values an attach without settle modes stands for. */
const DEFAULT_SND_SETTLE_MODE = 2;
const RCV_SETTLE_MODE_FIRST = 0;

/**
 * A consumer link: the broker is the sender. Its source is ours; the target is the client's, echoed.
 * Both settle modes are the client's (2.7.3): the broker sends settled, unsettled or mixed (then
 * unsettled) as asked, and settles a delivery once the client's outcome arrives, so a receiver in
 * rcv-settle-mode second works as well as one in first.
 */
export function consumerAttachReply(request: AttachRequest, source: ServedTerminus, defaultOutcome: Outcome | null): AttachReply {
  const fields: Record<string, unknown> = {
    ...servedTerminusFields(source),
    distribution_mode: source.distributionMode ?? DISTRIBUTION_MODE_MOVE,
    outcomes: [...SUPPORTED_OUTCOMES],
  };
  if (source.selector) fields.filter = appliedFilterSet(source.selector);
  if (defaultOutcome) fields.default_outcome = describedOutcome(defaultOutcome);
  return {
    source: fields,
    target: peerTerminusEcho(request.target),
    sndSettleMode: request.sndSettleMode ?? DEFAULT_SND_SETTLE_MODE,
    rcvSettleMode: request.rcvSettleMode ?? RCV_SETTLE_MODE_FIRST,
  };
}

/**
 * A producer link: the broker is the receiver. Its target is ours; the source is the client's, echoed.
 * snd-settle-mode is the client's to choose and the broker takes all three; rcv-settle-mode is the
 * broker's: it settles each delivery when it accepts it (first), whatever the client asked for (2.7.3:
 * set by the receiver, the field is the mode in use).
 */
export function producerAttachReply(request: AttachRequest, target: ServedTerminus): AttachReply {
  return {
    source: peerTerminusEcho(request.source),
    target: servedTerminusFields(target),
    sndSettleMode: request.sndSettleMode ?? DEFAULT_SND_SETTLE_MODE,
    rcvSettleMode: RCV_SETTLE_MODE_FIRST,
  };
}

/** Puts the reply into rhea's attach for the link; rhea writes it when it next processes the session. */
export function writeAttachReply(link: Sender | Receiver, reply: AttachReply): void {
  const local = linkInternals(link).local.attach;
  const setters = link as unknown as { set_source(fields: TerminusFields): void; set_target(fields: TerminusFields): void };
  if (reply.source) setters.set_source(reply.source);
  else local.source = null;
  if (reply.target) setters.set_target(reply.target);
  else local.target = null;
  local.snd_settle_mode = reply.sndSettleMode;
  local.rcv_settle_mode = reply.rcvSettleMode;
}

function servedTerminusFields(terminus: ServedTerminus): Record<string, unknown> {
  const fields: Record<string, unknown> = terminus.durableSubscription
    ? { durable: DURABLE_SUBSCRIPTION_DURABILITY, expiry_policy: DURABLE_SUBSCRIPTION_EXPIRY_POLICY, timeout: OUR_TIMEOUT }
    : { durable: OUR_DURABILITY, expiry_policy: OUR_EXPIRY_POLICY, timeout: OUR_TIMEOUT };
  if (terminus.address !== null) fields.address = terminus.address;
  if (terminus.dynamic) fields.dynamic = true;
  if (terminus.capabilities.length > 0) fields.capabilities = [...terminus.capabilities];
  return fields;
}

/**
 * The client's own terminus as the broker understood it: the fields a source and a target share, as
 * sent (an empty terminus stays empty). Filters, outcomes and node properties describe the client's
 * side and are not repeated.
 */
function peerTerminusEcho(terminus: RequestedTerminus | null): TerminusFields | null {
  if (!terminus) return null;
  const fields: Record<string, unknown> = {};
  if (terminus.address !== null) fields.address = terminus.address;
  if (terminus.durable !== null) fields.durable = terminus.durable;
  if (terminus.expiryPolicy !== null) fields.expiry_policy = terminus.expiryPolicy;
  if (terminus.timeout !== null) fields.timeout = terminus.timeout;
  if (terminus.dynamic) fields.dynamic = true;
  if (terminus.capabilities.length > 0) fields.capabilities = [...terminus.capabilities];
  return fields;
}

/** 3.5.3 default-outcome, encoded as rhea encodes an outcome. */
export function describedOutcome(outcome: Outcome): unknown {
  switch (outcome.type) {
    case 'accepted':
      return rheaOutcomes.accepted().described();
    case 'released':
      return rheaOutcomes.released().described();
    case 'rejected':
      return rheaOutcomes.rejected({}).described();
    case 'modified':
      return rheaOutcomes.modified({ delivery_failed: outcome.deliveryFailed, undeliverable_here: outcome.undeliverableHere }).described();
  }
}
