/**
 * JSON text to value, with the line and column of a syntax error. JSON.parse builds plain objects
 * whose `__proto__` keys are ordinary own properties (no prototype is ever set from the text).
 */

export type ParsedJson =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly message: string; readonly line?: number; readonly column?: number };

export function parseJsonText(text: string): ParsedJson {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text; // a UTF-8 byte order mark
  try {
    return { ok: true, value: JSON.parse(body) as unknown };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const offset = errorOffset(body, message);
    if (offset === undefined) return { ok: false, message };
    const { line, column } = lineAndColumn(body, offset);
    return { ok: false, message: shorten(message), line, column };
  }
}

/** V8 names the position in most messages; otherwise our own scan finds it. */
function errorOffset(text: string, message: string): number | undefined {
  const named = /at position (\d+)/.exec(message);
  if (named) return Math.min(Number(named[1]), text.length);
  if (/Unexpected end of JSON input/.test(message)) return text.length;
  return scanForError(text);
}

/** V8 quotes the whole text in some messages ("... is not valid JSON"): keep the message a line. */
function shorten(message: string): string {
  const firstLine = message.split('\n', 1)[0] ?? message;
  return firstLine.length > 200 ? `${firstLine.slice(0, 197)}...` : firstLine;
}

export function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

/**
 * The offset of the first syntax error in `text` (RFC 8259), or undefined if there is none. Only
 * used to place an error JSON.parse already found, so it favours brevity over speed.
 */
export function scanForError(text: string): number | undefined {
  let i = 0;
  const fail = (): never => {
    throw new ScanError(i);
  };
  const space = (): void => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const literal = (word: string): void => {
    for (const ch of word) {
      if (text[i] !== ch) fail();
      i++;
    }
  };
  const string = (): void => {
    i++; // the opening quote
    for (;;) {
      if (i >= text.length) fail();
      const code = text.charCodeAt(i);
      if (code === 0x22) {
        i++;
        return;
      }
      if (code < 0x20) fail();
      if (code === 0x5c) {
        i++;
        const escape = text[i];
        if (escape === 'u') {
          for (let k = 1; k <= 4; k++) {
            if (!/[0-9a-fA-F]/.test(text[i + k] ?? '')) {
              i += k;
              fail();
            }
          }
          i += 5;
          continue;
        }
        if (escape === undefined || !'"\\/bfnrt'.includes(escape)) fail();
      }
      i++;
    }
  };
  const number = (): void => {
    const match = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (!match || match[0].length === 0) fail();
    i += match![0].length;
  };
  // An explicit stack of open containers: deep nesting cannot overflow the call stack.
  const open: ('{' | '[')[] = [];
  const value = (): void => {
    for (;;) {
      space();
      const ch = text[i];
      if (ch === '{' || ch === '[') {
        i++;
        space();
        if (text[i] === (ch === '{' ? '}' : ']')) {
          i++; // an empty container is a complete value
          return;
        }
        open.push(ch);
        if (ch === '{') key();
        continue; // the container's first item
      }
      if (ch === '"') string();
      else if (ch === 't') literal('true');
      else if (ch === 'f') literal('false');
      else if (ch === 'n') literal('null');
      else if (ch === '-' || (ch !== undefined && ch >= '0' && ch <= '9')) number();
      else fail();
      return;
    }
  };
  const key = (): void => {
    space();
    if (text[i] !== '"') fail();
    string();
    space();
    if (text[i] !== ':') fail();
    i++;
  };
  try {
    value();
    for (;;) {
      // After a complete value: close containers or move to the next item.
      space();
      const top = open[open.length - 1];
      if (top === undefined) break;
      const ch = text[i];
      if (ch === ',') {
        i++;
        if (top === '{') key();
        value();
      } else if (ch === (top === '{' ? '}' : ']')) {
        open.pop();
        i++;
      } else {
        fail();
      }
    }
    if (i < text.length) fail();
    return undefined;
  } catch (error) {
    if (error instanceof ScanError) return error.offset;
    return undefined;
  }
}

class ScanError extends Error {
  constructor(readonly offset: number) {
    super(`JSON syntax error at ${offset}`);
  }
}
