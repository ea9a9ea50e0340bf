/**
 * Bounds on what one selector may cost, so that a client cannot make the broker spend unbounded
 * memory, stack or time on it. Compile and evaluation cost grow with the length; the depth bounds
 * both the parser's recursion and the evaluator's.
 */
export interface SelectorLimits {
  /** Longest selector accepted, in characters (UTF-16 code units). */
  readonly maxLength: number;
  /** Deepest nesting accepted: parentheses, NOT and signs, and operators applied to operators. */
  readonly maxDepth: number;
}

export const DEFAULT_SELECTOR_LIMITS: SelectorLimits = Object.freeze({ maxLength: 4096, maxDepth: 100 });
