import type { BrokerRuntime } from '../broker/runtime';
import type { MessageFilter } from '../core/types';
import { compileSelector } from '../selector/compile';
import { SelectorError } from '../selector/selector-error';
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
  if (selector.text.trim() === '') return null;
  let compiled;
  try {
    compiled = compileSelector(selector.text);
  } catch (error) {
    if (error instanceof SelectorError) throw new AddressError(`invalid selector "${selector.text}": ${error.message}`);
    throw error;
  }
  return {
    key: selector.text,
    matches: (message) => {
      const bytes = runtime.messageBytes(message);
      const buffer = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
      return compiled.matches(messageSelectorFields(buffer, { expiresAtMs: message.expiresAtMs, deliveryCount: message.deliveryCount }));
    },
  };
}
