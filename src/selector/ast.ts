/**
 * The parsed form of a JMS message selector (JMS 2.0 3.8.1.1). Parentheses leave no node; a chain of
 * ANDs or ORs is one node with all its operands. A minus sign directly before a numeric literal is
 * part of the literal (so -9223372036854775808 is a long, as in Java).
 */

/** bigint: exact numeric; number: approximate numeric; null: the NULL literal. */
export type LiteralValue = string | boolean | number | bigint | null;

export type ComparisonOperator = '=' | '<>' | '<' | '>' | '<=' | '>=';
export type ArithmeticOperator = '+' | '-' | '*' | '/';

export type Expression =
  | { readonly kind: 'literal'; readonly value: LiteralValue }
  | { readonly kind: 'identifier'; readonly name: string }
  | { readonly kind: 'not'; readonly operand: Expression }
  | { readonly kind: 'and'; readonly operands: readonly Expression[] }
  | { readonly kind: 'or'; readonly operands: readonly Expression[] }
  | { readonly kind: 'comparison'; readonly operator: ComparisonOperator; readonly left: Expression; readonly right: Expression }
  | { readonly kind: 'arithmetic'; readonly operator: ArithmeticOperator; readonly left: Expression; readonly right: Expression }
  | { readonly kind: 'sign'; readonly operator: '+' | '-'; readonly operand: Expression }
  | { readonly kind: 'between'; readonly negated: boolean; readonly value: Expression; readonly low: Expression; readonly high: Expression }
  | { readonly kind: 'in'; readonly negated: boolean; readonly identifier: string; readonly values: readonly string[] }
  | {
      readonly kind: 'like';
      readonly negated: boolean;
      readonly identifier: string;
      readonly pattern: string;
      readonly escape: string | null;
    }
  | { readonly kind: 'isNull'; readonly negated: boolean; readonly operand: Expression };

/** Every identifier the expression reads, each once. */
export function referencedIdentifiers(expression: Expression): Set<string> {
  const names = new Set<string>();
  const visit = (node: Expression): void => {
    switch (node.kind) {
      case 'literal':
        return;
      case 'identifier':
        names.add(node.name);
        return;
      case 'in':
      case 'like':
        names.add(node.identifier);
        return;
      case 'not':
      case 'sign':
      case 'isNull':
        visit(node.operand);
        return;
      case 'and':
      case 'or':
        node.operands.forEach(visit);
        return;
      case 'comparison':
      case 'arithmetic':
        visit(node.left);
        visit(node.right);
        return;
      case 'between':
        visit(node.value);
        visit(node.low);
        visit(node.high);
        return;
    }
  };
  visit(expression);
  return names;
}
