import type { SelectorValue, Truth } from './values';

/**
 * What the selector operators do to values (JMS 2.0 3.8.1.2), in SQL three-valued logic: an operand
 * that is NULL makes a comparison or arithmetic unknown (null). Comparing values of unlike types is
 * false (the specification's rule), for = and <> alike; exact and approximate numbers are alike.
 * Numbers compare by their exact values (a long beyond 2^53 against a double too; Java would round
 * the long to a double first).
 *
 * Arithmetic follows Java's numeric promotion for + - *: two exact numbers give an exact number,
 * wrapped to 64 bits like a Java long; anything with an approximate number is approximate. Division
 * always divides approximately, as ActiveMQ and Artemis do (7 / 2 = 3.5), so dividing by zero gives
 * an infinity or NaN, never an error. A non-numeric operand makes arithmetic unknown.
 */

export function isNumeric(value: SelectorValue): value is number | bigint {
  const type = typeof value;
  return type === 'number' || type === 'bigint';
}

/** A value read where a condition is expected: a boolean is itself; NULL is unknown; anything else is false. */
export function toTruth(value: SelectorValue): Truth {
  if (typeof value === 'boolean') return value;
  return value === null ? null : false;
}

export function not(truth: Truth): Truth {
  return truth === null ? null : !truth;
}

export function and(left: Truth, right: Truth): Truth {
  if (left === false || right === false) return false;
  return left === null || right === null ? null : true;
}

export function or(left: Truth, right: Truth): Truth {
  if (left === true || right === true) return true;
  return left === null || right === null ? null : false;
}

export function equal(left: SelectorValue, right: SelectorValue): Truth {
  if (left === null || right === null) return null;
  if (typeof left === typeof right) return left === right && typeof left !== 'symbol';
  // A bigint and a number compare by value only with == (=== is false across the two types).
  if (isNumeric(left) && isNumeric(right)) return left == right;
  return false;
}

export function notEqual(left: SelectorValue, right: SelectorValue): Truth {
  if (left === null || right === null) return null;
  if (typeof left === typeof right) return left !== right && typeof left !== 'symbol';
  // A bigint and a number compare by value only with != (!== is true across the two types).
  if (isNumeric(left) && isNumeric(right)) return left != right;
  return false;
}

export function lessThan(left: SelectorValue, right: SelectorValue): Truth {
  if (left === null || right === null) return null;
  return isNumeric(left) && isNumeric(right) && left < right;
}

export function lessOrEqual(left: SelectorValue, right: SelectorValue): Truth {
  if (left === null || right === null) return null;
  return isNumeric(left) && isNumeric(right) && left <= right;
}

export function greaterThan(left: SelectorValue, right: SelectorValue): Truth {
  if (left === null || right === null) return null;
  return isNumeric(left) && isNumeric(right) && left > right;
}

export function greaterOrEqual(left: SelectorValue, right: SelectorValue): Truth {
  if (left === null || right === null) return null;
  return isNumeric(left) && isNumeric(right) && left >= right;
}

export function add(left: SelectorValue, right: SelectorValue): SelectorValue {
  if (typeof left === 'bigint' && typeof right === 'bigint') return BigInt.asIntN(64, left + right);
  return isNumeric(left) && isNumeric(right) ? Number(left) + Number(right) : null;
}

export function subtract(left: SelectorValue, right: SelectorValue): SelectorValue {
  if (typeof left === 'bigint' && typeof right === 'bigint') return BigInt.asIntN(64, left - right);
  return isNumeric(left) && isNumeric(right) ? Number(left) - Number(right) : null;
}

export function multiply(left: SelectorValue, right: SelectorValue): SelectorValue {
  if (typeof left === 'bigint' && typeof right === 'bigint') return BigInt.asIntN(64, left * right);
  return isNumeric(left) && isNumeric(right) ? Number(left) * Number(right) : null;
}

export function divide(left: SelectorValue, right: SelectorValue): SelectorValue {
  return isNumeric(left) && isNumeric(right) ? Number(left) / Number(right) : null;
}

export function negate(value: SelectorValue): SelectorValue {
  if (typeof value === 'bigint') return BigInt.asIntN(64, -value);
  return typeof value === 'number' ? -value : null;
}

/** Unary plus: a number stays itself; anything else is unknown, as for every arithmetic operator. */
export function plus(value: SelectorValue): SelectorValue {
  return isNumeric(value) ? value : null;
}
