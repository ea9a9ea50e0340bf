import { compileSelector } from '../../src/selector/compile';
import type { SelectorFields, SelectorValue } from '../../src/selector/values';

export type TruthName = 'TRUE' | 'FALSE' | 'UNKNOWN';

export function fields(values: Record<string, SelectorValue> = {}): SelectorFields {
  return new Map(Object.entries(values));
}

/**
 * The three-valued result of a condition, through the public API only: TRUE when it matches, FALSE
 * when its negation matches, UNKNOWN when neither does (NOT unknown is unknown).
 */
export function truthOf(condition: string, values: SelectorFields | Record<string, SelectorValue> = {}): TruthName {
  const lookup = isFields(values) ? values : fields(values);
  if (compileSelector(condition).matches(lookup)) return 'TRUE';
  if (compileSelector(`NOT (${condition})`).matches(lookup)) return 'FALSE';
  return 'UNKNOWN';
}

function isFields(values: SelectorFields | Record<string, SelectorValue>): values is SelectorFields {
  return typeof (values as SelectorFields).get === 'function';
}
