import { SelectorError } from './selector-error';

/**
 * Splits a JMS message selector into tokens (JMS 2.0 3.8.1.1). Literals follow Java's syntax, as the
 * specification asks: integers in decimal, octal (leading 0) or hex (0x), with an optional L;
 * approximate numbers with a point and/or an exponent, or an F / D suffix. Identifiers are Java
 * identifiers, case-sensitive; a double-quoted identifier ("a.b", "x-opt-key") can name any
 * property, as in ActiveMQ and Artemis. Keywords are case-insensitive.
 */

export const KEYWORDS = ['NOT', 'AND', 'OR', 'BETWEEN', 'LIKE', 'IN', 'IS', 'ESCAPE', 'TRUE', 'FALSE', 'NULL'] as const;
export type Keyword = (typeof KEYWORDS)[number];
const KEYWORD_SET: ReadonlySet<string> = new Set(KEYWORDS);

export type Punctuation = '(' | ')' | ',' | '=' | '<>' | '<' | '>' | '<=' | '>=' | '+' | '-' | '*' | '/';
const TWO_CHARACTER_PUNCTUATION: ReadonlySet<string> = new Set(['<>', '<=', '>=']);
const ONE_CHARACTER_PUNCTUATION: ReadonlySet<string> = new Set(['(', ')', ',', '=', '<', '>', '+', '-', '*', '/']);

interface TokenBase {
  /** 1-based position of the token's first character. */
  readonly column: number;
  /** The token as written. */
  readonly lexeme: string;
}

export type Token = TokenBase &
  (
    | { readonly kind: 'identifier'; readonly name: string }
    | { readonly kind: 'keyword'; readonly keyword: Keyword }
    | { readonly kind: 'string'; readonly value: string }
    /** Unsigned: a minus sign before it is a separate token (up to 2^63, the magnitude of Long.MIN_VALUE). */
    | { readonly kind: 'integer'; readonly value: bigint }
    | { readonly kind: 'approximate'; readonly value: number }
    | { readonly kind: 'punctuation'; readonly symbol: Punctuation }
    | { readonly kind: 'end' }
  );

/** JMS 2.0 3.8.1.1: whitespace is Java's (space, tab, form feed, line terminators). */
const WHITESPACE: ReadonlySet<string> = new Set([' ', '\t', '\n', '\r', '\f']);
/** Java's Character.isJavaIdentifierStart / isJavaIdentifierPart, by Unicode category. */
const IDENTIFIER_START = /[\p{L}\p{Nl}\p{Sc}\p{Pc}]/u;
const IDENTIFIER_PART = /[\p{L}\p{Nl}\p{Sc}\p{Pc}\p{Nd}\p{Mn}\p{Mc}]/u;
const ASCII_WORD = /^[A-Za-z]+$/;

export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let at = 0;
  for (;;) {
    while (at < text.length && WHITESPACE.has(text[at]!)) at++;
    if (at >= text.length) {
      tokens.push({ kind: 'end', column: at + 1, lexeme: '' });
      return tokens;
    }
    const token = readToken(text, at);
    tokens.push(token);
    at += token.lexeme.length;
  }
}

function readToken(text: string, at: number): Token {
  const column = at + 1;
  const char = text[at]!;
  if (char === "'") {
    const { value, end } = readQuoted(text, at, "'", 'string literal');
    return { kind: 'string', value, column, lexeme: text.slice(at, end) };
  }
  if (char === '"') {
    const { value, end } = readQuoted(text, at, '"', 'quoted identifier');
    if (value === '') throw new SelectorError('empty quoted identifier', column);
    return { kind: 'identifier', name: value, column, lexeme: text.slice(at, end) };
  }
  if (isDigit(char) || (char === '.' && isDigit(text[at + 1]))) return readNumber(text, at);
  const codePoint = String.fromCodePoint(text.codePointAt(at)!);
  if (IDENTIFIER_START.test(codePoint)) {
    const end = identifierEnd(text, at + codePoint.length);
    const word = text.slice(at, end);
    // ASCII only: 'ı'.toUpperCase() is 'I', and no such identifier is a keyword.
    const upper = ASCII_WORD.test(word) ? word.toUpperCase() : '';
    if (KEYWORD_SET.has(upper)) return { kind: 'keyword', keyword: upper as Keyword, column, lexeme: word };
    return { kind: 'identifier', name: word, column, lexeme: word };
  }
  const pair = text.slice(at, at + 2);
  if (TWO_CHARACTER_PUNCTUATION.has(pair)) return { kind: 'punctuation', symbol: pair as Punctuation, column, lexeme: pair };
  if (ONE_CHARACTER_PUNCTUATION.has(char)) return { kind: 'punctuation', symbol: char as Punctuation, column, lexeme: char };
  throw new SelectorError(`unexpected character '${codePoint}'`, column);
}

/** A literal between quotes, where a doubled quote stands for one (JMS 2.0 3.8.1.1: 'literal''s'). */
function readQuoted(text: string, at: number, quote: string, what: string): { value: string; end: number } {
  let value = '';
  let from = at + 1;
  for (;;) {
    const close = text.indexOf(quote, from);
    if (close < 0) throw new SelectorError(`unterminated ${what}`, at + 1);
    value += text.slice(from, close);
    if (text[close + 1] !== quote) return { value, end: close + 1 };
    value += quote;
    from = close + 2;
  }
}

function readNumber(text: string, at: number): Token {
  const column = at + 1;
  if (text[at] === '0' && (text[at + 1] === 'x' || text[at + 1] === 'X')) {
    const digitsEnd = scan(text, at + 2, isHexDigit);
    if (digitsEnd === at + 2) throw invalidNumber(text, at);
    const end = text[digitsEnd] === 'l' || text[digitsEnd] === 'L' ? digitsEnd + 1 : digitsEnd;
    checkNumberEnd(text, at, end);
    return { kind: 'integer', value: BigInt(text.slice(at, digitsEnd)), column, lexeme: text.slice(at, end) };
  }
  let end = scan(text, at, isDigit);
  const integerEnd = end;
  let approximate = false;
  if (text[end] === '.') {
    approximate = true;
    end = scan(text, end + 1, isDigit);
  }
  if (text[end] === 'e' || text[end] === 'E') {
    approximate = true;
    let digitsFrom = end + 1;
    if (text[digitsFrom] === '+' || text[digitsFrom] === '-') digitsFrom++;
    end = scan(text, digitsFrom, isDigit);
    if (end === digitsFrom) throw invalidNumber(text, at);
  }
  const numberEnd = end;
  const suffix = text[end];
  if (suffix === 'f' || suffix === 'F' || suffix === 'd' || suffix === 'D') {
    end++;
    checkNumberEnd(text, at, end);
    const value = Number(text.slice(at, numberEnd));
    // Java: a float literal is rounded to single precision (1.1F != 1.1).
    return { kind: 'approximate', value: suffix === 'f' || suffix === 'F' ? Math.fround(value) : value, column, lexeme: text.slice(at, end) };
  }
  if (approximate) {
    checkNumberEnd(text, at, end);
    return { kind: 'approximate', value: Number(text.slice(at, end)), column, lexeme: text.slice(at, end) };
  }
  if (suffix === 'l' || suffix === 'L') end++;
  checkNumberEnd(text, at, end);
  const digits = text.slice(at, integerEnd);
  if (digits.length > 1 && digits[0] === '0') {
    // Java: a leading zero makes an octal literal.
    if (!/^[0-7]+$/.test(digits)) throw new SelectorError(`invalid octal literal '${text.slice(at, end)}'`, column);
    return { kind: 'integer', value: BigInt(`0o${digits.slice(1)}`), column, lexeme: text.slice(at, end) };
  }
  return { kind: 'integer', value: BigInt(digits), column, lexeme: text.slice(at, end) };
}

/** A number runs into a letter, digit or point only when it is malformed (12abc, 1.2.3, 0x1G). */
function checkNumberEnd(text: string, at: number, end: number): void {
  const next = text[end];
  if (next !== undefined && (next === '.' || IDENTIFIER_PART.test(String.fromCodePoint(text.codePointAt(end)!)))) throw invalidNumber(text, at);
}

/** Names the whole malformed run: the number and the letters, digits and points stuck to it. */
function invalidNumber(text: string, at: number): SelectorError {
  return new SelectorError(`invalid numeric literal '${text.slice(at, identifierEnd(text, at, true))}'`, at + 1);
}

function identifierEnd(text: string, from: number, withPoints = false): number {
  let end = from;
  while (end < text.length) {
    if (withPoints && text[end] === '.') {
      end++;
      continue;
    }
    const codePoint = String.fromCodePoint(text.codePointAt(end)!);
    if (!IDENTIFIER_PART.test(codePoint)) return end;
    end += codePoint.length;
  }
  return end;
}

function scan(text: string, from: number, accept: (char: string | undefined) => boolean): number {
  let end = from;
  while (accept(text[end])) end++;
  return end;
}

function isDigit(char: string | undefined): boolean {
  return char !== undefined && char >= '0' && char <= '9';
}

function isHexDigit(char: string | undefined): boolean {
  return isDigit(char) || (char !== undefined && ((char >= 'a' && char <= 'f') || (char >= 'A' && char <= 'F')));
}
