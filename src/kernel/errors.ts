/**
 * Errors carry a stable code (scripts and tests recognise them by it, never by message text), a
 * message that names the bad value and what would be right, and the kind that maps them to an exit
 * code and an HTTP status. The catalogue lives in docs/contract.md.
 */
export type ErrorKind = 'validation' | 'refused' | 'not_found' | 'conflict' | 'integrity' | 'internal';

const KIND_BY_CODE: Record<string, ErrorKind> = {};

export class RekeyError extends Error {
  readonly kind: ErrorKind;
  constructor(
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
    kind?: ErrorKind,
  ) {
    super(message);
    this.name = 'RekeyError';
    this.kind = kind ?? KIND_BY_CODE[code] ?? 'refused';
  }

  get httpStatus(): number {
    return { validation: 400, not_found: 404, conflict: 409, refused: 409, integrity: 500, internal: 500 }[this.kind];
  }

  /**
   * Exit codes of the command line (docs/contract.md): 1 a refused command or failed check, 2 bad
   * usage or input. A name that matches nothing (a mistyped group, row or store file) is input to
   * fix, so not_found exits 2 too.
   */
  get exitCode(): number {
    return this.kind === 'validation' || this.kind === 'not_found' ? 2 : 1;
  }
}

/** Registers the kind of a code once, beside its definition. */
export function errorKind(code: string, kind: ErrorKind): string {
  KIND_BY_CODE[code] = kind;
  return code;
}

export function isRekeyError(error: unknown, code?: string): error is RekeyError {
  return error instanceof Error && typeof (error as RekeyError).code === 'string' && 'kind' in error &&
    (code === undefined || (error as RekeyError).code === code);
}

/** A command-line argument or request value that is not what its option accepts (exit 2, HTTP 400). */
export const ARGUMENT_INVALID = errorKind('ARGUMENT_INVALID', 'validation');
