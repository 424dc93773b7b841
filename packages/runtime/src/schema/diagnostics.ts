// Errors with a position: every message a user sees names file:line:column and says what to do.

export interface Pos {
  file: string;
  line: number; // 1-based
  col: number; // 1-based
}

export interface Diagnostic {
  pos: Pos;
  message: string;
}

export function formatPos(pos: Pos): string {
  return `${pos.file}:${pos.line}:${pos.col}`;
}

export function formatDiagnostic(d: Diagnostic): string {
  return `${formatPos(d.pos)}: error: ${d.message}`;
}

/** Thrown by the parser and the resolver; carries one or more diagnostics. */
export class SchemaError extends Error {
  readonly diagnostics: readonly Diagnostic[];

  constructor(diagnostics: readonly Diagnostic[]) {
    super(diagnostics.map(formatDiagnostic).join('\n'));
    this.name = 'SchemaError';
    this.diagnostics = diagnostics;
  }

  static at(pos: Pos, message: string): SchemaError {
    return new SchemaError([{ pos, message }]);
  }
}
