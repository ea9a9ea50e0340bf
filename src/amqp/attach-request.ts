import type { Receiver, Sender } from 'rhea';
import type { Outcome } from '../core/types';
import { AddressError } from './address';
import { outcomeOf } from './consumer-link';
import { linkInternals, receivedTermini, unwrapRheaOutcome, type TerminusKind } from './rhea';
import { readFilters, type RequestedFilter } from './source-filters';

/**
 * A client's attach (AMQP 1.0 2.7.3), copied out of rhea's decoded frame into plain values and checked
 * for type. Nothing here refers to anything rhea decoded: the attach reply and the broker's state are
 * built from these values only.
 */
export interface AttachRequest {
  /** 2.8.2 sender-settle-mode: 0 unsettled, 1 settled, 2 mixed; null when absent. */
  readonly sndSettleMode: 0 | 1 | 2 | null;
  /** 2.8.3 receiver-settle-mode: 0 first, 1 second; null when absent. */
  readonly rcvSettleMode: 0 | 1 | null;
  /** null: no source (absent or null). */
  readonly source: RequestedSource | null;
  /** null: no target (absent or null), or a coordinator. */
  readonly target: RequestedTerminus | null;
  /** A transaction coordinator target (AMQP 1.0 4.5.1): only on a link the client sends on; null otherwise. */
  readonly coordinator: RequestedCoordinator | null;
  /** Link properties (2.7.3 properties), keys as sent. */
  readonly properties: Readonly<Record<string, unknown>>;
}

/** The fields a source (3.5.3) and a target (3.5.4) share; null when absent. */
export interface RequestedTerminus {
  readonly address: string | null;
  readonly durable: number | null;
  readonly expiryPolicy: string | null;
  readonly timeout: number | null;
  readonly dynamic: boolean;
  readonly capabilities: readonly string[];
}

export interface RequestedCoordinator {
  /** 4.5.7 txn-capability symbols the client asked for. */
  readonly capabilities: readonly string[];
}

export interface RequestedSource extends RequestedTerminus {
  readonly distributionMode: string | null;
  /** The filters asked for (3.5.3 filter-set); source-filters.ts says which the broker applies. */
  readonly filters: readonly RequestedFilter[];
  /** The default-outcome asked for, or null when none was given. */
  readonly defaultOutcome: Outcome | null;
  /** 3.5.3 outcomes: the descriptors of the outcomes the client's source supports; empty when not given. */
  readonly outcomes: readonly string[];
}

/** 3.5.6 terminus-expiry-policy. */
const EXPIRY_POLICIES: ReadonlySet<string> = new Set(['link-detach', 'session-end', 'connection-close', 'never']);

/** The decoded terminus as rhea's getters return it (terminus.js). */
interface DecodedTerminus {
  address?: unknown;
  durable?: unknown;
  expiry_policy?: unknown;
  timeout?: unknown;
  dynamic?: unknown;
  distribution_mode?: unknown;
  filter?: unknown;
  default_outcome?: unknown;
  outcomes?: unknown;
  capabilities?: unknown;
}

/** Reads the attach a client sent on `link`; throws AddressError (amqp:invalid-field). */
export function readAttachRequest(link: Sender | Receiver): AttachRequest {
  const attach = (linkInternals(link).remote.attach ?? {}) as Record<string, unknown>;
  const kinds = receivedTermini(attach);
  expectKind('source', kinds.source);
  // A coordinator is the target of a controller's sending link (4.2): the broker's receiver.
  const coordinator = kinds.target === 'coordinator' && link.is_receiver();
  if (!coordinator) expectKind('target', kinds.target);
  // rhea leaves a typed null where a terminus was absent or null: the recorded kind tells which it was.
  const source = kinds.source === 'source' ? (attach.source as DecodedTerminus) : null;
  const target = kinds.target === 'target' ? (attach.target as DecodedTerminus) : null;
  return {
    sndSettleMode: settleMode('snd-settle-mode', attach.snd_settle_mode, 2) as 0 | 1 | 2 | null,
    rcvSettleMode: settleMode('rcv-settle-mode', attach.rcv_settle_mode, 1) as 0 | 1 | null,
    source: source ? readSource(source) : null,
    target: target ? readTerminus('target', target) : null,
    coordinator: coordinator ? { capabilities: symbols('coordinator capabilities', kinds.coordinatorCapabilities) } : null,
    properties: readProperties(attach.properties),
  };
}

function expectKind(field: 'source' | 'target', kind: TerminusKind): void {
  if (kind === 'none' || kind === field) return;
  if (kind === 'coordinator') {
    throw new AddressError(`a coordinator (AMQP 1.0 4.5.1) can only be the target of a link the client sends on, not its ${field === 'source' ? 'source' : "receiver's target"}`);
  }
  const found = kind === 'other' ? 'is not a source or target' : `holds a ${kind}`;
  throw new AddressError(`the attach's ${field} field ${found} (AMQP 1.0 2.7.3)`);
}

function settleMode(name: string, value: unknown, highest: number): number | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= highest) return value;
  throw new AddressError(`${name} must be an integer from 0 to ${highest}, got ${JSON.stringify(value)}`);
}

function readTerminus(field: 'source' | 'target', decoded: DecodedTerminus): RequestedTerminus {
  const address = optional(decoded.address);
  if (address !== null && typeof address !== 'string') throw new AddressError(`the ${field} address must be a string`);
  const durable = optional(decoded.durable);
  if (durable !== null && durable !== 0 && durable !== 1 && durable !== 2) {
    throw new AddressError(`the ${field} durable field must be 0, 1 or 2 (AMQP 1.0 3.5.5), got ${JSON.stringify(durable)}`);
  }
  const expiryPolicy = optional(decoded.expiry_policy);
  if (expiryPolicy !== null && (typeof expiryPolicy !== 'string' || !EXPIRY_POLICIES.has(expiryPolicy))) {
    throw new AddressError(`the ${field} expiry-policy must be one of ${[...EXPIRY_POLICIES].join(', ')} (AMQP 1.0 3.5.6)`);
  }
  const timeout = optional(decoded.timeout);
  if (timeout !== null && (typeof timeout !== 'number' || !Number.isInteger(timeout) || timeout < 0)) {
    throw new AddressError(`the ${field} timeout must be a number of seconds`);
  }
  const dynamic = optional(decoded.dynamic);
  if (dynamic !== null && typeof dynamic !== 'boolean') throw new AddressError(`the ${field} dynamic field must be a boolean`);
  return {
    address,
    durable,
    expiryPolicy,
    timeout,
    dynamic: dynamic === true,
    capabilities: symbols(`${field} capabilities`, decoded.capabilities),
  };
}

function readSource(decoded: DecodedTerminus): RequestedSource {
  const distributionMode = optional(decoded.distribution_mode);
  if (distributionMode !== null && typeof distributionMode !== 'string') throw new AddressError('the source distribution-mode must be a symbol');
  const filter = optional(decoded.filter);
  if (filter !== null && (typeof filter !== 'object' || Array.isArray(filter))) throw new AddressError('the source filter must be a map (AMQP 1.0 3.5.8)');
  return {
    ...readTerminus('source', decoded),
    distributionMode,
    filters: filter ? readFilters(filter) : [],
    defaultOutcome: defaultOutcome(decoded.default_outcome),
    outcomes: symbols('source outcomes', decoded.outcomes),
  };
}

/** 3.5.3 default-outcome: one of the terminal outcomes of 3.4. */
function defaultOutcome(value: unknown): Outcome | null {
  if (value === undefined || value === null || (value as { value?: unknown }).value === null) return null;
  const unwrapped = unwrapRheaOutcome(value);
  const kind = unwrapped?.constructor.composite_type;
  if (kind !== 'accepted' && kind !== 'rejected' && kind !== 'released' && kind !== 'modified') {
    throw new AddressError('the source default-outcome must be accepted, rejected, released or modified (AMQP 1.0 3.4)');
  }
  return outcomeOf(unwrapped, { type: 'accepted' });
}

/** A symbol or an array of symbols (`multiple="true"` fields, AMQP 1.0 1.3), copied. */
function symbols(name: string, value: unknown): string[] {
  if (value === undefined || value === null) return [];
  const list = Array.isArray(value) ? value : [value];
  if (!list.every((item): item is string => typeof item === 'string')) throw new AddressError(`${name} must be symbols`);
  return [...list];
}

/** rhea's getters return undefined for a field that is absent and null for one encoded as null. */
function optional(value: unknown): unknown {
  return value === undefined ? null : value;
}

function readProperties(value: unknown): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new AddressError('link properties must be a map (AMQP 1.0 2.7.3)');
  return { ...(value as Record<string, unknown>) };
}
