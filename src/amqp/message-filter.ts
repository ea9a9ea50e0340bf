import type { BrokerRuntime } from '../broker/runtime';
import type { SubscriptionSelector } from '../broker/topics';
import type { MessageFilter, MessageMeta } from '../core/types';
import { compileSelector, type Selector } from '../selector/compile';
import { SelectorError } from '../selector/selector-error';
import type { SelectorFields } from '../selector/values';
import { AddressError } from './address';
import { messageSelectorFields } from './selector-fields';
import type { SourceSelector } from './source-filters';

/**
 * A consumer's JMS message selector as the dispatch core's filter (README "Selectors"): compiled once
 * at attach; asked about a message, it reads the message's bytes (from the store if they were paged
 * out) with its broker-side expiry and delivery-count, so the answer depends only on the message. The
 * key is the selector's text: consumers with the same text share one selector class and its verdicts.
 * A selector that is empty or only whitespace is no selector (null).
 */
export function messageFilterOf(selector: SourceSelector, runtime: BrokerRuntime): MessageFilter | null {
  if (isBlank(selector.text)) return null;
  const compiled = compiledOrRefused(selector.text);
  return {
    key: selector.text,
    matches: (message) => compiled.matches(fieldsOf(runtime.messageBytes(message), message.expiresAtMs, message.deliveryCount)),
  };
}

/**
 * A topic subscription's selector, asked when a message is published (src/broker/topics.ts) by its
 * bytes and metadata; null for a blank one. Also what the broker compiles stored selectors with.
 */
export function subscriptionSelectorOf(text: string): SubscriptionSelector | null {
  if (isBlank(text)) return null;
  const compiled = compiledOrRefused(text);
  return { text, matches: (body: Uint8Array, meta: MessageMeta) => compiled.matches(fieldsOf(body, meta.expiresAtMs, meta.deliveryCount)) };
}

/** Compiles a selector the store kept: it compiled when the subscription was made. */
export function compileStoredSelector(text: string): SubscriptionSelector {
  const selector = subscriptionSelectorOf(text);
  if (selector === null) throw new Error('a stored subscription selector is blank');
  return selector;
}

/** JMS: a selector that is empty or only whitespace is no selector. */
function isBlank(text: string): boolean {
  return text.trim() === '';
}

function compiledOrRefused(text: string): Selector {
  try {
    return compileSelector(text);
  } catch (error) {
    if (error instanceof SelectorError) throw new AddressError(`invalid selector "${text}": ${error.message}`);
    throw error;
  }
}

function fieldsOf(bytes: Uint8Array, expiresAtMs: number | null, deliveryCount: number): SelectorFields {
  const buffer = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  return messageSelectorFields(buffer, { expiresAtMs, deliveryCount });
}
