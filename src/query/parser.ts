/**
 * Recursive-descent parser of the Dataverse Web API $filter subset:
 *
 *   filter     := or END
 *   or         := and ('or' and)*
 *   and        := unary ('and' unary)*
 *   unary      := 'not' unary | '(' or ')' | function | comparison
 *   function   := ('contains' | 'startswith' | 'endswith') '(' column ',' string ')'
 *              | 'Microsoft.Dynamics.CRM.' name '(' 'PropertyName' '=' string
 *                  [',' ('PropertyValue' '=' value | 'PropertyValues' '=' '[' value (',' value)* ']')] ')'
 *   (any value may be a parameter alias @p whose text the request gives beside the filter)
 *   comparison := operand ('eq' | 'ne' | 'gt' | 'ge' | 'lt' | 'le') operand
 *   operand    := column | string | number | instant | guid | 'true' | 'false' | 'null'
 *
 * Precedence is OData's: not > comparison > and > or. Chains of and/or become one n-ary node, and
 * nesting (parentheses and `not`) is limited, so neither parsing nor evaluating can overflow the stack.
 * Every failure is a RekeyError (ODATA_SYNTAX or ODATA_UNKNOWN_COLUMN), whatever the input.
 * A choice column compared with a string takes the choice's label as Dataverse formats it
 * (`keydeliverystatus eq 'PendingNewKey'`, or 'Pending New Key'): the parser turns it into the code.
 */
import { RekeyError } from '../kernel/errors.js';
import {
  COMPARISON_OPERATORS,
  QUERY_FUNCTIONS,
  QUERY_FUNCTION_PREFIX,
  STRING_FUNCTIONS,
  type ComparisonOperator,
  type QueryFunction,
  type FilterAst,
  type Literal,
  type Operand,
  type StringFunction,
} from './ast.js';
import { tableColumns } from './columns.js';
import { ODATA_SYNTAX, positionOf, syntaxError, syntaxErrorWithMessage, unknownColumnError } from './errors.js';
import { parseInstantLiteral } from './instant.js';
import { describeToken, tokenize, type Token } from './tokenizer.js';

/** Deepest nesting of parentheses and `not` that a filter may have. */
export const MAX_FILTER_DEPTH = 100;

const OPERATORS = new Set<string>(COMPARISON_OPERATORS);
const FUNCTIONS = new Set<string>(STRING_FUNCTIONS);
const RESERVED = new Set<string>(['and', 'or', 'not', ...COMPARISON_OPERATORS]);
const OPERATOR_LIST = `a comparison operator (${COMPARISON_OPERATORS.join(', ')})`;
const QUERY_FUNCTION_SET = new Set<string>(QUERY_FUNCTIONS);
/** Query functions and the parameter each takes beside PropertyName. */
const FUNCTION_PARAMETER: Readonly<Record<QueryFunction, 'PropertyValue' | 'PropertyValues' | null>> = {
  On: 'PropertyValue', OnOrBefore: 'PropertyValue', OnOrAfter: 'PropertyValue', LastXDays: 'PropertyValue', NextXDays: 'PropertyValue',
  LastXHours: 'PropertyValue', NextXHours: 'PropertyValue', Today: null, Yesterday: null, Tomorrow: null, In: 'PropertyValues', NotIn: 'PropertyValues',
};

/** Labels of a table's choice columns, by column and code. */
export type ChoiceLabels = Readonly<Record<string, Readonly<Record<number, string>>>>;

export interface FilterOptions {
  /** Parameter aliases (`@p1`) and the OData literal text the request gives for each. */
  readonly aliases?: Readonly<Record<string, string>>;
  /** The table's choice columns: a string compared with one is read as a label. */
  readonly choices?: ChoiceLabels;
}

function normalizeLabel(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]/g, '');
}

class FilterParser {
  private next = 0;
  private readonly columnSet: ReadonlySet<string>;

  constructor(
    private readonly text: string,
    private readonly tokens: readonly Token[],
    private readonly columns: readonly string[],
    private readonly table: string | undefined,
    private readonly options: FilterOptions = {},
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
    if (token.type === 'identifier' && token.text.startsWith(QUERY_FUNCTION_PREFIX)) return this.parseQueryFunction();
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
    const rightToken = this.peek();
    const right = this.parseOperand('a value', opToken);
    return { kind: 'compare', op: opToken.text as ComparisonOperator, left: this.choice(left, right, token), right: this.choice(right, left, rightToken) };
  }

  /** A string compared with a choice column, as the code its label names (Dataverse's formatted value). */
  private choice(operand: Operand, other: Operand, token: Token): Operand {
    if (operand.kind !== 'literal' || operand.type !== 'string' || other.kind !== 'column') return operand;
    const labels = this.options.choices?.[other.name];
    if (labels === undefined) return operand;
    const wanted = normalizeLabel(operand.value);
    for (const [code, label] of Object.entries(labels)) {
      if (normalizeLabel(label) === wanted || code === operand.value.trim()) return { kind: 'literal', type: 'number', value: Number(code) };
    }
    const list = Object.entries(labels).map(([code, label]) => `${code} (${label})`).join(', ');
    throw syntaxErrorWithMessage('$filter', this.text, token.index, `'${operand.value.slice(0, 40)}' at position {position} is not a value of the choice column ${other.name}; expected ${list}, by code or label`);
  }

  /** A literal where a value is expected, reading a parameter alias's text when one stands there. */
  private valueAt(what: string, after: Token): Literal {
    const token = this.peek();
    if (token.type === 'alias') {
      this.take();
      const text = this.options.aliases?.[token.text];
      if (text === undefined) throw syntaxErrorWithMessage('$filter', this.text, token.index, `the parameter alias ${token.text} at position {position} has no value; expected ${token.text}=VALUE beside $filter in the query string`);
      const tokens = tokenize(text);
      const literal = tokens.length === 2 ? this.literal(tokens[0]!) : undefined;
      if (literal === undefined) throw syntaxErrorWithMessage('$filter', this.text, token.index, `the parameter alias ${token.text} at position {position} is not one value (a quoted string, a number or an instant)`);
      return literal;
    }
    const literal = this.literal(token);
    if (literal === undefined) throw this.expected(what, token, after);
    this.take();
    return literal;
  }

  /** Values of PropertyValues: `['a','b']`, or an alias whose text is such a list. */
  private valuesAt(after: Token): Literal[] {
    let token = this.peek();
    let reader: FilterParser = this;
    if (token.type === 'alias') {
      this.take();
      const text = this.options.aliases?.[token.text];
      if (text === undefined) throw syntaxErrorWithMessage('$filter', this.text, token.index, `the parameter alias ${token.text} at position {position} has no value; expected ${token.text}=[...] beside $filter in the query string`);
      reader = new FilterParser(text, tokenize(text), this.columns, this.table, this.options);
      token = reader.peek();
    }
    if (token.type !== '[') throw reader.expected("'[' to open the list of PropertyValues", token, after);
    const open = reader.take();
    const values: Literal[] = [reader.valueAt('a value', open)];
    for (;;) {
      const next = reader.peek();
      if (next.type === ']') {
        reader.take();
        break;
      }
      if (next.type !== ',') throw reader.expected("',' or ']'", next);
      values.push(reader.valueAt('a value', reader.take()));
    }
    return values;
  }

  private parseQueryFunction(): FilterAst {
    const nameToken = this.take();
    const name = nameToken.text.slice(QUERY_FUNCTION_PREFIX.length);
    const supported = QUERY_FUNCTIONS.join(', ');
    if (!QUERY_FUNCTION_SET.has(name)) {
      throw syntaxErrorWithMessage('$filter', this.text, nameToken.index, `the query function ${nameToken.text} at position {position} is not supported by rekey; the query functions are ${supported} (Microsoft.Dynamics.CRM.<name>)`);
    }
    const fn = name as QueryFunction;
    const open = this.peek();
    if (open.type !== '(') throw this.expected("'('", open, nameToken);
    this.take();
    const expectWord = (word: string, after: Token) => {
      const t = this.peek();
      if (t.type !== 'identifier' || t.text !== word) throw this.expected(`${word}=`, t, after);
      this.take();
      const eq = this.peek();
      if (eq.type !== '=') throw this.expected("'='", eq, t);
      return this.take();
    };
    const columnValue = this.valueAt('the column name as a quoted string', expectWord('PropertyName', open));
    if (columnValue.type !== 'string') throw syntaxErrorWithMessage('$filter', this.text, nameToken.index, `${nameToken.text} at position {position}: PropertyName must be a quoted column name such as 'createdon'`);
    const column = columnValue.value;
    if (!this.columnSet.has(column)) throw unknownColumnError('$filter', column, this.columns, this.table, this.text, nameToken.index);
    const parameter = FUNCTION_PARAMETER[fn];
    let values: Literal[] = [];
    if (parameter !== null) {
      const comma = this.peek();
      if (comma.type !== ',') throw this.expected(`',' and ${parameter}=`, comma);
      const eq = expectWord(parameter, this.take());
      values = parameter === 'PropertyValues' ? this.valuesAt(eq) : [this.valueAt('a value', eq)];
    }
    const close = this.peek();
    if (close.type !== ')') throw this.expected(`')' to close ${nameToken.text}(`, close);
    this.take();
    const needsInstant = fn === 'On' || fn === 'OnOrBefore' || fn === 'OnOrAfter';
    const needsCount = fn.startsWith('LastX') || fn.startsWith('NextX');
    for (const value of values) {
      const instant = value.type === 'instant' || (value.type === 'string' && parseInstantLiteral(value.value) !== undefined);
      if (needsInstant && !instant) throw syntaxErrorWithMessage('$filter', this.text, nameToken.index, `${nameToken.text} at position {position}: PropertyValue must be a date such as '2030-05-15'`);
      if (needsCount && !(value.type === 'number' || (value.type === 'string' && /^\d{1,6}$/.test(value.value)))) throw syntaxErrorWithMessage('$filter', this.text, nameToken.index, `${nameToken.text} at position {position}: PropertyValue must be a whole number such as 7`);
    }
    const choiceColumn: Operand = { kind: 'column', name: column };
    return { kind: 'query', name: fn, column, values: values.map((v) => this.choice(v, choiceColumn, nameToken) as Literal) };
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
export function parseFilter(text: string, columns: readonly string[], table?: string, options: FilterOptions = {}): FilterAst {
  if (typeof text !== 'string') {
    throw new RekeyError(ODATA_SYNTAX, `$filter: expected text, found ${typeof text}`, { option: '$filter' }, 'validation');
  }
  const known = tableColumns(Array.isArray(columns) ? columns : []);
  return new FilterParser(text, tokenize(text), known, table, options).parse();
}
