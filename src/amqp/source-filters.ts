import { types as rheaTypes } from 'rhea';
import { AddressError } from './address';
import { NotImplementedError } from './termini';

/**
 * Source filters (AMQP 1.0 3.5.3 filter-set, 3.5.8): a map from a name the client picks to a described
 * value whose descriptor says which filter it is. The broker applies one kind, the JMS message selector
 * (Qpid JMS sends it as `apache.org:selector-filter:string`, the registered descriptor
 * 0x0000468C00000004 or its symbol), and refuses the others with amqp:not-implemented rather than
 * delivering what the client asked to have filtered out.
 */
export const SELECTOR_FILTER_SYMBOL = 'apache.org:selector-filter:string';
export const SELECTOR_FILTER_CODE = 0x0000468c00000004;

/** One entry of a requested filter-set, copied out of rhea's decoded map. */
export interface RequestedFilter {
  /** The key in the filter-set. */
  readonly name: string;
  /** The described value's descriptor: a symbol, a ulong code, or null when the value is not described. */
  readonly descriptor: string | number | null;
  /** The described value when it is a string; null otherwise. */
  readonly text: string | null;
}

/** The selector the broker applies, as the client sent it (echoed in the attach reply). */
export interface SourceSelector {
  readonly name: string;
  readonly descriptor: string | number;
  readonly text: string;
}

/** rhea's decoded described value (types.js Typed with a descriptor). */
interface DecodedDescribed {
  readonly value?: unknown;
  readonly descriptor?: { readonly value?: unknown };
}

/** Copies a decoded filter-set into plain values. */
export function readFilters(filter: object): RequestedFilter[] {
  return Object.entries(filter).map(([name, entry]) => {
    const described = entry as DecodedDescribed | null;
    const descriptor = described?.descriptor?.value;
    const value = described?.value;
    return {
      name,
      descriptor: typeof descriptor === 'string' || typeof descriptor === 'number' ? descriptor : null,
      text: typeof value === 'string' ? value : null,
    };
  });
}

/**
 * The selector among the filters asked for, or null; throws NotImplementedError for any other filter
 * and AddressError (amqp:invalid-field) for a selector that is not a string or a second selector.
 */
export function selectorOf(filters: readonly RequestedFilter[]): SourceSelector | null {
  let selector: SourceSelector | null = null;
  for (const filter of filters) {
    if (filter.descriptor !== SELECTOR_FILTER_SYMBOL && filter.descriptor !== SELECTOR_FILTER_CODE) {
      const kind = filter.descriptor === null ? 'without a descriptor' : `with descriptor ${JSON.stringify(filter.descriptor)}`;
      throw new NotImplementedError(`source filter "${filter.name}" ${kind} is not implemented: the broker applies only ${SELECTOR_FILTER_SYMBOL}`);
    }
    if (filter.text === null) throw new AddressError(`the selector filter "${filter.name}" must be a string`);
    if (selector !== null) throw new AddressError(`the source has two selector filters ("${selector.name}", "${filter.name}")`);
    selector = { name: filter.name, descriptor: filter.descriptor, text: filter.text };
  }
  return selector;
}

/** The filter-set of the attach reply: the selector in place, as the client sent it (3.5.3). */
export function appliedFilterSet(selector: SourceSelector): Record<string, unknown> {
  return { [selector.name]: rheaTypes.wrap_described(selector.text, selector.descriptor) };
}
