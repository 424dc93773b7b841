// Tokenizer for the FlatBuffers schema subset. `///` comments are kept as documentation and attached
// to the next token; other comments are skipped.
import { SchemaError, type Pos } from './diagnostics.js';

export type TokenKind = 'ident' | 'int' | 'float' | 'string' | 'punct' | 'eof';

export interface Token {
  kind: TokenKind;
  text: string;
  pos: Pos;
  /** `///` lines immediately before this token (without the slashes and one leading space). */
  doc: string[];
}

const PUNCT = new Set(['{', '}', '(', ')', '[', ']', ':', ';', ',', '=', '.']);

/** Embeddings, overrides and isolates: the "Trojan Source" characters gcc's -Wbidi-chars reports. */
const BIDI_CONTROLS = /[\u202a-\u202e\u2066-\u2069]/;

export function tokenize(file: string, src: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let line = 1;
  let col = 1;
  let doc: string[] = [];

  const advance = (n: number): void => {
    for (let k = 0; k < n; k++) {
      if (src[i] === '\n') {
        line++;
        col = 1;
      } else {
        col++;
      }
      i++;
    }
  };
  const push = (kind: TokenKind, text: string, pos: Pos): void => {
    tokens.push({ kind, text, pos, doc });
    doc = [];
  };

  while (i < src.length) {
    const c = src[i] as string;
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n' || c === '\ufeff') {
      advance(1);
      continue;
    }
    const pos: Pos = { file, line, col };
    if (c === '/' && src[i + 1] === '/') {
      let end = src.indexOf('\n', i);
      if (end < 0) end = src.length;
      const text = src.slice(i, end);
      if (text.startsWith('///') && !text.startsWith('////')) {
        const bidi = BIDI_CONTROLS.exec(text);
        if (bidi) {
          const at: Pos = { file, line, col: col + bidi.index };
          const cp = (bidi[0].codePointAt(0) as number).toString(16).toUpperCase();
          throw SchemaError.at(
            at,
            `doc comment holds the bidirectional control character U+${cp}: copied into the outputs it would make the code read differently than it compiles (gcc refuses it); remove it`,
          );
        }
        let body = text.slice(3).replace(/\r$/, '');
        if (body.startsWith(' ')) body = body.slice(1);
        doc.push(body.trimEnd());
      }
      advance(end - i);
      continue;
    }
    if (c === '/' && src[i + 1] === '*') {
      const end = src.indexOf('*/', i + 2);
      if (end < 0) throw SchemaError.at(pos, 'unterminated block comment; close it with */');
      advance(end + 2 - i);
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i, i + 256)) as RegExpExecArray;
      push('ident', m[0], pos);
      advance(m[0].length);
      continue;
    }
    if (/[0-9]/.test(c) || ((c === '-' || c === '+') && /[0-9]/.test(src[i + 1] ?? ''))) {
      const rest = src.slice(i, i + 128);
      const hex = /^[-+]?0[xX][0-9A-Fa-f]+/.exec(rest);
      const flt = /^[-+]?[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?/.exec(rest) as RegExpExecArray;
      if (hex) {
        push('int', hex[0], pos);
        advance(hex[0].length);
      } else {
        push(flt[1] !== undefined || flt[2] !== undefined ? 'float' : 'int', flt[0], pos);
        advance(flt[0].length);
      }
      continue;
    }
    if (c === '"') {
      let j = i + 1;
      let value = '';
      while (j < src.length && src[j] !== '"' && src[j] !== '\n') {
        if (src[j] === '\\' && j + 1 < src.length) {
          value += src[j + 1];
          j += 2;
        } else {
          value += src[j];
          j++;
        }
      }
      if (src[j] !== '"') throw SchemaError.at(pos, 'unterminated string literal; close it with "');
      push('string', value, pos);
      advance(j + 1 - i);
      continue;
    }
    if (PUNCT.has(c)) {
      push('punct', c, pos);
      advance(1);
      continue;
    }
    throw SchemaError.at(pos, `unexpected character '${c}'; remove it`);
  }
  push('eof', '', { file, line, col });
  return tokens;
}
