import type { Expression, LiteralValue } from '../../src/selector/ast';
import { KEYWORDS } from '../../src/selector/lexer';

/**
 * Writes an expression back as selector text that parses to the same expression: every operand in
 * parentheses (which leave no node), negative numeric literals with their sign attached.
 */
export function printSelector(expression: Expression): string {
  const group = (operand: Expression): string => `(${printSelector(operand)})`;
  switch (expression.kind) {
    case 'literal':
      return printLiteral(expression.value);
    case 'identifier':
      return printIdentifier(expression.name);
    case 'not':
      return `NOT ${group(expression.operand)}`;
    case 'and':
    case 'or':
      return expression.operands.map(group).join(expression.kind === 'and' ? ' AND ' : ' OR ');
    case 'comparison':
    case 'arithmetic':
      return `${group(expression.left)} ${expression.operator} ${group(expression.right)}`;
    case 'sign':
      return `${expression.operator}${group(expression.operand)}`;
    case 'between':
      return `${group(expression.value)} ${expression.negated ? 'NOT ' : ''}BETWEEN ${group(expression.low)} AND ${group(expression.high)}`;
    case 'in':
      return `${printIdentifier(expression.identifier)} ${expression.negated ? 'NOT ' : ''}IN (${expression.values.map(printString).join(', ')})`;
    case 'like': {
      const escape = expression.escape === null ? '' : ` ESCAPE ${printString(expression.escape)}`;
      return `${printIdentifier(expression.identifier)} ${expression.negated ? 'NOT ' : ''}LIKE ${printString(expression.pattern)}${escape}`;
    }
    case 'isNull':
      return `${group(expression.operand)} IS ${expression.negated ? 'NOT ' : ''}NULL`;
  }
}

function printLiteral(value: LiteralValue): string {
  if (value === null) return 'NULL';
  if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE';
  if (typeof value === 'string') return printString(value);
  if (typeof value === 'bigint') return String(value);
  if (Object.is(value, -0)) return '-0.0';
  const text = String(value);
  return /[.e]/.test(text) ? text : `${text}.0`;
}

function printString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

const KEYWORD_SET: ReadonlySet<string> = new Set(KEYWORDS);

function printIdentifier(name: string): string {
  if (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name) && !KEYWORD_SET.has(name.toUpperCase())) return name;
  return `"${name.replaceAll('"', '""')}"`;
}
