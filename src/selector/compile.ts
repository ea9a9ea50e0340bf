import { referencedIdentifiers, type ComparisonOperator, type Expression } from './ast';
import { compileLike } from './like';
import { DEFAULT_SELECTOR_LIMITS, type SelectorLimits } from './limits';
import * as operators from './operators';
import { parseSelector } from './parser';
import type { SelectorFields, SelectorValue, Truth } from './values';

/** A compiled JMS message selector (JMS 2.0 3.8.1): parse once, then evaluate per message. */
export interface Selector {
  /** The selector as the client wrote it. */
  readonly text: string;
  /** Every identifier it reads (for indexing, and to know which message sections it needs). */
  readonly identifiers: ReadonlySet<string>;
  /** Whether the selector is TRUE for the message; FALSE and unknown do not match (JMS 2.0 3.8.1.1). */
  matches(fields: SelectorFields): boolean;
}

/**
 * Parses and compiles `text` into a tree of closures: evaluating it reads the identifiers it names
 * through `fields` and does no parsing. Throws SelectorError for a selector that is malformed, badly
 * typed or over the limits. A selector of whitespace only matches everything (JMS: no selector).
 */
export function compileSelector(text: string, limits: SelectorLimits = DEFAULT_SELECTOR_LIMITS): Selector {
  const expression = parseSelector(text, limits);
  if (expression === null) return { text, identifiers: new Set(), matches: () => true };
  const test = compileCondition(expression);
  return { text, identifiers: referencedIdentifiers(expression), matches: (fields) => test(fields) === true };
}

type Evaluate = (fields: SelectorFields) => SelectorValue;
type Test = (fields: SelectorFields) => Truth;

const COMPARISONS: Record<ComparisonOperator, (left: SelectorValue, right: SelectorValue) => Truth> = {
  '=': operators.equal,
  '<>': operators.notEqual,
  '<': operators.lessThan,
  '>': operators.greaterThan,
  '<=': operators.lessOrEqual,
  '>=': operators.greaterOrEqual,
};

const ARITHMETIC = {
  '+': operators.add,
  '-': operators.subtract,
  '*': operators.multiply,
  '/': operators.divide,
} as const;

function read(fields: SelectorFields, identifier: string): SelectorValue {
  const value = fields.get(identifier);
  return value === undefined ? null : value;
}

/** An expression where a condition is expected; the parser lets only conditions, NULL and identifiers here. */
function compileCondition(expression: Expression): Test {
  switch (expression.kind) {
    case 'literal': {
      const truth = operators.toTruth(expression.value);
      return () => truth;
    }
    case 'identifier': {
      const name = expression.name;
      return (fields) => operators.toTruth(read(fields, name));
    }
    case 'not': {
      const operand = compileCondition(expression.operand);
      return (fields) => operators.not(operand(fields));
    }
    case 'and':
      return compileChain(expression.operands.map(compileCondition), false);
    case 'or':
      return compileChain(expression.operands.map(compileCondition), true);
    case 'comparison':
      return compileComparison(COMPARISONS[expression.operator], expression.left, expression.right);
    case 'between': {
      const value = compileValue(expression.value);
      const low = compileValue(expression.low);
      const high = compileValue(expression.high);
      // JMS 2.0 3.8.1.1: a BETWEEN b AND c is a >= b AND a <= c; a NOT BETWEEN b AND c is a < b OR a > c.
      if (expression.negated) {
        return (fields) => {
          const operand = value(fields);
          return operators.or(operators.lessThan(operand, low(fields)), operators.greaterThan(operand, high(fields)));
        };
      }
      return (fields) => {
        const operand = value(fields);
        return operators.and(operators.greaterOrEqual(operand, low(fields)), operators.lessOrEqual(operand, high(fields)));
      };
    }
    case 'in': {
      const { identifier, negated } = expression;
      const values: ReadonlySet<string> = new Set(expression.values);
      return (fields) => {
        const value = read(fields, identifier);
        if (value === null) return null;
        return typeof value === 'string' && values.has(value) !== negated;
      };
    }
    case 'like': {
      const { identifier, negated } = expression;
      const matches = compileLike(expression.pattern, expression.escape);
      return (fields) => {
        const value = read(fields, identifier);
        if (value === null) return null;
        return typeof value === 'string' && matches(value) !== negated;
      };
    }
    case 'isNull': {
      const operand = compileValue(expression.operand);
      const negated = expression.negated;
      return (fields) => (operand(fields) === null) !== negated;
    }
    case 'arithmetic':
    case 'sign':
      throw new Error(`selector parser let a ${expression.kind} expression through as a condition`);
  }
}

/**
 * AND (decisive = false) or OR (decisive = true) over all operands at once: the first operand that is
 * `decisive` decides; otherwise any unknown operand makes the result unknown.
 */
function compileChain(operands: readonly Test[], decisive: boolean): Test {
  return (fields) => {
    let result: Truth = !decisive;
    for (const operand of operands) {
      const truth = operand(fields);
      if (truth === decisive) return decisive;
      if (truth === null) result = null;
    }
    return result;
  };
}

/** Comparisons of an identifier with a literal, the common case, read the literal without a call. */
function compileComparison(compare: (left: SelectorValue, right: SelectorValue) => Truth, left: Expression, right: Expression): Test {
  if (left.kind === 'identifier' && right.kind === 'literal') {
    const { name } = left;
    const { value } = right;
    return (fields) => compare(read(fields, name), value);
  }
  if (left.kind === 'literal' && right.kind === 'identifier') {
    const { value } = left;
    const { name } = right;
    return (fields) => compare(value, read(fields, name));
  }
  const leftValue = compileValue(left);
  const rightValue = compileValue(right);
  return (fields) => compare(leftValue(fields), rightValue(fields));
}

function compileValue(expression: Expression): Evaluate {
  switch (expression.kind) {
    case 'literal': {
      const value = expression.value;
      return () => value;
    }
    case 'identifier': {
      const name = expression.name;
      return (fields) => read(fields, name);
    }
    case 'arithmetic': {
      const operate = ARITHMETIC[expression.operator];
      const left = compileValue(expression.left);
      const right = compileValue(expression.right);
      return (fields) => operate(left(fields), right(fields));
    }
    case 'sign': {
      const operate = expression.operator === '-' ? operators.negate : operators.plus;
      const operand = compileValue(expression.operand);
      return (fields) => operate(operand(fields));
    }
    default:
      return compileCondition(expression);
  }
}
