import type { QueueOptions } from '../core/types';
import { patternRegex } from './patterns';
import { boolean, checkObject, type Check, nonEmptyString, nonNegativeInteger, nullable, plainObject, positiveInteger } from './validation';

export const DEFAULT_QUEUE_OPTIONS: QueueOptions = Object.freeze({
  groupKey: null,
  maxGroups: null,
  groupIdleTimeoutMs: null,
  groupRebalance: false,
  maxInFlightPerGroup: null,
  exclusive: false,
  maxDeliveryAttempts: 10,
  deadLetterQueue: 'DLQ',
  maxMemoryBytes: null,
  autoDelete: false,
  autoDeleteDelayMs: 0,
});

const queueOptionChecks: { [K in keyof QueueOptions]-?: Check<QueueOptions[K]> } = {
  groupKey: nullable(nonEmptyString),
  maxGroups: nullable(positiveInteger),
  groupIdleTimeoutMs: nullable(positiveInteger),
  groupRebalance: boolean,
  maxInFlightPerGroup: nullable(positiveInteger),
  exclusive: boolean,
  maxDeliveryAttempts: positiveInteger,
  deadLetterQueue: nonEmptyString,
  maxMemoryBytes: nullable(positiveInteger),
  autoDelete: boolean,
  autoDeleteDelayMs: nonNegativeInteger,
};

export function checkQueueOptions(input: unknown, field: string): Partial<QueueOptions> {
  return checkObject<QueueOptions>(input, field, queueOptionChecks);
}

/** Queue name or pattern (`*` matches any run of characters) -> options for matching queues. */
export type QueuePolicies = Readonly<Record<string, Partial<QueueOptions>>>;

export function checkQueuePolicies(input: unknown, field: string): QueuePolicies {
  const object = plainObject(input, field);
  const out: Record<string, Partial<QueueOptions>> = {};
  for (const [pattern, options] of Object.entries(object)) {
    out[pattern] = checkQueueOptions(options, `${field}["${pattern}"]`);
  }
  return out;
}

/**
 * Resolves a queue's options: defaults, then every matching pattern from least to most specific
 * (fewer wildcard characters and longer literal text win), then the exact name.
 */
export function queueOptionsResolver(defaults: Partial<QueueOptions>, policies: QueuePolicies): (name: string) => QueueOptions {
  const patterns = Object.keys(policies)
    .filter((pattern) => pattern.includes('*'))
    .map((pattern) => ({ pattern, regex: patternRegex(pattern), literal: pattern.replace(/\*/g, '').length }))
    .sort((a, b) => a.literal - b.literal);
  return (name) => {
    let options: QueueOptions = { ...DEFAULT_QUEUE_OPTIONS, ...defaults };
    for (const { pattern, regex } of patterns) if (regex.test(name)) options = { ...options, ...policies[pattern] };
    const exact = policies[name];
    if (exact && !name.includes('*')) options = { ...options, ...exact };
    return Object.freeze(options);
  };
}
