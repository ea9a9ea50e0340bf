import { describe, expect, test } from 'vitest';
import { compileSelector } from '../../src/selector/compile';
import { NON_JMS_VALUE, type SelectorValue } from '../../src/selector/values';
import { fields, truthOf, type TruthName } from './support';

/**
 * The JMS 2.0 message selector language (3.8.1), rule by rule. Every row names the three-valued
 * result (TRUE, FALSE, UNKNOWN) of a condition over these fields.
 */
const MESSAGE: Record<string, SelectorValue> = {
  s: 'abc',
  empty: '',
  quote: "'In God We Trust'",
  n: 5n,
  zero: 0n,
  d: 2.5,
  big: 2n ** 60n + 1n,
  maxLong: 2n ** 63n - 1n,
  minLong: -(2n ** 63n),
  t: true,
  f: false,
  other: NON_JMS_VALUE,
  otherToo: Symbol('another value of no JMS type'),
  Color: 'Red',
  'a.b': 'dotted',
  größe: 42n,
  $x_1: 'java identifier',
};

function expectTruth(rows: readonly (readonly [string, TruthName])[]): void {
  for (const [condition, expected] of rows) {
    expect({ condition, result: truthOf(condition, MESSAGE) }).toEqual({ condition, result: expected });
  }
}

describe('three-valued logic (JMS 2.0 3.8.1.1 tables)', () => {
  const VALUES = { TRUE: 't', FALSE: 'f', UNKNOWN: 'missing' } as const;
  const NAMES = ['TRUE', 'FALSE', 'UNKNOWN'] as const;
  const AND: Record<string, TruthName> = {
    'TRUE TRUE': 'TRUE', 'TRUE FALSE': 'FALSE', 'TRUE UNKNOWN': 'UNKNOWN',
    'FALSE TRUE': 'FALSE', 'FALSE FALSE': 'FALSE', 'FALSE UNKNOWN': 'FALSE',
    'UNKNOWN TRUE': 'UNKNOWN', 'UNKNOWN FALSE': 'FALSE', 'UNKNOWN UNKNOWN': 'UNKNOWN',
  };
  const OR: Record<string, TruthName> = {
    'TRUE TRUE': 'TRUE', 'TRUE FALSE': 'TRUE', 'TRUE UNKNOWN': 'TRUE',
    'FALSE TRUE': 'TRUE', 'FALSE FALSE': 'FALSE', 'FALSE UNKNOWN': 'UNKNOWN',
    'UNKNOWN TRUE': 'TRUE', 'UNKNOWN FALSE': 'UNKNOWN', 'UNKNOWN UNKNOWN': 'UNKNOWN',
  };

  test.each(NAMES.flatMap((left) => NAMES.map((right) => [left, right] as const)))('%s AND / OR %s, as identifiers and as literals', (left, right) => {
    const literal = (name: TruthName): string => (name === 'UNKNOWN' ? 'NULL' : name);
    expect(truthOf(`${VALUES[left]} AND ${VALUES[right]}`, MESSAGE)).toBe(AND[`${left} ${right}`]);
    expect(truthOf(`${VALUES[left]} OR ${VALUES[right]}`, MESSAGE)).toBe(OR[`${left} ${right}`]);
    expect(truthOf(`${literal(left)} AND ${literal(right)}`)).toBe(AND[`${left} ${right}`]);
    expect(truthOf(`${literal(left)} OR ${literal(right)}`)).toBe(OR[`${left} ${right}`]);
  });

  test('NOT', () => {
    expectTruth([
      ['NOT t', 'FALSE'],
      ['NOT f', 'TRUE'],
      ['NOT missing', 'UNKNOWN'],
      ['NOT NOT t', 'TRUE'],
      ['NOT NOT missing', 'UNKNOWN'],
      ['NOT NULL', 'UNKNOWN'],
    ]);
  });

  test('a chain of ANDs or ORs is decided by its operands together', () => {
    expectTruth([
      ['t AND t AND missing', 'UNKNOWN'],
      ['missing AND t AND f', 'FALSE'],
      ['f OR missing OR f', 'UNKNOWN'],
      ['missing OR f OR t', 'TRUE'],
    ]);
  });

  test('only TRUE matches: FALSE and UNKNOWN select nothing', () => {
    expect(compileSelector('t').matches(fields(MESSAGE))).toBe(true);
    expect(compileSelector('f').matches(fields(MESSAGE))).toBe(false);
    expect(compileSelector('missing').matches(fields(MESSAGE))).toBe(false);
    expect(compileSelector('missing = 1').matches(fields(MESSAGE))).toBe(false);
  });

  test('an identifier read as a condition: a boolean is itself, NULL unknown, any other value false', () => {
    expectTruth([
      ['s', 'FALSE'],
      ['n', 'FALSE'],
      ['other', 'FALSE'],
      ['missing', 'UNKNOWN'],
      ['t AND s', 'FALSE'],
    ]);
  });
});

describe('literals', () => {
  test('strings, with a doubled quote for a quote', () => {
    expectTruth([
      ["s = 'abc'", 'TRUE'],
      ["s = 'ABC'", 'FALSE'],
      ["empty = ''", 'TRUE'],
      ["quote = '''In God We Trust'''", 'TRUE'],
      ["'it''s' = 'it''s'", 'TRUE'],
      ["'a\nb' <> 'a b'", 'TRUE'],
    ]);
  });

  test('exact numerics: decimal, octal, hex, L suffix, the whole long range', () => {
    expectTruth([
      ['n = 5', 'TRUE'],
      ['n = 5L', 'TRUE'],
      ['n = 5l', 'TRUE'],
      ['n = 05', 'TRUE'],
      ['8 = 010', 'TRUE'],
      ['0 = 00', 'TRUE'],
      ['0x1F = 31', 'TRUE'],
      ['0X1f = 31', 'TRUE'],
      ['0x7FFFFFFFFFFFFFFF = maxLong', 'TRUE'],
      ['9223372036854775807 = maxLong', 'TRUE'],
      ['-9223372036854775808 = minLong', 'TRUE'],
      ['big = 1152921504606846977', 'TRUE'],
      ['big = 1152921504606846976', 'FALSE'],
      ['+5 = n', 'TRUE'],
      ['- 5 = -n', 'TRUE'],
    ]);
  });

  test('approximate numerics: point, exponent, F and D suffixes', () => {
    expectTruth([
      ['d = 2.5', 'TRUE'],
      ['d = 25E-1', 'TRUE'],
      ['d = .25e1', 'TRUE'],
      ['d = 2.5D', 'TRUE'],
      ['d = 2.5f', 'TRUE'],
      ['5. = n', 'TRUE'],
      ['5.E0 = n', 'TRUE'],
      ['5e+0 = n', 'TRUE'],
      ['5F = n', 'TRUE'],
      ['5d = n', 'TRUE'],
      ['1.0E1 < 1.1E1', 'TRUE'],
      ['-.5E1 < .1E1', 'TRUE'],
      ['4E-10 < 5E-10', 'TRUE'],
      // Java: a float literal is rounded to single precision.
      ['1.1F = 1.1', 'FALSE'],
      ['1.1F = 1.100000023841858', 'TRUE'],
      ['1e400 > 1e308', 'TRUE'],
    ]);
  });

  test('booleans and NULL, keywords in any case', () => {
    expectTruth([
      ['TRUE', 'TRUE'],
      ['true', 'TRUE'],
      ['False', 'FALSE'],
      ['t = TRUE', 'TRUE'],
      ['f = false', 'TRUE'],
      ['t <> FALSE', 'TRUE'],
      ['NULL', 'UNKNOWN'],
      ['nUlL', 'UNKNOWN'],
      ["s iN ('abc') aNd n bEtWeEn 1 AnD 9 Or NoT t", 'TRUE'],
      ['missing iS nOt NuLl', 'FALSE'],
      ["s LiKe 'a!%' EsCaPe '!'", 'FALSE'],
    ]);
  });
});

describe('identifiers', () => {
  test('are case-sensitive Java identifiers; quoted ones name any property', () => {
    expectTruth([
      ["Color = 'Red'", 'TRUE'],
      ["color = 'Red'", 'UNKNOWN'],
      ["COLOR = 'Red'", 'UNKNOWN'],
      ['größe = 42', 'TRUE'],
      ["$x_1 = 'java identifier'", 'TRUE'],
      ['"a.b" = \'dotted\'', 'TRUE'],
      ['"s" = \'abc\'', 'TRUE'],
      ['"AND" IS NULL', 'TRUE'],
      ['"say ""hi""" IS NULL', 'TRUE'],
    ]);
  });

  test('an identifier that is absent is NULL', () => {
    expectTruth([
      ['missing IS NULL', 'TRUE'],
      ['missing = 1', 'UNKNOWN'],
      ["missing <> 'x'", 'UNKNOWN'],
    ]);
  });

  test('a selector lists the identifiers it reads, each once', () => {
    const selector = compileSelector("a = 1 AND (b LIKE 'x%' OR c IN ('y')) AND a + d BETWEEN e AND 2 AND \"f.g\" IS NULL AND NOT h");
    expect([...selector.identifiers].sort()).toEqual(['a', 'b', 'c', 'd', 'e', 'f.g', 'h']);
    expect([...compileSelector('TRUE').identifiers]).toEqual([]);
  });
});

describe('comparisons (JMS 2.0 3.8.1.2)', () => {
  test('numbers of every kind compare by value: exact with approximate, long beyond 2^53 exactly', () => {
    expectTruth([
      ['n = 5.0', 'TRUE'],
      ['n > 4.9', 'TRUE'],
      ['n >= 5', 'TRUE'],
      ['n < 5', 'FALSE'],
      ['n <= 5.0', 'TRUE'],
      ['n <> 5', 'FALSE'],
      ['n <> 6', 'TRUE'],
      ['d > 2', 'TRUE'],
      ['d < 3', 'TRUE'],
      ['big > 1152921504606846976', 'TRUE'],
      ['big = 1152921504606846976.0', 'FALSE'],
      ['maxLong > 9.2233720368547748E18', 'TRUE'],
      ['minLong < -9223372036854775807', 'TRUE'],
    ]);
  });

  test('strings and booleans compare with = and <> only', () => {
    expectTruth([
      ["s = 'abc'", 'TRUE'],
      ["s <> 'abd'", 'TRUE'],
      ['t = t', 'TRUE'],
      ['t <> f', 'TRUE'],
      // An identifier holding a string under <, >: false, as for unlike types.
      ['s > n', 'FALSE'],
      ['s < s', 'FALSE'],
      ['t >= t', 'FALSE'],
    ]);
  });

  test('values of unlike types compare false, with = and <> alike; NULL makes it unknown', () => {
    expectTruth([
      ["n = '5'", 'FALSE'],
      ["n <> '5'", 'FALSE'],
      ['s = 1', 'FALSE'],
      ['s <> 1', 'FALSE'],
      ['t = 1', 'FALSE'],
      ["t <> 'true'", 'FALSE'],
      ['NOT (s = 1)', 'TRUE'],
      ['missing = s', 'UNKNOWN'],
      ['s = missing', 'UNKNOWN'],
      ['missing = missing2', 'UNKNOWN'],
      ['missing < 1', 'UNKNOWN'],
    ]);
  });

  test('a property of a type JMS does not know is present but equals nothing', () => {
    expectTruth([
      ['other IS NOT NULL', 'TRUE'],
      ['other = other', 'FALSE'],
      ['other = otherToo', 'FALSE'],
      ['otherToo IS NULL', 'FALSE'],
      ['other <> other', 'FALSE'],
      ["other = 'x'", 'FALSE'],
      ['other > 1', 'FALSE'],
      ["other LIKE '%'", 'FALSE'],
      ["other IN ('x')", 'FALSE'],
      ['other + 1 IS NULL', 'TRUE'],
    ]);
  });
});

describe('arithmetic', () => {
  test('precedence: unary signs, then * /, then + -; parentheses group', () => {
    expectTruth([
      ['1 + 2 * 3 = 7', 'TRUE'],
      ['(1 + 2) * 3 = 9', 'TRUE'],
      ['10 - 4 - 3 = 3', 'TRUE'],
      ['-n * -2 = 10', 'TRUE'],
      ['- -n = n', 'TRUE'],
      ['-(n) = -5', 'TRUE'],
      ['+n = 5', 'TRUE'],
      ['n * 2 + d = 12.5', 'TRUE'],
      ['24 / 4 / 2 = 3', 'TRUE'],
    ]);
  });

  test('exact stays exact, wrapping at 64 bits like a Java long; anything approximate is approximate', () => {
    expectTruth([
      ['maxLong + 1 = minLong', 'TRUE'],
      ['minLong - 1 = maxLong', 'TRUE'],
      ['maxLong * 2 = -2', 'TRUE'],
      ['-minLong = minLong', 'TRUE'],
      ['big + 1 = 1152921504606846978', 'TRUE'],
      ['n + d = 7.5', 'TRUE'],
      ['maxLong + 1.0 > maxLong', 'TRUE'],
    ]);
  });

  test('division is approximate (as in ActiveMQ and Artemis); by zero gives an infinity or NaN', () => {
    expectTruth([
      ['7 / 2 = 3.5', 'TRUE'],
      ['n / 2 = 2.5', 'TRUE'],
      ['4 / 2 = 2', 'TRUE'],
      ['n / 0 > 1e308', 'TRUE'],
      ['-n / 0 < -1e308', 'TRUE'],
      ['n / zero > 0', 'TRUE'],
      ['0 / 0 = 0 / 0', 'FALSE'],
      ['0 / 0 <> 0 / 0', 'TRUE'],
      ['0 / 0 < 1 OR 0 / 0 >= 1', 'FALSE'],
    ]);
  });

  test('NULL or a non-number makes arithmetic unknown', () => {
    expectTruth([
      ['missing + 1 = 1', 'UNKNOWN'],
      ['missing + 1 IS NULL', 'TRUE'],
      ['NULL * 2 IS NULL', 'TRUE'],
      ['s + 1 = 1', 'UNKNOWN'],
      ['-s IS NULL', 'TRUE'],
      ['+t IS NULL', 'TRUE'],
      ['n / s IS NULL', 'TRUE'],
    ]);
  });
});

describe('BETWEEN (JMS 2.0 3.8.1.1: inclusive; NOT BETWEEN is < OR >)', () => {
  test('bounds are inclusive and may be expressions', () => {
    expectTruth([
      ['n BETWEEN 5 AND 9', 'TRUE'],
      ['n BETWEEN 1 AND 5', 'TRUE'],
      ['n BETWEEN 6 AND 9', 'FALSE'],
      ['n BETWEEN 9 AND 1', 'FALSE'],
      ['n NOT BETWEEN 6 AND 9', 'TRUE'],
      ['n NOT BETWEEN 5 AND 5', 'FALSE'],
      ['d BETWEEN 2 AND 3', 'TRUE'],
      ['n BETWEEN n - 1 AND n + 1 AND t', 'TRUE'],
      ['n + 1 BETWEEN 6 AND 6', 'TRUE'],
    ]);
  });

  test('NULL and unlike types', () => {
    expectTruth([
      ['missing BETWEEN 1 AND 9', 'UNKNOWN'],
      ['missing NOT BETWEEN 1 AND 9', 'UNKNOWN'],
      ['n BETWEEN missing AND 9', 'UNKNOWN'],
      // A bound that fails decides: 5 >= NULL is unknown but 5 <= 1 is false.
      ['n BETWEEN missing AND 1', 'FALSE'],
      ['n NOT BETWEEN missing AND 1', 'TRUE'],
      ['s BETWEEN 1 AND 9', 'FALSE'],
      ['s NOT BETWEEN 1 AND 9', 'FALSE'],
    ]);
  });
});

describe('IN', () => {
  test('a string identifier in a list of string literals', () => {
    expectTruth([
      ["s IN ('abc')", 'TRUE'],
      ["s IN ('x', 'abc', 'y')", 'TRUE'],
      ["s IN ('x', 'y')", 'FALSE'],
      ["s NOT IN ('x', 'y')", 'TRUE'],
      ["s NOT IN ('abc', 'y')", 'FALSE'],
      ["s IN ('ABC')", 'FALSE'],
      ["empty IN ('')", 'TRUE'],
      ["quote IN ('''In God We Trust''')", 'TRUE'],
    ]);
  });

  test('NULL is unknown; a non-string is false, negated or not', () => {
    expectTruth([
      ["missing IN ('x')", 'UNKNOWN'],
      ["missing NOT IN ('x')", 'UNKNOWN'],
      ["n IN ('5')", 'FALSE'],
      ["n NOT IN ('5')", 'FALSE'],
    ]);
  });

  test('a long list', () => {
    const list = Array.from({ length: 500 }, (_, index) => `'v${index}'`).join(', ');
    expect(truthOf(`v IN (${list})`, { v: 'v499' })).toBe('TRUE');
    expect(truthOf(`v IN (${list})`, { v: 'v500' })).toBe('FALSE');
  });
});

describe('LIKE', () => {
  test('% is any run, _ any one character, the rest literal', () => {
    expectTruth([
      ["s LIKE 'abc'", 'TRUE'],
      ["s LIKE 'ab'", 'FALSE'],
      ["s LIKE 'a%'", 'TRUE'],
      ["s LIKE '%c'", 'TRUE'],
      ["s LIKE '%b%'", 'TRUE'],
      ["s LIKE '%abc%'", 'TRUE'],
      ["s LIKE '%'", 'TRUE'],
      ["empty LIKE '%'", 'TRUE'],
      ["empty LIKE '_'", 'FALSE'],
      ["s LIKE '___'", 'TRUE'],
      ["s LIKE '__'", 'FALSE'],
      ["s LIKE 'a_c'", 'TRUE'],
      ["s LIKE '_%_%_'", 'TRUE'],
      ["s LIKE '_%_%_%_'", 'FALSE'],
      ["s LIKE 'a%%c'", 'TRUE'],
      ["s LIKE 'abc%'", 'TRUE'],
      ["s LIKE '%abc'", 'TRUE'],
      ["s LIKE 'ab%bc'", 'FALSE'],
      ["s LIKE 'A%'", 'FALSE'],
      ["s NOT LIKE 'x%'", 'TRUE'],
      ["s NOT LIKE 'a%'", 'FALSE'],
      ["quote LIKE '''In G_d We Trust'''", 'TRUE'],
      ["quote LIKE '''In Gd_ We Trust'''", 'FALSE'],
    ]);
  });

  test('regular expression characters are plain characters', () => {
    const punctuation = '!#$&()*+,-./:;<=>?@[\\]^`{|}~';
    expect(truthOf(`p LIKE '${punctuation}'`, { p: punctuation })).toBe('TRUE');
    expect(truthOf("p LIKE 'a.c'", { p: 'abc' })).toBe('FALSE');
    expect(truthOf("p LIKE 'a*'", { p: 'aaa' })).toBe('FALSE');
    expect(truthOf("p LIKE '(a|b)'", { p: 'a' })).toBe('FALSE');
  });

  test('_ and % match line breaks and whole surrogate pairs', () => {
    expect(truthOf("p LIKE 'a_b'", { p: 'a\nb' })).toBe('TRUE');
    expect(truthOf("p LIKE 'a%b'", { p: 'a\r\n\nb' })).toBe('TRUE');
    expect(truthOf("p LIKE 'a_b'", { p: 'a😀b' })).toBe('TRUE');
    expect(truthOf("p LIKE 'a__b'", { p: 'a😀b' })).toBe('FALSE');
    expect(truthOf("p LIKE '%_b'", { p: '😀b' })).toBe('TRUE');
    expect(truthOf("p LIKE '_'", { p: '😀' })).toBe('TRUE');
    expect(truthOf("p LIKE '%😀_%'", { p: 'x😀😀y' })).toBe('TRUE');
    expect(truthOf("p LIKE '%x_y%'", { p: 'x😀y' })).toBe('TRUE');
    expect(truthOf("p LIKE '😀%'", { p: '😀a' })).toBe('TRUE');
  });

  test('ESCAPE makes the next _, % or escape character literal (as in ActiveMQ and Artemis)', () => {
    expectTruth([
      ["s LIKE 'a!%' ESCAPE '!'", 'FALSE'],
      ["s LIKE 'ab!_' ESCAPE '!'", 'FALSE'],
    ]);
    const escapes: readonly (readonly [string, string, boolean])[] = [
      ["'!_%' ESCAPE '!'", '_foo', true],
      ["'!_%' ESCAPE '!'", 'xfoo', false],
      ["'100!%' ESCAPE '!'", '100%', true],
      ["'100!%' ESCAPE '!'", '1000', false],
      ["'a!!b' ESCAPE '!'", 'a!b', true],
      ["'a!b' ESCAPE '!'", 'a!b', true],
      ["'a\\_b' ESCAPE '\\'", 'a_b', true],
      ["'a\\_b' ESCAPE '\\'", 'axb', false],
      // Artemis testSpecialEscapeLiteral: the escape may itself be % or _.
      ["'%_%' ESCAPE '%'", '_foo', true],
      ["'_D7xlJIQn$_' ESCAPE '$'", 'XD7xlJIQn_', true],
      ["'_D7xlJIQn__' ESCAPE '_'", 'XD7xlJIQn_', true],
      ["'%D7xlJIQn%_' ESCAPE '%'", 'XD7xlJIQn_', true],
      ["'%D7xlJIQn%' ESCAPE '%'", 'XD7xlJIQn_', true],
      ["'%D7xlJIQn%%' ESCAPE '%'", 'XD7xlJIQn_', false],
      ["'%D7xlJIQn\\_' ESCAPE '\\'", 'XD7xlJIQn_', true],
      ["'%😀%%' ESCAPE '😀'", 'a%', true],
    ];
    for (const [pattern, value, expected] of escapes) {
      expect({ pattern, value, matches: compileSelector(`p LIKE ${pattern}`).matches(fields({ p: value })) }).toEqual({ pattern, value, matches: expected });
    }
  });

  test('NULL is unknown; a non-string is false, negated or not', () => {
    expectTruth([
      ["missing LIKE '%'", 'UNKNOWN'],
      ["missing NOT LIKE '%'", 'UNKNOWN'],
      ["n LIKE '5'", 'FALSE'],
      ["n NOT LIKE '5'", 'FALSE'],
    ]);
  });
});

describe('IS NULL', () => {
  test('is never unknown', () => {
    expectTruth([
      ['missing IS NULL', 'TRUE'],
      ['missing IS NOT NULL', 'FALSE'],
      ['s IS NULL', 'FALSE'],
      ['s IS NOT NULL', 'TRUE'],
      ['f IS NOT NULL', 'TRUE'],
      ['zero IS NULL', 'FALSE'],
      ['empty IS NULL', 'FALSE'],
      ['(n = missing) IS NULL', 'TRUE'],
      ['NULL IS NULL', 'TRUE'],
    ]);
  });
});

describe('precedence of the logical operators', () => {
  test('NOT applies to the whole comparison after it (SQL; ActiveMQ binds it to the operand)', () => {
    expectTruth([
      ["NOT s = 'xyz'", 'TRUE'],
      ["NOT s = 'abc'", 'FALSE'],
      ['NOT n BETWEEN 1 AND 3', 'TRUE'],
      ["NOT s LIKE 'a%'", 'FALSE'],
      ["NOT s IN ('abc')", 'FALSE'],
      ['NOT missing IS NULL', 'FALSE'],
    ]);
  });

  test('NOT before AND before OR', () => {
    expectTruth([
      ['t OR t AND f', 'TRUE'],
      ['(t OR t) AND f', 'FALSE'],
      ['NOT f AND f', 'FALSE'],
      ['NOT (f AND f)', 'TRUE'],
      ['f AND f OR t', 'TRUE'],
      ['NOT t OR t', 'TRUE'],
    ]);
  });

  test('a parenthesised condition compares with = and <>', () => {
    expectTruth([
      ['(n > 1) = TRUE', 'TRUE'],
      ['(n > 1) = (d > 1)', 'TRUE'],
      ['(n > 1) <> t', 'FALSE'],
    ]);
  });
});

test('a selector of whitespace only selects every message (JMS: no selector)', () => {
  for (const text of ['', ' ', '\t\r\n\f']) {
    const selector = compileSelector(text);
    expect(selector.matches(fields())).toBe(true);
    expect(selector.identifiers.size).toBe(0);
    expect(selector.text).toBe(text);
  }
});

test('whitespace is space, tab, form feed and line breaks', () => {
  expect(truthOf('n\t=\n5\rAND\fs\r\n=\'abc\'', MESSAGE)).toBe('TRUE');
});
