import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import type { ArithmeticOperator, ComparisonOperator, Expression, LiteralValue } from '../../src/selector/ast';
import { compileSelector } from '../../src/selector/compile';
import { compileLike } from '../../src/selector/like';
import { parseSelector } from '../../src/selector/parser';
import { NON_JMS_VALUE, type SelectorFields, type SelectorValue } from '../../src/selector/values';
import { printSelector } from './print-selector';
import { truthOf, type TruthName } from './support';

/**
 * Laws of the selector language over random well-typed expressions and random messages. A longer
 * search: CONVOY_PROPERTY_RUNS=20000 npx vitest run test/selector/properties.test.ts
 */
const RUNS = Number(process.env.CONVOY_PROPERTY_RUNS ?? 300);

const IDENTIFIERS = ['a', 'b', 'n', 's', 'x.y', 'AND', 'größe'];
const LONG_MIN = -(2n ** 63n);
const LONG_MAX = 2n ** 63n - 1n;

const identifier = fc.constantFrom(...IDENTIFIERS).map((name): Expression => ({ kind: 'identifier', name }));
const exactLiteral = fc.oneof(fc.bigInt({ min: -20n, max: 20n }), fc.bigInt({ min: LONG_MIN, max: LONG_MAX }), fc.constantFrom(LONG_MIN, LONG_MAX));
const approximateLiteral = fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constantFrom(0.5, -0, 2.5, 1e-7, 1e21));
const text = fc.string({ unit: fc.constantFrom('a', 'b', "'", '"', '%', '_', '!', '😀', ' ', '\n'), maxLength: 6 });
const literal = (value: LiteralValue): Expression => ({ kind: 'literal', value });

/** Well-typed expressions in the shapes the parser builds: conditions, numbers, and operands of =. */
const { condition, numeric, comparable } = fc.letrec<{ condition: Expression; numeric: Expression; comparable: Expression }>((tie) => ({
  condition: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom<boolean | null>(true, false, null).map(literal),
    identifier,
    fc.record({ operands: fc.array(tie('condition'), { minLength: 2, maxLength: 3 }), kind: fc.constantFrom('and' as const, 'or' as const) }).map(
      ({ kind, operands }): Expression => ({ kind, operands }),
    ),
    tie('condition').map((operand): Expression => ({ kind: 'not', operand })),
    fc.tuple(fc.constantFrom<ComparisonOperator>('=', '<>'), tie('comparable'), tie('comparable')).map(
      ([operator, left, right]): Expression => ({ kind: 'comparison', operator, left, right }),
    ),
    fc.tuple(fc.constantFrom<ComparisonOperator>('<', '>', '<=', '>='), tie('numeric'), tie('numeric')).map(
      ([operator, left, right]): Expression => ({ kind: 'comparison', operator, left, right }),
    ),
    fc.tuple(fc.boolean(), tie('numeric'), tie('numeric'), tie('numeric')).map(
      ([negated, value, low, high]): Expression => ({ kind: 'between', negated, value, low, high }),
    ),
    fc.tuple(fc.boolean(), fc.constantFrom(...IDENTIFIERS), fc.array(text, { minLength: 1, maxLength: 3 })).map(
      ([negated, name, values]): Expression => ({ kind: 'in', negated, identifier: name, values }),
    ),
    fc.tuple(fc.boolean(), fc.constantFrom(...IDENTIFIERS), text, fc.option(fc.constantFrom('!', '%', '_', '😀', "'"), { nil: null })).map(
      ([negated, name, pattern, escape]): Expression => ({ kind: 'like', negated, identifier: name, pattern, escape }),
    ),
    fc.tuple(fc.boolean(), fc.oneof(tie('comparable'), fc.constant(literal(null)))).map(([negated, operand]): Expression => ({ kind: 'isNull', negated, operand })),
  ),
  numeric: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    exactLiteral.map(literal),
    approximateLiteral.map(literal),
    identifier,
    fc.tuple(fc.constantFrom<ArithmeticOperator>('+', '-', '*', '/'), fc.oneof(tie('numeric'), fc.constant(literal(null))), tie('numeric')).map(
      ([operator, left, right]): Expression => ({ kind: 'arithmetic', operator, left, right }),
    ),
    fc.tuple(fc.constantFrom<'+' | '-'>('+', '-'), tie('numeric')).map(([operator, operand]): Expression => ({ kind: 'sign', operator, operand })),
  ),
  // Any operand of = and <> but the NULL literal, which the parser refuses there.
  comparable: fc.oneof(
    { depthSize: 'small' },
    tie('numeric'),
    text.map(literal),
    tie('condition').filter((operand) => !(operand.kind === 'literal' && operand.value === null)),
  ),
}));

const selectorValue: fc.Arbitrary<SelectorValue | undefined> = fc.oneof(
  fc.constant(undefined),
  fc.constant(null),
  text,
  fc.boolean(),
  exactLiteral,
  fc.double(),
  fc.constantFrom(Number.NaN, Infinity, -Infinity, -0),
  fc.constantFrom(NON_JMS_VALUE, Symbol('another value of no JMS type')),
);

const message: fc.Arbitrary<SelectorFields> = fc
  .tuple(...IDENTIFIERS.map(() => selectorValue))
  .map((values) => new Map(IDENTIFIERS.map((name, index) => [name, values[index]])));

function print(expression: Expression): string {
  return printSelector(expression);
}

describe('syntax', () => {
  test('printing an expression and parsing it back gives the same expression', () => {
    fc.assert(
      fc.property(condition, (expression) => {
        expect(parseSelector(print(expression))).toEqual(expression);
      }),
      { numRuns: RUNS },
    );
  });

  test('evaluation never throws, whatever the message holds', () => {
    fc.assert(
      fc.property(condition, message, (expression, fields) => {
        expect(typeof compileSelector(print(expression)).matches(fields)).toBe('boolean');
      }),
      { numRuns: RUNS },
    );
  });

  test('any text either compiles or is refused with a SelectorError', () => {
    const selectorish = fc.string({ unit: fc.constantFrom('a', '1', '0x', '.', 'e', "'", '"', '(', ')', '=', '<', '>', '+', '-', '*', '/', ' ', 'AND ', 'NOT ', 'IS ', 'NULL', 'LIKE ', 'IN ', 'BETWEEN ', 'ESCAPE ', ','), maxLength: 30 });
    fc.assert(
      fc.property(selectorish, message, (selectorText, fields) => {
        let selector;
        try {
          selector = compileSelector(selectorText);
        } catch (error) {
          expect((error as Error).name).toBe('SelectorError');
          return;
        }
        expect(typeof selector.matches(fields)).toBe('boolean');
      }),
      { numRuns: RUNS * 3 },
    );
  });
});

describe('three-valued logic', () => {
  const and = (left: TruthName, right: TruthName): TruthName =>
    left === 'FALSE' || right === 'FALSE' ? 'FALSE' : left === 'UNKNOWN' || right === 'UNKNOWN' ? 'UNKNOWN' : 'TRUE';
  const not = (value: TruthName): TruthName => (value === 'UNKNOWN' ? value : value === 'TRUE' ? 'FALSE' : 'TRUE');
  const or = (left: TruthName, right: TruthName): TruthName => not(and(not(left), not(right)));

  test('NOT NOT c is c; AND and OR follow the tables; De Morgan holds', () => {
    fc.assert(
      fc.property(condition, condition, message, (c, d, fields) => {
        const [left, right] = [`(${print(c)})`, `(${print(d)})`];
        const truthC = truthOf(left, fields);
        const truthD = truthOf(right, fields);
        expect(truthOf(`NOT NOT ${left}`, fields)).toBe(truthC);
        expect(truthOf(`${left} AND ${right}`, fields)).toBe(and(truthC, truthD));
        expect(truthOf(`${left} OR ${right}`, fields)).toBe(or(truthC, truthD));
        expect(truthOf(`NOT (${left} AND ${right})`, fields)).toBe(truthOf(`NOT ${left} OR NOT ${right}`, fields));
        expect(truthOf(`NOT (${left} OR ${right})`, fields)).toBe(truthOf(`NOT ${left} AND NOT ${right}`, fields));
      }),
      { numRuns: RUNS },
    );
  });

  test('BETWEEN is >= AND <=, NOT BETWEEN is < OR > (JMS 2.0 3.8.1.1)', () => {
    fc.assert(
      fc.property(numeric, numeric, numeric, message, (value, low, high, fields) => {
        const [v, l, h] = [value, low, high].map((operand) => `(${print(operand)})`);
        expect(truthOf(`${v} BETWEEN ${l} AND ${h}`, fields)).toBe(truthOf(`${v} >= ${l} AND ${v} <= ${h}`, fields));
        expect(truthOf(`${v} NOT BETWEEN ${l} AND ${h}`, fields)).toBe(truthOf(`${v} < ${l} OR ${v} > ${h}`, fields));
      }),
      { numRuns: RUNS },
    );
  });

  test('on strings and NULL, NOT IN and NOT LIKE are NOT (IN) and NOT (LIKE)', () => {
    const stringOrAbsent = fc.option(text, { nil: undefined });
    fc.assert(
      fc.property(stringOrAbsent, fc.array(text, { minLength: 1, maxLength: 3 }), text, (value, list, pattern) => {
        const fields = new Map([['v', value]]);
        const inList = `(${list.map((item) => `'${item.replaceAll("'", "''")}'`).join(', ')})`;
        const like = `'${pattern.replaceAll("'", "''")}'`;
        expect(truthOf(`v NOT IN ${inList}`, fields)).toBe(truthOf(`NOT (v IN ${inList})`, fields));
        expect(truthOf(`v NOT LIKE ${like}`, fields)).toBe(truthOf(`NOT (v LIKE ${like})`, fields));
        expect(truthOf(`v IN ${inList}`, fields)).toBe(value === undefined ? 'UNKNOWN' : list.includes(value) ? 'TRUE' : 'FALSE');
      }),
      { numRuns: RUNS },
    );
  });

  test('on values of one type, a <> b is NOT (a = b)', () => {
    const sameType = fc.oneof(fc.tuple(text, text), fc.tuple(fc.boolean(), fc.boolean()), fc.tuple(exactLiteral, fc.double()), fc.tuple(fc.double(), exactLiteral));
    fc.assert(
      fc.property(sameType, ([left, right]) => {
        const fields = new Map<string, SelectorValue>([['l', left], ['r', right]]);
        expect(truthOf('l <> r', fields)).toBe(truthOf('NOT (l = r)', fields));
      }),
      { numRuns: RUNS },
    );
  });
});

describe('exact arithmetic', () => {
  test('+, - and * on longs wrap at 64 bits, as Java longs do', () => {
    fc.assert(
      fc.property(exactLiteral, exactLiteral, (left, right) => {
        const fields = new Map<string, SelectorValue>([['l', left], ['r', right]]);
        expect(truthOf(`l + r = ${BigInt.asIntN(64, left + right)}`, fields)).toBe('TRUE');
        expect(truthOf(`l - r = ${BigInt.asIntN(64, left - right)}`, fields)).toBe('TRUE');
        expect(truthOf(`l * r = ${BigInt.asIntN(64, left * right)}`, fields)).toBe('TRUE');
        expect(truthOf('l < r', fields)).toBe(left < right ? 'TRUE' : 'FALSE');
      }),
      { numRuns: RUNS },
    );
  });
});

describe('LIKE', () => {
  /** The same language through a regular expression, on inputs too small for backtracking to matter. */
  function referenceLike(pattern: string, escape: string | null, value: string): boolean {
    const characters = [...pattern];
    let source = '';
    for (let index = 0; index < characters.length; index++) {
      const character = characters[index]!;
      const next = characters[index + 1];
      if (character === escape && next !== undefined && ['_', '%', escape].includes(next)) {
        source += escapeRegExp(next);
        index++;
      } else if (character === '%') source += '.*';
      else if (character === '_') source += '.';
      else source += escapeRegExp(character);
    }
    return new RegExp(`^(?:${source})$`, 'su').test(value);
  }

  function escapeRegExp(character: string): string {
    return /[\\^$.*+?()[\]{}|/]/.test(character) ? `\\${character}` : character;
  }

  test('matches as a regular expression built from the pattern would', () => {
    const unit = fc.constantFrom('a', 'b', '%', '_', '!', '😀', '\n');
    const escape = fc.option(fc.constantFrom('!', '%', '_', 'a', '😀'), { nil: null });
    const value = fc.string({ unit: fc.constantFrom('a', 'b', '!', '%', '_', '😀', '\n', '\ud800'), maxLength: 40 });
    fc.assert(
      fc.property(fc.string({ unit, maxLength: 40 }), escape, value, (pattern, escapeCharacter, candidate) => {
        expect(compileLike(pattern, escapeCharacter)(candidate)).toBe(referenceLike(pattern, escapeCharacter, candidate));
      }),
      { numRuns: RUNS * 10 },
    );
  });
});
