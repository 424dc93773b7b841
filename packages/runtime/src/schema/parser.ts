// Recursive-descent parser for the FlatBuffers `struct` subset. Produces an AST per file; names are
// resolved and layouts computed in resolve.ts.
import { SchemaError, type Pos } from './diagnostics.js';
import { tokenize, type Token } from './lexer.js';

export interface AttrAst {
  name: string;
  value?: string;
  valueKind?: 'int' | 'float' | 'string' | 'ident';
  pos: Pos;
  valuePos?: Pos;
}

export type TypeAst =
  | { kind: 'named'; name: string; pos: Pos }
  | { kind: 'array'; elem: TypeAst; length: bigint; pos: Pos; lengthPos: Pos }
  | { kind: 'vector'; elem: TypeAst; pos: Pos };

export interface FieldAst {
  name: string;
  pos: Pos;
  type: TypeAst;
  attrs: AttrAst[];
  doc: string[];
  defaultPos?: Pos;
}

export interface StructAst {
  kind: 'struct';
  name: string;
  namespace: string;
  pos: Pos;
  fields: FieldAst[];
  attrs: AttrAst[];
  doc: string[];
  /** Position of the closing brace. */
  closePos: Pos;
}

export interface EnumValueAst {
  name: string;
  pos: Pos;
  value?: bigint;
  valuePos?: Pos;
  doc: string[];
}

export interface EnumAst {
  kind: 'enum';
  name: string;
  namespace: string;
  pos: Pos;
  underlying: string;
  underlyingPos: Pos;
  values: EnumValueAst[];
  attrs: AttrAst[];
  doc: string[];
}

export interface FileAst {
  file: string;
  includes: { path: string; pos: Pos }[];
  attributes: { name: string; pos: Pos }[];
  decls: (StructAst | EnumAst)[];
}

const UNSUPPORTED_TOP: Record<string, string> = {
  table: "'table' is not supported: mmbus messages are fixed-size records; declare it as a 'struct'",
  union: "'union' is not supported: unions are not fixed-size; use an enum field and a struct holding every variant's fields",
  rpc_service: "'rpc_service' is not supported by mmbus-codegen; remove it",
  root_type: "'root_type' is not supported: it names a table and mmbus schemas hold structs only; remove it",
};

function describe(t: Token): string {
  if (t.kind === 'eof') return 'end of file';
  if (t.kind === 'string') return `"${t.text}"`;
  return `'${t.text}'`;
}

class Parser {
  private i = 0;
  private namespace = '';
  private seenDecl = false;
  private readonly file: string;
  private readonly toks: Token[];

  constructor(file: string, toks: Token[]) {
    this.file = file;
    this.toks = toks;
  }

  private peek(k = 0): Token {
    return this.toks[Math.min(this.i + k, this.toks.length - 1)] as Token;
  }

  private next(): Token {
    const t = this.peek();
    if (this.i < this.toks.length - 1) this.i++;
    return t;
  }

  private isPunct(p: string): boolean {
    const t = this.peek();
    return t.kind === 'punct' && t.text === p;
  }

  private expectPunct(p: string, what: string): Token {
    const t = this.peek();
    if (t.kind !== 'punct' || t.text !== p) {
      throw SchemaError.at(t.pos, `expected '${p}' ${what}, found ${describe(t)}`);
    }
    return this.next();
  }

  private expectIdent(what: string): Token {
    const t = this.peek();
    if (t.kind !== 'ident') throw SchemaError.at(t.pos, `expected ${what}, found ${describe(t)}`);
    return this.next();
  }

  parseFile(): FileAst {
    const out: FileAst = { file: this.file, includes: [], attributes: [], decls: [] };
    for (;;) {
      const t = this.peek();
      if (t.kind === 'eof') return out;
      if (t.kind !== 'ident') {
        throw SchemaError.at(t.pos, `expected a declaration (namespace, include, attribute, struct or enum), found ${describe(t)}`);
      }
      switch (t.text) {
        case 'include': {
          this.next();
          if (this.seenDecl) {
            throw SchemaError.at(t.pos, "'include' must come before every other declaration; move it to the top of the file");
          }
          const s = this.peek();
          if (s.kind !== 'string') throw SchemaError.at(s.pos, `expected a quoted file name after 'include', found ${describe(s)}`);
          this.next();
          this.expectPunct(';', "after the include's file name");
          out.includes.push({ path: s.text, pos: s.pos });
          break;
        }
        case 'namespace': {
          this.next();
          this.seenDecl = true;
          const parts = [this.expectIdent('a namespace name').text];
          while (this.isPunct('.')) {
            this.next();
            parts.push(this.expectIdent("a namespace component after '.'").text);
          }
          this.expectPunct(';', 'after the namespace name');
          this.namespace = parts.join('.');
          break;
        }
        case 'attribute': {
          this.next();
          this.seenDecl = true;
          const s = this.peek();
          if (s.kind !== 'string' && s.kind !== 'ident') {
            throw SchemaError.at(s.pos, `expected an attribute name such as "mmbus_text" after 'attribute', found ${describe(s)}`);
          }
          this.next();
          this.expectPunct(';', "after the attribute's name");
          out.attributes.push({ name: s.text, pos: s.pos });
          break;
        }
        case 'file_identifier':
        case 'file_extension': {
          // Meaningful only for root tables; accepted and ignored, as flatc does for schemas without one.
          this.next();
          this.seenDecl = true;
          const s = this.peek();
          if (s.kind !== 'string') throw SchemaError.at(s.pos, `expected a quoted string after '${t.text}', found ${describe(s)}`);
          this.next();
          this.expectPunct(';', `after ${t.text}`);
          break;
        }
        case 'struct':
          this.seenDecl = true;
          out.decls.push(this.parseStruct());
          break;
        case 'enum':
          this.seenDecl = true;
          out.decls.push(this.parseEnum());
          break;
        default: {
          const msg = UNSUPPORTED_TOP[t.text];
          if (msg) throw SchemaError.at(t.pos, msg);
          throw SchemaError.at(t.pos, `expected a declaration (namespace, include, attribute, struct or enum), found ${describe(t)}`);
        }
      }
    }
  }

  private parseAttrs(): AttrAst[] {
    const attrs: AttrAst[] = [];
    if (!this.isPunct('(')) return attrs;
    this.next();
    if (this.isPunct(')')) {
      this.next();
      return attrs;
    }
    for (;;) {
      const name = this.peek();
      if (name.kind !== 'ident' && name.kind !== 'string') {
        throw SchemaError.at(name.pos, `expected an attribute name, found ${describe(name)}`);
      }
      this.next();
      const attr: AttrAst = { name: name.text, pos: name.pos };
      if (this.isPunct(':')) {
        this.next();
        const v = this.peek();
        if (v.kind !== 'int' && v.kind !== 'float' && v.kind !== 'string' && v.kind !== 'ident') {
          throw SchemaError.at(v.pos, `expected a value for attribute '${name.text}', found ${describe(v)}`);
        }
        this.next();
        attr.value = v.text;
        attr.valueKind = v.kind;
        attr.valuePos = v.pos;
      }
      attrs.push(attr);
      if (this.isPunct(',')) {
        this.next();
        continue;
      }
      this.expectPunct(')', 'to close the attribute list');
      return attrs;
    }
  }

  private parseStruct(): StructAst {
    const kw = this.next();
    const name = this.expectIdent("a struct name after 'struct'");
    const attrs = this.parseAttrs();
    this.expectPunct('{', `to open struct ${name.text}`);
    const fields: FieldAst[] = [];
    while (!this.isPunct('}')) {
      const fname = this.peek();
      if (fname.kind !== 'ident') {
        throw SchemaError.at(fname.pos, `expected a field name or '}' in struct ${name.text}, found ${describe(fname)}`);
      }
      this.next();
      this.expectPunct(':', `between field name '${fname.text}' and its type`);
      const type = this.parseType();
      let defaultPos: Pos | undefined;
      if (this.isPunct('=')) {
        defaultPos = this.next().pos;
        const v = this.next();
        if (v.kind === 'eof') throw SchemaError.at(v.pos, 'expected a default value, found end of file');
      }
      const fattrs = this.parseAttrs();
      this.expectPunct(';', `after field '${fname.text}'`);
      const field: FieldAst = { name: fname.text, pos: fname.pos, type, attrs: fattrs, doc: fname.doc };
      if (defaultPos) field.defaultPos = defaultPos;
      fields.push(field);
    }
    const close = this.next();
    return { kind: 'struct', name: name.text, namespace: this.namespace, pos: name.pos, fields, attrs, doc: kw.doc, closePos: close.pos };
  }

  private parseType(): TypeAst {
    const t = this.peek();
    if (t.kind === 'punct' && t.text === '[') {
      this.next();
      const elem = this.parseType();
      if (this.isPunct(']')) {
        this.next();
        return { kind: 'vector', elem, pos: t.pos };
      }
      this.expectPunct(':', "or ']' after the array's element type");
      const len = this.peek();
      if (len.kind !== 'int' || len.text.startsWith('-')) {
        throw SchemaError.at(len.pos, `expected the array length (a positive integer), found ${describe(len)}`);
      }
      this.next();
      this.expectPunct(']', 'to close the array type');
      return { kind: 'array', elem, length: BigInt(len.text.replace(/^\+/, '')), pos: t.pos, lengthPos: len.pos };
    }
    if (t.kind !== 'ident') throw SchemaError.at(t.pos, `expected a type, found ${describe(t)}`);
    this.next();
    let name = t.text;
    while (this.isPunct('.')) {
      this.next();
      name += '.' + this.expectIdent("a name after '.' in a qualified type").text;
    }
    return { kind: 'named', name, pos: t.pos };
  }

  private parseEnum(): EnumAst {
    const kw = this.next();
    const name = this.expectIdent("an enum name after 'enum'");
    if (!this.isPunct(':')) {
      throw SchemaError.at(this.peek().pos, `expected ':' and an underlying integer type after enum ${name.text} (e.g. 'enum ${name.text} : ubyte'), found ${describe(this.peek())}`);
    }
    this.next();
    const under = this.expectIdent('the underlying integer type of the enum');
    const attrs = this.parseAttrs();
    this.expectPunct('{', `to open enum ${name.text}`);
    const values: EnumValueAst[] = [];
    while (!this.isPunct('}')) {
      const v = this.expectIdent(`an enum value name or '}' in enum ${name.text}`);
      const ev: EnumValueAst = { name: v.text, pos: v.pos, doc: v.doc };
      if (this.isPunct('=')) {
        this.next();
        const n = this.peek();
        if (n.kind !== 'int') throw SchemaError.at(n.pos, `expected an integer value for enum value ${v.text}, found ${describe(n)}`);
        this.next();
        const txt = n.text.replace(/^\+/, '');
        ev.value = txt.startsWith('-') ? -BigInt(txt.slice(1)) : BigInt(txt);
        ev.valuePos = n.pos;
      }
      values.push(ev);
      if (this.isPunct(',')) {
        this.next();
        continue;
      }
      if (!this.isPunct('}')) this.expectPunct('}', `or ',' after enum value ${v.text}`);
    }
    this.next();
    return {
      kind: 'enum',
      name: name.text,
      namespace: this.namespace,
      pos: name.pos,
      underlying: under.text,
      underlyingPos: under.pos,
      values,
      attrs,
      doc: kw.doc,
    };
  }
}

export function parseSchema(file: string, src: string): FileAst {
  return new Parser(file, tokenize(file, src)).parseFile();
}
