import { describe, expect, test } from 'vitest';
import { compileSelector } from '../../src/selector/compile';
import { DEFAULT_SELECTOR_LIMITS } from '../../src/selector/limits';
import { SelectorError } from '../../src/selector/selector-error';
import { fields } from './support';

function errorOf(text: string, limits = DEFAULT_SELECTOR_LIMITS): SelectorError {
  try {
    compileSelector(text, limits);
  } catch (error) {
    if (error instanceof SelectorError) return error;
    throw error;
  }
  throw new Error(`no error for ${JSON.stringify(text)}`);
}

describe('a selector that cannot be used is refused with what is wrong and where', () => {
  test.each([
    // Tokens.
    ["a = 'abc", 'unterminated string literal at column 5'],
    ['"a = 1', 'unterminated quoted identifier at column 1'],
    ['"" = 1', 'empty quoted identifier at column 1'],
    ['a # 1', "unexpected character '#' at column 3"],
    ['a != 1', "unexpected character '!' at column 3"],
    ['a == 1', "unexpected token '=' at column 4"],
    ['a % 2 = 0', "unexpected character '%' at column 3"],
    ['12abc = 1', "invalid numeric literal '12abc' at column 1"],
    ['a = 1.2.3', "invalid numeric literal '1.2.3' at column 5"],
    ['a = 0x', "invalid numeric literal '0x' at column 5"],
    ['a = 0x1G', "invalid numeric literal '0x1G' at column 5"],
    ['a = 1e', "invalid numeric literal '1e' at column 5"],
    ['a = 1e+', "invalid numeric literal '1e' at column 5"],
    ['a = 5LL', "invalid numeric literal '5LL' at column 5"],
    ['a = 09', "invalid octal literal '09' at column 5"],
    ['a = 9223372036854775808', 'integer 9223372036854775808 is out of the long range at column 5'],
    ['a = -(9223372036854775808)', 'integer 9223372036854775808 is out of the long range at column 7'],
    ['a = 0x8000000000000000', 'integer 0x8000000000000000 is out of the long range at column 5'],
    // Grammar.
    ['a = 1 AND', 'unexpected end of selector at column 10'],
    ["a = 1 AMD b = 2", "unexpected token 'AMD' at column 7"],
    ['a = 1 b = 2', "unexpected token 'b' at column 7"],
    ['=TEST', "unexpected token '=' at column 1"],
    ['AND a = 1', "unexpected token 'AND' at column 1"],
    ['a = 1 AND AND b = 2', "unexpected token 'AND' at column 11"],
    ['(a = 1', "expected ')', found the end of the selector at column 7"],
    ['a = 1)', "unexpected token ')' at column 6"],
    ['()', "unexpected token ')' at column 2"],
    ['a = b = c', "unexpected token '=' at column 7"],
    ['a < b < c', "unexpected token '<' at column 7"],
    ['a IS 1', "expected NULL, found '1' at column 6"],
    ['a IS NOT', 'expected NULL, found the end of the selector at column 9'],
    ['a NOT = 1', "unexpected token 'NOT' at column 3"],
    ['a BETWEEN 1 OR 2', "expected AND, found 'OR' at column 13"],
    ["a IN 'x'", "expected '(', found ''x'' at column 6"],
    ['a IN ()', "expected a string literal, found ')' at column 7"],
    ['a IN (1, 2)', "expected a string literal, found '1' at column 7"],
    ["a IN ('x',)", "expected a string literal, found ')' at column 11"],
    ["a IN ('x' 'y')", "expected ')', found ''y'' at column 11"],
    ['a LIKE b', "expected a string literal, found 'b' at column 8"],
    ["a LIKE 'x' ESCAPE ''", "ESCAPE '' is not a single character at column 19"],
    ["a LIKE 'x' ESCAPE 'ab'", "ESCAPE 'ab' is not a single character at column 19"],
    ["a LIKE 'x' ESCAPE b", "expected a string literal, found 'b' at column 19"],
    ['NOT', 'unexpected end of selector at column 4'],
    ['a = ', 'unexpected end of selector at column 5'],
    // Types the text alone decides.
    ['3 + 5', 'expected a condition, found a number at column 1'],
    ['TRUE AND 3 + 5', 'expected a condition, found a number at column 10'],
    ["'abc'", 'expected a condition, found a string at column 1'],
    ["NOT 'abc'", 'expected a condition, found a string at column 5'],
    ['a OR 5', 'expected a condition, found a number at column 6'],
    ["a = 1 + 'x'", "'+' needs numbers, found a string at column 9"],
    ['-(a = 1) = 1', "'-' needs numbers, found a condition at column 3"],
    ['(a > 1) * 2 = 2', "'*' needs numbers, found a condition at column 2"],
    ["a > 'x'", "'>' compares numbers only, found a string at column 5"],
    ["'x' <= a", "'<=' compares numbers only, found a string at column 1"],
    ['a < TRUE', "'<' compares numbers only, found a condition at column 5"],
    ['a > NULL', "'>' compares numbers only, found NULL (use IS NULL) at column 5"],
    ["a BETWEEN 'a' AND 'z'", "'BETWEEN' compares numbers only, found a string at column 11"],
    ['a = NULL', "NULL cannot be compared with '=' (use IS NULL) at column 5"],
    ['NULL <> a', "NULL cannot be compared with '<>' (use IS NOT NULL) at column 1"],
    ["'abc' LIKE 'a%'", 'LIKE needs an identifier on its left at column 1'],
    ["a + 1 IN ('x')", 'IN needs an identifier on its left at column 1'],
  ])('%j', (text, message) => {
    const error = errorOf(text);
    expect(error.message).toBe(message);
    expect(error.name).toBe('SelectorError');
  });

  test('the column is also a field, for the AMQP layer to pass on', () => {
    const error = errorOf('a = 1 AND AND');
    expect(error.column).toBe(11);
    expect(error.reason).toBe("unexpected token 'AND'");
  });

  test('a keyword is not an identifier, in any case', () => {
    for (const keyword of ['NOT', 'and', 'Or', 'BETWEEN', 'like', 'IN', 'is', 'ESCAPE', 'null']) {
      expect(() => compileSelector(`${keyword} = 1`)).toThrow(SelectorError);
    }
    for (const keyword of ['true', 'FALSE']) expect(errorOf(`${keyword} > 1`).message).toContain('compares numbers only');
  });

  test('a long token is cut short in the message', () => {
    const long = 'x'.repeat(100);
    expect(errorOf(`a = 1 ${long}`).message).toBe(`unexpected token '${'x'.repeat(37)}...' at column 7`);
  });
});

describe('limits keep a hostile selector cheap', () => {
  test(`at most ${DEFAULT_SELECTOR_LIMITS.maxLength} characters by default`, () => {
    const fits = `a = '${'x'.repeat(DEFAULT_SELECTOR_LIMITS.maxLength - 6)}'`;
    expect(fits.length).toBe(DEFAULT_SELECTOR_LIMITS.maxLength);
    expect(compileSelector(fits).matches(fields({ a: 'x'.repeat(DEFAULT_SELECTOR_LIMITS.maxLength - 6) }))).toBe(true);
    const error = errorOf(`${fits} `);
    expect(error.message).toBe(`selector is ${DEFAULT_SELECTOR_LIMITS.maxLength + 1} characters long, more than the limit of ${DEFAULT_SELECTOR_LIMITS.maxLength}`);
    expect(error.column).toBeNull();
  });

  test('nesting: parentheses, NOTs and signs', () => {
    const depth = DEFAULT_SELECTOR_LIMITS.maxDepth;
    expect(compileSelector(`${'('.repeat(depth - 1)}a = 1${')'.repeat(depth - 1)}`).matches(fields({ a: 1n }))).toBe(true);
    expect(errorOf(`${'('.repeat(depth + 1)}a = 1${')'.repeat(depth + 1)}`).message).toBe(`selector nests deeper than the limit of ${depth} at column ${depth + 1}`);
    expect(errorOf(`${'NOT '.repeat(depth + 1)}a`).message).toMatch(/^selector nests deeper than the limit of 100 at column \d+$/);
    expect(errorOf(`${'- '.repeat(depth + 1)}a = 1`).message).toMatch(/^selector nests deeper than the limit of 100 at column \d+$/);
    // Far past the limit it is still an error, not a stack overflow.
    expect(errorOf('('.repeat(4000)).message).toMatch(/nests deeper/);
    expect(errorOf('NOT '.repeat(1000)).message).toMatch(/nests deeper/);
  });

  test('nesting: operators applied to operators, without parentheses', () => {
    const depth = DEFAULT_SELECTOR_LIMITS.maxDepth;
    // a + a + ... + a = 1: the sums nest to the left.
    const sum = (terms: number): string => `${Array.from({ length: terms }, () => 'a').join(' + ')} = 1`;
    expect(() => compileSelector(sum(depth - 1))).not.toThrow();
    expect(errorOf(sum(depth + 1)).message).toMatch(/^selector nests deeper than the limit of 100 at column 1$/);
  });

  test('a chain of ANDs or ORs is flat, so a long one is fine', () => {
    const chain = Array.from({ length: 300 }, (_, index) => `a = ${index}`).join(" OR ");
    expect(compileSelector(chain).matches(fields({ a: 299n }))).toBe(true);
  });

  test('limits can be set per call', () => {
    expect(errorOf('a = 1', { maxLength: 4, maxDepth: 10 }).message).toBe('selector is 5 characters long, more than the limit of 4');
    expect(errorOf('((a = 1))', { maxLength: 100, maxDepth: 1 }).message).toBe('selector nests deeper than the limit of 1 at column 2');
    expect(errorOf('NOT a = 1', { maxLength: 100, maxDepth: 2 }).message).toBe('selector nests deeper than the limit of 2 at column 1');
  });

  test('LIKE costs one pass over the value, whatever the pattern', () => {
    // Exponential for a backtracking regular expression, (value x pattern) for a naive search:
    // each took 1 to 2 seconds with a search that tries every start; about 50 ms here.
    const value = 'a'.repeat(100_000);
    const hostile = [`%${'_a'.repeat(2000)}b%`, `%${'a'.repeat(4000)}_b%`, `%${'_'.repeat(4000)}b%`, `${'%a'.repeat(40)}%b`, `${'_%'.repeat(1000)}b`];
    for (const pattern of hostile) {
      const selector = compileSelector(`p LIKE '${pattern}'`);
      const started = process.hrtime.bigint();
      expect(selector.matches(fields({ p: value }))).toBe(false);
      const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
      expect({ pattern: pattern.slice(0, 20), fast: elapsedMs < 1000 }).toEqual({ pattern: pattern.slice(0, 20), fast: true });
    }
  });
});
