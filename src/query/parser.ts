/**
 * Recursive-descent parser of the Dataverse Web API $filter subset:
 *
 *   filter     := or END
 *   or         := and ('or' and)*
 *   and        := unary ('and' unary)*
 *   unary      := 'not' unary | '(' or ')' | function | comparison
 *   function   := ('contains' | 'startswith' | 'endswith') '(' column ',' string ')'
 *   comparison := operand ('eq' | 'ne' | 'gt' | 'ge' | 'lt' | 'le') operand
 *   operand    := column | string | number | instant | guid | 'true' | 'false' | 'null'
 *
 * Precedence is OData's: not > comparison > and > or. Chains of and/or become one n-ary node, and
 * nesting (parentheses and `not`) is limited, so neither parsing nor evaluating can overflow the stack.
 * Every failure is a RekeyError (ODATA_SYNTAX or ODATA_UNKNOWN_COLUMN), whatever the input.
 */
import { RekeyError } from '../kernel/errors.js';
import {
  COMPARISON_OPERATORS,
  STRING_FUNCTIONS,
  type ComparisonOperator,
  type FilterAst,
  type Literal,
  type Operand,
  type StringFunction,
} from './ast.js';
import { tableColumns } from './columns.js';
import { ODATA_SYNTAX, positionOf, syntaxError, syntaxErrorWithMessage, unknownColumnError } from './errors.js';
import { describeToken, tokenize, type Token } from './tokenizer.js';

/** Deepest nesting of parentheses and `not` that a filter may have. */
export const MAX_FILTER_DEPTH = 100;

const OPERATORS = new Set<string>(COMPARISON_OPERATORS);
const FUNCTIONS = new Set<string>(STRING_FUNCTIONS);
const RESERVED = new Set<string>(['and', 'or', 'not', ...COMPARISON_OPERATORS]);
const OPERATOR_LIST = `a comparison operator (${COMPARISON_OPERATORS.join(', ')})`;

class FilterParser {
  private next = 0;
  private readonly columnSet: ReadonlySet<string>;

  constructor(
    private readonly text: string,
    private readonly tokens: readonly Token[],
    private readonly columns: readonly string[],
    private readonly table: string | undefined,
  ) {
    this.columnSet = new Set(columns);
  }

  parse(): FilterAst {
    const ast = this.parseOr(undefined, 0);
    const token = this.peek();
    if (token.type !== 'end') throw this.expected("'and', 'or' or end of input", token);
    return ast;
  }

  private peek(ahead = 0): Token {
    return this.tokens[Math.min(this.next + ahead, this.tokens.length - 1)] as Token;
  }

  private take(): Token {
    const token = this.peek();
    if (this.next < this.tokens.length - 1) this.next++;
    return token;
  }

  private expected(what: string, found: Token, after?: Token | string): RekeyError {
    const afterText = after === undefined ? undefined : typeof after === 'string' ? after : describeToken(after);
    return syntaxError('$filter', this.text, found.index, what, describeToken(found), afterText);
  }

  private isKeyword(token: Token, word: string): boolean {
    return token.type === 'identifier' && token.text === word && !this.columnSet.has(word);
  }

  private parseOr(after: Token | undefined, depth: number): FilterAst {
    const operands = [this.parseAnd(after, depth)];
    while (this.isKeyword(this.peek(), 'or')) {
      const or = this.take();
      operands.push(this.parseAnd(or, depth));
    }
    return operands.length === 1 ? (operands[0] as FilterAst) : { kind: 'or', operands };
  }

  private parseAnd(after: Token | undefined, depth: number): FilterAst {
    const operands = [this.parseUnary(after, depth)];
    while (this.isKeyword(this.peek(), 'and')) {
      const and = this.take();
      operands.push(this.parseUnary(and, depth));
    }
    return operands.length === 1 ? (operands[0] as FilterAst) : { kind: 'and', operands };
  }

  private parseUnary(after: Token | undefined, depth: number): FilterAst {
    const token = this.peek();
    if (depth >= MAX_FILTER_DEPTH && (token.type === '(' || this.isKeyword(token, 'not'))) {
      throw syntaxErrorWithMessage(
        '$filter',
        this.text,
        token.index,
        `parentheses and 'not' nest deeper than ${MAX_FILTER_DEPTH} levels at position {position}`,
      );
    }
    if (this.isKeyword(token, 'not')) {
      this.take();
      return { kind: 'not', operand: this.parseUnary(token, depth + 1) };
    }
    if (token.type === '(') {
      this.take();
      const inner = this.parseOr(token, depth + 1);
      const close = this.peek();
      if (close.type !== ')') {
        throw this.expected(`'and', 'or' or ')' (to close the '(' at position ${positionOf(this.text, token.index)})`, close);
      }
      this.take();
      return inner;
    }
    if (token.type === 'identifier' && FUNCTIONS.has(token.text) && (this.peek(1).type === '(' || !this.columnSet.has(token.text))) {
      return this.parseFunction(token.text as StringFunction);
    }
    if (token.type === 'identifier' && this.peek(1).type === '(' && !RESERVED.has(token.text) && !this.columnSet.has(token.text) && this.literal(token) === undefined) {
      throw syntaxErrorWithMessage(
        '$filter',
        this.text,
        token.index,
        `unsupported function '${token.text}' at position {position}; the functions are ${STRING_FUNCTIONS.join(', ')}`,
      );
    }
    const left = this.parseOperand('a condition', after);
    const opToken = this.peek();
    if (opToken.type !== 'identifier' || !OPERATORS.has(opToken.text)) throw this.expected(OPERATOR_LIST, opToken, token);
    this.take();
    const right = this.parseOperand('a value', opToken);
    return { kind: 'compare', op: opToken.text as ComparisonOperator, left, right };
  }

  /** A column or a literal; `what` is what the message says was expected here. */
  private parseOperand(what: string, after: Token | undefined): Operand {
    const token = this.peek();
    const literal = this.literal(token);
    if (literal !== undefined) {
      this.take();
      return literal;
    }
    if (token.type === 'identifier' && !(RESERVED.has(token.text) && !this.columnSet.has(token.text))) {
      this.take();
      return { kind: 'column', name: this.column(token) };
    }
    throw this.expected(what, token, after);
  }

  private literal(token: Token): Literal | undefined {
    switch (token.type) {
      case 'string':
        return { kind: 'literal', type: 'string', value: token.value };
      case 'number':
        return { kind: 'literal', type: 'number', value: token.value };
      case 'instant':
        return { kind: 'literal', type: 'instant', value: token.text, time: token.time };
      case 'guid':
        return { kind: 'literal', type: 'guid', value: token.text };
      case 'identifier':
        if (this.columnSet.has(token.text)) return undefined;
        if (token.text === 'true' || token.text === 'false') return { kind: 'literal', type: 'boolean', value: token.text === 'true' };
        if (token.text === 'null') return { kind: 'literal', type: 'null', value: null };
        return undefined;
      default:
        return undefined;
    }
  }

  /** Validates a column name. */
  private column(token: Token): string {
    if (!this.columnSet.has(token.text)) {
      throw unknownColumnError('$filter', token.text, this.columns, this.table, this.text, token.index);
    }
    return token.text;
  }

  private parseFunction(name: StringFunction): FilterAst {
    const nameToken = this.take();
    const open = this.peek();
    if (open.type !== '(') throw this.expected("'('", open, nameToken);
    this.take();
    const columnToken = this.peek();
    if (columnToken.type !== 'identifier' || this.literal(columnToken) !== undefined) {
      throw this.expected(`a column name as the first argument of ${name}`, columnToken, `'${name}('`);
    }
    const column = this.column(columnToken);
    this.take();
    const comma = this.peek();
    if (comma.type !== ',') throw this.expected("','", comma, columnToken);
    this.take();
    const valueToken = this.peek();
    if (valueToken.type !== 'string') {
      throw this.expected(`a quoted string as the second argument of ${name}`, valueToken, comma);
    }
    this.take();
    const close = this.peek();
    if (close.type !== ')') throw this.expected(`')' to close ${name}(`, close, valueToken);
    this.take();
    return { kind: 'function', name, column, value: valueToken.value };
  }
}

/**
 * Parses a $filter expression against a table's columns (annotation keys in `columns` are ignored).
 * `table` names the table in unknown-column messages.
 */
export function parseFilter(text: string, columns: readonly string[], table?: string): FilterAst {
  if (typeof text !== 'string') {
    throw new RekeyError(ODATA_SYNTAX, `$filter: expected text, found ${typeof text}`, { option: '$filter' }, 'validation');
  }
  const known = tableColumns(Array.isArray(columns) ? columns : []);
  return new FilterParser(text, tokenize(text), known, table).parse();
}
