import type { ArithmeticOperator, ComparisonOperator, Expression } from './ast';
import { tokenize, type Keyword, type Punctuation, type Token } from './lexer';
import { DEFAULT_SELECTOR_LIMITS, type SelectorLimits } from './limits';
import { SelectorError } from './selector-error';

/**
 * Recursive-descent parser for JMS message selectors (JMS 2.0 3.8.1.1); null for a selector of
 * whitespace only, which JMS reads as no selector. Precedence, loosest first,
 * as in SQL and the specification's operator lists:
 *
 *   selector   := or
 *   or         := and (OR and)*
 *   and        := not (AND not)*
 *   not        := NOT not | predicate
 *   predicate  := additive [ (= | <> | < | > | <= | >=) additive
 *                          | [NOT] BETWEEN additive AND additive
 *                          | identifier [NOT] IN '(' string (',' string)* ')'
 *                          | identifier [NOT] LIKE string [ESCAPE string]
 *                          | IS [NOT] NULL ]
 *   additive   := multiplicative ((+ | -) multiplicative)*
 *   multiplicative := unary ((* | /) unary)*
 *   unary      := (+ | -) unary | primary
 *   primary    := literal | identifier | '(' or ')'
 *
 * So NOT applies to a whole comparison (NOT a = b is NOT (a = b)); ActiveMQ and Artemis bind NOT
 * to the operand alone ((NOT a) = b). Comparisons do not chain (a = b = c is an error).
 *
 * Types are checked where the text alone decides them, as Artemis does: a condition must be boolean
 * (or an identifier, read as a boolean); arithmetic takes numbers; <, >, <=, >= and BETWEEN take
 * numbers only (JMS: strings and booleans compare with = and <> alone); NULL is tested with IS NULL.
 */
export function parseSelector(text: string, limits: SelectorLimits = DEFAULT_SELECTOR_LIMITS): Expression | null {
  if (text.length > limits.maxLength) {
    throw new SelectorError(`selector is ${text.length} characters long, more than the limit of ${limits.maxLength}`, null);
  }
  const tokens = tokenize(text);
  // JMS 2.0 3.8.1.1: an empty selector is no selector at all.
  if (tokens.length === 1) return null;
  return new Parser(tokens, limits.maxDepth).parseSelector();
}

/** What the text alone says an expression yields; 'any' for an identifier (known only per message). */
type StaticType = 'boolean' | 'numeric' | 'string' | 'null' | 'any';

const COMPARISON_OPERATORS: ReadonlySet<string> = new Set(['=', '<>', '<', '>', '<=', '>=']);
const LONG_MAX = 2n ** 63n - 1n;

class Parser {
  private index = 0;
  /** Open parentheses, NOTs and signs around the current token: bounds the parser's recursion. */
  private nesting = 0;
  /** Where each expression starts and how deep its tree is (bounds the evaluator's recursion). */
  private readonly positions = new WeakMap<Expression, { column: number; depth: number }>();

  constructor(
    private readonly tokens: readonly Token[],
    private readonly maxDepth: number,
  ) {}

  parseSelector(): Expression {
    const expression = this.condition(this.parseOr());
    const next = this.peek();
    if (next.kind !== 'end') throw unexpected(next);
    return expression;
  }

  private parseOr(): Expression {
    return this.parseChain('OR', () => this.parseAnd());
  }

  private parseAnd(): Expression {
    return this.parseChain('AND', () => this.parseNot());
  }

  /** operand (keyword operand)*: one node for the whole chain. */
  private parseChain(keyword: 'AND' | 'OR', parseOperand: () => Expression): Expression {
    const first = parseOperand();
    if (!this.acceptKeyword(keyword)) return first;
    const operands = [this.condition(first)];
    do operands.push(this.condition(parseOperand()));
    while (this.acceptKeyword(keyword));
    return this.node({ kind: keyword === 'AND' ? 'and' : 'or', operands }, first, operands);
  }

  private parseNot(): Expression {
    const not = this.peek();
    if (!this.acceptKeyword('NOT')) return this.parsePredicate();
    const operand = this.nested(not, () => this.condition(this.parseNot()));
    return this.node({ kind: 'not', operand }, not, [operand]);
  }

  private parsePredicate(): Expression {
    const left = this.parseAdditive();
    const token = this.peek();
    if (token.kind === 'punctuation' && COMPARISON_OPERATORS.has(token.symbol)) {
      this.index++;
      const operator = token.symbol as ComparisonOperator;
      const right = this.parseAdditive();
      if (operator === '=' || operator === '<>') {
        this.equalityOperand(left, operator);
        this.equalityOperand(right, operator);
      } else {
        this.orderingOperand(left, operator);
        this.orderingOperand(right, operator);
      }
      return this.node({ kind: 'comparison', operator, left, right }, left, [left, right]);
    }
    if (this.acceptKeyword('IS')) {
      const negated = this.acceptKeyword('NOT');
      this.expectKeyword('NULL');
      return this.node({ kind: 'isNull', negated, operand: left }, left, [left]);
    }
    const negated = isKeyword(token, 'NOT') && isNegatablePredicate(this.tokens[this.index + 1]!);
    if (negated) this.index++;
    if (this.acceptKeyword('BETWEEN')) {
      const low = this.parseAdditive();
      this.expectKeyword('AND');
      const high = this.parseAdditive();
      for (const operand of [left, low, high]) this.orderingOperand(operand, 'BETWEEN');
      return this.node({ kind: 'between', negated, value: left, low, high }, left, [left, low, high]);
    }
    if (this.acceptKeyword('IN')) {
      const identifier = this.identifierOperand(left, 'IN');
      this.expectPunctuation('(');
      const values = [this.expectString()];
      while (this.acceptPunctuation(',')) values.push(this.expectString());
      this.expectPunctuation(')');
      return this.node({ kind: 'in', negated, identifier, values }, left, []);
    }
    if (this.acceptKeyword('LIKE')) {
      const identifier = this.identifierOperand(left, 'LIKE');
      const pattern = this.expectString();
      let escape: string | null = null;
      if (this.acceptKeyword('ESCAPE')) {
        const escapeToken = this.peek();
        escape = this.expectString();
        if ([...escape].length !== 1) throw new SelectorError(`ESCAPE ${escapeToken.lexeme} is not a single character`, escapeToken.column);
      }
      return this.node({ kind: 'like', negated, identifier, pattern, escape }, left, []);
    }
    return left;
  }

  private parseAdditive(): Expression {
    return this.parseArithmetic('+', '-', () => this.parseMultiplicative());
  }

  private parseMultiplicative(): Expression {
    return this.parseArithmetic('*', '/', () => this.parseUnary());
  }

  /** operand ((first | second) operand)*, grouped to the left. */
  private parseArithmetic(first: ArithmeticOperator, second: ArithmeticOperator, parseOperand: () => Expression): Expression {
    let left = parseOperand();
    for (let token = this.peek(); isPunctuation(token, first) || isPunctuation(token, second); token = this.peek()) {
      this.index++;
      const operator = token.symbol as ArithmeticOperator;
      const right = parseOperand();
      this.arithmeticOperand(left, operator);
      this.arithmeticOperand(right, operator);
      left = this.node({ kind: 'arithmetic', operator, left, right }, left, [left, right]);
    }
    return left;
  }

  private parseUnary(): Expression {
    const sign = this.peek();
    if (!isPunctuation(sign, '+') && !isPunctuation(sign, '-')) return this.parsePrimary();
    this.index++;
    const next = this.peek();
    // A sign written on a numeric literal belongs to it: -9223372036854775808 is Long.MIN_VALUE.
    if (next.kind === 'integer' || next.kind === 'approximate') {
      this.index++;
      const negative = sign.symbol === '-';
      if (next.kind === 'integer') {
        const value = negative ? -next.value : next.value;
        if (value > LONG_MAX) throw outOfRange(next);
        return this.node({ kind: 'literal', value }, sign, []);
      }
      return this.node({ kind: 'literal', value: negative ? -next.value : next.value }, sign, []);
    }
    const operand = this.nested(sign, () => this.parseUnary());
    this.arithmeticOperand(operand, sign.symbol);
    return this.node({ kind: 'sign', operator: sign.symbol as '+' | '-', operand }, sign, [operand]);
  }

  private parsePrimary(): Expression {
    const token = this.peek();
    this.index++;
    switch (token.kind) {
      case 'string':
      case 'approximate':
        return this.node({ kind: 'literal', value: token.value }, token, []);
      case 'integer':
        if (token.value > LONG_MAX) throw outOfRange(token);
        return this.node({ kind: 'literal', value: token.value }, token, []);
      case 'identifier':
        return this.node({ kind: 'identifier', name: token.name }, token, []);
      case 'keyword':
        if (token.keyword === 'TRUE' || token.keyword === 'FALSE') return this.node({ kind: 'literal', value: token.keyword === 'TRUE' }, token, []);
        if (token.keyword === 'NULL') return this.node({ kind: 'literal', value: null }, token, []);
        break;
      case 'punctuation':
        if (token.symbol === '(') {
          const inner = this.nested(token, () => this.parseOr());
          this.expectPunctuation(')');
          return inner;
        }
        break;
    }
    throw unexpected(token);
  }

  /** Records where `expression` starts and its depth, refusing trees deeper than the limit. */
  private node(expression: Expression, start: Expression | Token, children: readonly Expression[]): Expression {
    const column = 'column' in start ? start.column : this.position(start).column;
    let depth = 1;
    for (const child of children) depth = Math.max(depth, this.position(child).depth + 1);
    if (depth > this.maxDepth) throw this.tooDeep(column);
    this.positions.set(expression, { column, depth });
    return expression;
  }

  private position(expression: Expression): { column: number; depth: number } {
    return this.positions.get(expression)!;
  }

  private nested<T>(opening: Token, parse: () => T): T {
    if (++this.nesting > this.maxDepth) throw this.tooDeep(opening.column);
    const result = parse();
    this.nesting--;
    return result;
  }

  private tooDeep(column: number): SelectorError {
    return new SelectorError(`selector nests deeper than the limit of ${this.maxDepth}`, column);
  }

  private condition(expression: Expression): Expression {
    const type = staticType(expression);
    if (type === 'boolean' || type === 'any' || type === 'null') return expression;
    throw new SelectorError(`expected a condition, found ${describe(type)}`, this.position(expression).column);
  }

  private arithmeticOperand(expression: Expression, operator: string): void {
    const type = staticType(expression);
    if (type === 'numeric' || type === 'any' || type === 'null') return;
    throw new SelectorError(`'${operator}' needs numbers, found ${describe(type)}`, this.position(expression).column);
  }

  /** JMS 2.0 3.8.1.2: strings and booleans compare with = and <> only; NULL is tested with IS NULL. */
  private orderingOperand(expression: Expression, operator: string): void {
    const type = staticType(expression);
    if (type === 'numeric' || type === 'any') return;
    const advice = type === 'null' ? ' (use IS NULL)' : '';
    throw new SelectorError(`'${operator}' compares numbers only, found ${describe(type)}${advice}`, this.position(expression).column);
  }

  private equalityOperand(expression: Expression, operator: string): void {
    if (staticType(expression) !== 'null') return;
    throw new SelectorError(`NULL cannot be compared with '${operator}' (use IS ${operator === '=' ? '' : 'NOT '}NULL)`, this.position(expression).column);
  }

  /** JMS 2.0 3.8.1.1: IN and LIKE apply to an identifier. */
  private identifierOperand(expression: Expression, operator: string): string {
    if (expression.kind === 'identifier') return expression.name;
    throw new SelectorError(`${operator} needs an identifier on its left`, this.position(expression).column);
  }

  private peek(): Token {
    return this.tokens[this.index]!;
  }

  private acceptKeyword(keyword: Keyword): boolean {
    if (!isKeyword(this.peek(), keyword)) return false;
    this.index++;
    return true;
  }

  private expectKeyword(keyword: Keyword): void {
    if (!this.acceptKeyword(keyword)) throw expected(keyword, this.peek());
  }

  private acceptPunctuation(symbol: Punctuation): boolean {
    if (!isPunctuation(this.peek(), symbol)) return false;
    this.index++;
    return true;
  }

  private expectPunctuation(symbol: Punctuation): void {
    if (!this.acceptPunctuation(symbol)) throw expected(`'${symbol}'`, this.peek());
  }

  private expectString(): string {
    const token = this.peek();
    if (token.kind !== 'string') throw expected('a string literal', token);
    this.index++;
    return token.value;
  }
}

function staticType(expression: Expression): StaticType {
  switch (expression.kind) {
    case 'literal': {
      const value = expression.value;
      if (value === null) return 'null';
      if (typeof value === 'string') return 'string';
      if (typeof value === 'boolean') return 'boolean';
      return 'numeric';
    }
    case 'identifier':
      return 'any';
    case 'arithmetic':
    case 'sign':
      return 'numeric';
    default:
      return 'boolean';
  }
}

function describe(type: StaticType): string {
  switch (type) {
    case 'boolean':
      return 'a condition';
    case 'numeric':
      return 'a number';
    case 'string':
      return 'a string';
    case 'null':
      return 'NULL';
    case 'any':
      return 'an identifier';
  }
}

function isKeyword(token: Token, keyword: Keyword): boolean {
  return token.kind === 'keyword' && token.keyword === keyword;
}

/** NOT BETWEEN, NOT IN, NOT LIKE: any other NOT after an operand is out of place. */
function isNegatablePredicate(token: Token): boolean {
  return isKeyword(token, 'BETWEEN') || isKeyword(token, 'IN') || isKeyword(token, 'LIKE');
}

function isPunctuation(token: Token, symbol: Punctuation): token is Token & { kind: 'punctuation'; symbol: Punctuation } {
  return token.kind === 'punctuation' && token.symbol === symbol;
}

function unexpected(token: Token): SelectorError {
  if (token.kind === 'end') return new SelectorError('unexpected end of selector', token.column);
  return new SelectorError(`unexpected token ${quote(token.lexeme)}`, token.column);
}

function expected(what: string, token: Token): SelectorError {
  const found = token.kind === 'end' ? 'the end of the selector' : quote(token.lexeme);
  return new SelectorError(`expected ${what}, found ${found}`, token.column);
}

function outOfRange(token: Token): SelectorError {
  return new SelectorError(`integer ${token.lexeme} is out of the long range`, token.column);
}

/** A token as an error message shows it: quoted, and cut short when long. */
function quote(lexeme: string): string {
  return lexeme.length > 40 ? `'${lexeme.slice(0, 37)}...'` : `'${lexeme}'`;
}
