// TypeScript emitter (ts-morph): one module per schema, one flyweight class per struct.
import {
  IndentationText,
  NewLineKind,
  Project,
  QuoteKind,
  StructureKind,
  VariableDeclarationKind,
  type ClassMemberStructures,
  type ConstructorDeclarationStructure,
  type GetAccessorDeclarationStructure,
  type MethodDeclarationStructure,
  type OptionalKind,
  type PropertyDeclarationStructure,
  type SetAccessorDeclarationStructure,
  type SourceFile,
  type WriterFunction,
} from 'ts-morph';

/**
 * Collects class members as structures, added in one manipulation at the end: ts-morph re-parses the
 * file on every manipulation, so adding members one by one is quadratic.
 */
class Members {
  readonly items: ClassMemberStructures[] = [];
  addProperty(s: OptionalKind<PropertyDeclarationStructure>): void {
    this.items.push({ kind: StructureKind.Property, ...s });
  }
  addConstructor(s: OptionalKind<ConstructorDeclarationStructure>): void {
    this.items.push({ kind: StructureKind.Constructor, ...s });
  }
  addGetAccessor(s: OptionalKind<GetAccessorDeclarationStructure>): void {
    this.items.push({ kind: StructureKind.GetAccessor, ...s });
  }
  addSetAccessor(s: OptionalKind<SetAccessorDeclarationStructure>): void {
    this.items.push({ kind: StructureKind.SetAccessor, ...s });
  }
  addMethod(s: OptionalKind<MethodDeclarationStructure>): void {
    this.items.push({ kind: StructureKind.Method, ...s });
  }
}
import type { RecordLayout } from '@mmbus/runtime';
import { hex64, layoutText, recordLayout } from '@mmbus/runtime/schema';
import { is64, type ElemType, type EnumDef, type FieldDef, type SchemaDef, type ScalarKind, type StructDef } from '@mmbus/runtime/schema';
import { TS_PRIVATE_LAST, TS_RUNTIME_MODULE, tsFieldNames } from './names.js';
import { HELPERS, exportedFunctions } from './ts-runtime.js';

export { emitTsRuntime } from './ts-runtime.js';

export function tsModuleName(schema: SchemaDef): string {
  return `${schema.baseName}.ts`;
}

const DV: Record<ScalarKind, string> = {
  bool: 'Uint8',
  int8: 'Int8',
  uint8: 'Uint8',
  int16: 'Int16',
  uint16: 'Uint16',
  int32: 'Int32',
  uint32: 'Uint32',
  int64: 'BigInt64',
  uint64: 'BigUint64',
  float32: 'Float32',
  float64: 'Float64',
};

function jsDoc(lines: string[]): { description: string }[] {
  if (lines.length === 0) return [];
  return [{ description: lines.map((l) => l.replace(/\*\//g, '*\\/')).join('\n') }];
}

interface Ctx {
  helpers: Set<string>;
  /** Names imported from other generated modules, per module. */
  imports: Map<string, Set<string>>;
  schema: SchemaDef;
}

function useType(ctx: Ctx, def: StructDef | EnumDef, typeOnly: boolean, name = def.name): string {
  if (def.schema !== ctx.schema) {
    const mod = `./${def.schema.baseName}.js`;
    const set = ctx.imports.get(mod) ?? new Set<string>();
    set.add(typeOnly ? `type ${name}` : name);
    ctx.imports.set(mod, set);
  }
  return name;
}

function elemTsType(ctx: Ctx, t: ElemType): string {
  if (t.kind === 'scalar') {
    if (t.scalar === 'bool') return 'boolean';
    return is64(t.scalar) ? 'bigint' : 'number';
  }
  return useType(ctx, t.def, t.kind === 'enum');
}

function elemObjType(ctx: Ctx, t: ElemType): string {
  if (t.kind === 'struct') return useType(ctx, t.def, true, `${t.def.name}Object`);
  return elemTsType(ctx, t);
}

function scalarOf(t: ElemType): ScalarKind | undefined {
  if (t.kind === 'scalar') return t.scalar;
  if (t.kind === 'enum') return t.def.underlying;
  return undefined;
}

function readExpr(t: ElemType, at: string, ctx: Ctx): string {
  const k = scalarOf(t) as ScalarKind;
  const le = k === 'int8' || k === 'uint8' || k === 'bool' ? '' : ', true';
  const raw = `this.view.get${DV[k]}(${at}${le})`;
  if (k === 'bool') return `${raw} !== 0`;
  if (t.kind === 'enum') return `${raw} as ${elemTsType(ctx, t)}`;
  return raw;
}

function writeStmt(t: ElemType, at: string, v: string): string {
  const k = scalarOf(t) as ScalarKind;
  const le = k === 'int8' || k === 'uint8' || k === 'bool' ? '' : ', true';
  return `this.view.set${DV[k]}(${at}, ${k === 'bool' ? `${v} ? 1 : 0` : v}${le});`;
}

function addField(cls: Members, s: StructDef, f: FieldDef, ctx: Ctx): void {
  const n = tsFieldNames(f);
  const name = n.main;
  const what = `${s.name}.${name}`;
  const at = f.offset === 0 ? 'this.offset' : `this.offset + ${f.offset}`;
  const docs = jsDoc(f.doc);
  const t = f.type;
  if (t.kind === 'text') {
    const setter = n.setter as string;
    ctx.helpers.add('text');
    cls.addGetAccessor({ name, returnType: 'string', docs, statements: `return readText(this.view, ${at}, ${t.length});` });
    cls.addSetAccessor({
      name,
      parameters: [{ name: 'v', type: 'string' }],
      statements: `writeText('${what}', '${setter}', this.view, ${at}, ${t.length}, v, false);`,
    });
    cls.addMethod({
      name: setter,
      docs: [{ description: `Writes ${name} (${t.length} bytes of UTF-8). Throws if too long unless \`truncate\`; returns true if truncated.` }],
      parameters: [
        { name: 'v', type: 'string' },
        { name: 'opts', type: '{ truncate?: boolean }', initializer: '{}' },
      ],
      returnType: 'boolean',
      statements: `return writeText('${what}', '${setter}', this.view, ${at}, ${t.length}, v, opts.truncate === true);`,
    });
    cls.addMethod({
      name: n.bytes as string,
      docs: [{ description: `The ${t.length} bytes of ${name}, as a view over the record (no copy).` }],
      returnType: 'Uint8Array',
      statements: `return new Uint8Array(this.view.buffer, this.view.byteOffset + ${at}, ${t.length});`,
    });
    return;
  }
  if (t.kind === 'struct') {
    const cls2 = useType(ctx, t.def, false);
    const obj = useType(ctx, t.def, true, `${t.def.name}Object`);
    cls.addGetAccessor({
      name,
      returnType: cls2,
      docs: docs.length ? docs : [{ description: `The nested ${t.def.name}, as a flyweight reused on every read.` }],
      statements: `return this.${n.flyweight}.wrap(this.view, ${at});`,
    });
    cls.addSetAccessor({ name, parameters: [{ name: 'v', type: `Partial<${obj}>` }], statements: `this.${n.flyweight}.wrap(this.view, ${at}).assign(v);` });
    return;
  }
  if (t.kind === 'array') {
    const setter = n.setter as string;
    ctx.helpers.add('index');
    const len = t.length;
    const elemAt = `${at} + checkIndex('${what}', i, ${len}) * ${t.elem.kind === 'struct' ? t.elem.def.size : (elemSizeOf(t.elem))}`;
    cls.addGetAccessor({ name: n.length as string, returnType: 'number', docs: [{ description: `Number of elements of ${name}.` }], statements: `return ${len};` });
    if (t.elem.kind === 'struct') {
      const cls2 = useType(ctx, t.elem.def, false);
      const obj = useType(ctx, t.elem.def, true, `${t.elem.def.name}Object`);
      cls.addMethod({
        name,
        docs: docs.length ? docs : [{ description: `Element i of ${name}, as a flyweight reused on every call.` }],
        parameters: [{ name: 'i', type: 'number' }],
        returnType: cls2,
        statements: `return this.${n.flyweight}.wrap(this.view, ${elemAt});`,
      });
      cls.addMethod({
        name: setter,
        parameters: [
          { name: 'i', type: 'number' },
          { name: 'v', type: `Partial<${obj}>` },
        ],
        returnType: 'void',
        statements: `this.${n.flyweight}.wrap(this.view, ${elemAt}).assign(v);`,
      });
      return;
    }
    const type = elemTsType(ctx, t.elem);
    cls.addMethod({ name, docs, parameters: [{ name: 'i', type: 'number' }], returnType: type, statements: `return ${readExpr(t.elem, elemAt, ctx)};` });
    cls.addMethod({
      name: setter,
      parameters: [
        { name: 'i', type: 'number' },
        { name: 'v', type },
      ],
      returnType: 'void',
      statements: writeStmt(t.elem, elemAt, 'v'),
    });
    const k = scalarOf(t.elem) as ScalarKind;
    if (n.number !== undefined && n.setNumber !== undefined) {
      const h = k === 'int64' ? 'Int64Number' : 'Uint64Number';
      ctx.helpers.add(k === 'int64' ? 'int64Number' : 'uint64Number');
      cls.addMethod({
        name: n.number,
        docs: [{ description: `Element i of ${name} as a number (exact up to 2^53), without a BigInt.` }],
        parameters: [{ name: 'i', type: 'number' }],
        returnType: 'number',
        statements: `return get${h}(this.view, ${elemAt});`,
      });
      cls.addMethod({
        name: n.setNumber,
        parameters: [
          { name: 'i', type: 'number' },
          { name: 'v', type: 'number' },
        ],
        returnType: 'void',
        statements: `set${h}('${what}', this.view, ${elemAt}, v);`,
      });
    }
    return;
  }
  const type = elemTsType(ctx, t);
  cls.addGetAccessor({ name, returnType: type, docs, statements: `return ${readExpr(t, at, ctx)};` });
  cls.addSetAccessor({ name, parameters: [{ name: 'v', type }], statements: writeStmt(t, at, 'v') });
  const k = scalarOf(t) as ScalarKind;
  if (n.number !== undefined) {
    const h = k === 'int64' ? 'Int64Number' : 'Uint64Number';
    ctx.helpers.add(k === 'int64' ? 'int64Number' : 'uint64Number');
    cls.addGetAccessor({
      name: n.number,
      returnType: 'number',
      docs: [{ description: `${name} as a number, read from its two 32-bit halves: exact up to 2^53, no BigInt.` }],
      statements: `return get${h}(this.view, ${at});`,
    });
    cls.addSetAccessor({
      name: n.number,
      parameters: [{ name: 'v', type: 'number' }],
      statements: `set${h}('${what}', this.view, ${at}, v);`,
    });
  }
}

function elemSizeOf(t: ElemType): number {
  const k = scalarOf(t) as ScalarKind;
  return { bool: 1, int8: 1, uint8: 1, int16: 2, uint16: 2, int32: 4, uint32: 4, int64: 8, uint64: 8, float32: 4, float64: 8 }[k];
}

function objFieldType(ctx: Ctx, f: FieldDef): string {
  const t = f.type;
  if (t.kind === 'text') return 'string';
  if (t.kind === 'array') return `${elemObjType(ctx, t.elem)}[]`;
  return elemObjType(ctx, t);
}

/** A layout's own part as a TypeScript literal: one line per field. */
function layoutLiteral(layout: Omit<RecordLayout, 'structs'>): string {
  const quote = (v: string): string => `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  const inline = (v: unknown): string => {
    if (typeof v === 'string') return quote(v);
    if (typeof v === 'number') return String(v);
    if (Array.isArray(v)) return `[${v.map(inline).join(', ')}]`;
    return `{ ${Object.entries(v as Record<string, unknown>).map(([k, x]) => `${k}: ${inline(x)}`).join(', ')} }`;
  };
  const list = (items: readonly unknown[]): string => (items.length ? `[\n${items.map((x) => `    ${inline(x)},`).join('\n')}\n  ]` : '[]');
  const lines = Object.entries(layout).map(([k, v]) => `  ${k}: ${k === 'fields' ? list(v as unknown[]) : inline(v)},`);
  return `{\n${lines.join('\n')}\n}`;
}

function emitStruct(sf: SourceFile, s: StructDef, ctx: Ctx): void {
  ctx.helpers.add('bounds');
  sf.addInterface({
    name: `${s.name}Object`,
    isExported: true,
    docs: [{ description: `A plain-object copy of ${s.name} (see ${s.name}.toObject / ${s.name}.fromObject).` }],
    properties: s.fields.map((f) => ({ name: tsFieldNames(f).main, type: objFieldType(ctx, f), docs: jsDoc(f.doc) })),
  });
  const nested = s.fields.filter((f) => f.type.kind === 'struct' || (f.type.kind === 'array' && f.type.elem.kind === 'struct'));
  const cls = new Members();
  const decl = sf.addClass({
    name: s.name,
    isExported: true,
    docs: jsDoc([...s.doc, ...(s.doc.length ? [''] : []), `Flyweight over a ${s.size}-byte ${s.fqn} record: re-point it with wrap().`, `Layout: ${layoutText(s)}`]),
  });
  cls.addProperty({ isStatic: true, isReadonly: true, name: 'NAME', initializer: `'${s.fqn}'` });
  cls.addProperty({ isStatic: true, isReadonly: true, name: 'SIZE', initializer: `${s.size}` });
  cls.addProperty({ isStatic: true, isReadonly: true, name: 'ALIGN', initializer: `${s.align}` });
  cls.addProperty({
    isStatic: true,
    isReadonly: true,
    name: 'FINGERPRINT',
    initializer: `${hex64(s.fingerprint)}n`,
    docs: [{ description: 'FNV-1a 64 of the canonical layout text (see the Layout line above).' }],
  });
  if (s.key) {
    cls.addProperty({
      isStatic: true,
      isReadonly: true,
      name: 'KEY',
      initializer: `{ field: '${tsFieldNames(s.key).main}', offset: ${s.key.offset}, size: ${s.key.size} } as const`,
      docs: [{ description: `The key field of this keyed message type: records of a keyed channel carry their key in '${tsFieldNames(s.key).main}'.` }],
    });
  }
  // The layout's own part is a literal; the nested structs' come from their classes' LAYOUT, built on
  // first use: the generated text stays linear in the number of structs, however deep they nest.
  ctx.helpers.add('layout');
  const full = recordLayout(s);
  const own = { name: full.name, size: full.size, align: full.align, fields: full.fields, ...(full.key !== undefined ? { key: full.key } : {}) };
  const nestedTypes = [...new Set(nested.map((f) => (f.type.kind === 'struct' ? f.type.def : f.type.kind === 'array' && f.type.elem.kind === 'struct' ? f.type.elem.def : undefined)))]
    .filter((d) => d !== undefined)
    .map((d) => useType(ctx, d, false));
  cls.addGetAccessor({
    isStatic: true,
    name: 'LAYOUT',
    returnType: 'RecordLayout',
    docs: [{ description: "Every field's schema name, offset, size and type as plain data (a RecordLayout of @mmbus/runtime), nested structs once each: for tools that decode records they were not compiled against, and written into the channels openChannel creates." }],
    statements: `return layoutOf(${s.name}, () => (${layoutLiteral(own)}), () => [${nestedTypes.join(', ')}]);`,
  });
  cls.addProperty({ name: 'view', type: 'DataView', docs: [{ description: 'The view the record is read from.' }] });
  cls.addProperty({ name: 'offset', type: 'number', docs: [{ description: 'Byte offset of the record in view.' }] });
  cls.addProperty({ name: TS_PRIVATE_LAST, type: 'number', docs: [{ description: 'The last offset of view where a whole record fits (set by wrap()).' }] });
  for (const f of nested) {
    const def = f.type.kind === 'struct' ? f.type.def : f.type.kind === 'array' && f.type.elem.kind === 'struct' ? f.type.elem.def : undefined;
    if (!def) continue;
    cls.addProperty({ name: tsFieldNames(f).flyweight as string, isReadonly: true, type: useType(ctx, def, false) });
  }
  const ctorBody: WriterFunction = (w) => {
    w.writeLine(`checkBounds('${s.name}', ${s.size}, view, offset);`);
    w.writeLine('this.view = view;');
    w.writeLine('this.offset = offset;');
    w.writeLine(`this.${TS_PRIVATE_LAST} = view.byteLength - ${s.size};`);
    for (const f of nested) {
      const def = f.type.kind === 'struct' ? f.type.def : f.type.kind === 'array' && f.type.elem.kind === 'struct' ? f.type.elem.def : undefined;
      if (def) w.writeLine(`this.${tsFieldNames(f).flyweight} = new ${def.name}(view, offset + ${f.offset});`);
    }
  };
  cls.addConstructor({
    docs: [{ description: `Points at the record at \`offset\` in \`view\` (by default a new zeroed ${s.size}-byte buffer).` }],
    parameters: [
      { name: 'view', type: 'DataView', initializer: `new DataView(new ArrayBuffer(${s.size}))` },
      { name: 'offset', type: 'number', initializer: '0' },
    ],
    statements: ctorBody,
  });
  cls.addMethod({
    name: 'wrap',
    docs: [{ description: 'Re-points this flyweight at the record at `offset` in `view`; returns this.' }],
    parameters: [
      { name: 'view', type: 'DataView' },
      { name: 'offset', type: 'number' },
    ],
    returnType: 'this',
    statements: [`checkBounds('${s.name}', ${s.size}, view, offset);`, 'this.view = view;', 'this.offset = offset;', `this.${TS_PRIVATE_LAST} = view.byteLength - ${s.size};`, 'return this;'],
  });
  cls.addMethod({
    name: 'moveTo',
    docs: [{ description: 'Re-points this flyweight at `offset` in the same view (the fast path for walking a buffer of records); returns this.' }],
    parameters: [{ name: 'offset', type: 'number' }],
    returnType: 'this',
    statements: [`if (!(offset >= 0 && offset <= this.${TS_PRIVATE_LAST})) checkBounds('${s.name}', ${s.size}, this.view, offset);`, 'this.offset = offset;', 'return this;'],
  });
  for (const f of s.fields) addField(cls, s, f, ctx);

  cls.addMethod({
    name: 'clear',
    docs: [{ description: 'Zeroes the whole record, padding included; returns this.' }],
    returnType: 'this',
    statements: [`new Uint8Array(this.view.buffer, this.view.byteOffset + this.offset, ${s.size}).fill(0);`, 'return this;'],
  });
  cls.addMethod({
    name: 'toObject',
    docs: [{ description: 'Copies every field into a plain object.' }],
    returnType: `${s.name}Object`,
    statements: (w) => {
      w.writeLine('return {');
      w.indent(() => {
        for (const f of s.fields) {
          const n = tsFieldNames(f).main;
          const t = f.type;
          if (t.kind === 'struct') w.writeLine(`${n}: this.${n}.toObject(),`);
          else if (t.kind === 'array') {
            const el = t.elem.kind === 'struct' ? `this.${n}(i).toObject()` : `this.${n}(i)`;
            w.writeLine(`${n}: Array.from({ length: ${t.length} }, (_, i) => ${el}),`);
          } else w.writeLine(`${n}: this.${n},`);
        }
      });
      w.writeLine('};');
    },
  });
  cls.addMethod({
    name: 'assign',
    docs: [{ description: 'Writes the fields present in `obj` (others are left as they are); returns this. Arrays may be shorter than the field.' }],
    parameters: [{ name: 'obj', type: `Partial<${s.name}Object>` }],
    returnType: 'this',
    statements: (w) => {
      for (const f of s.fields) {
        const names = tsFieldNames(f);
        const n = names.main;
        const t = f.type;
        w.write(`if (obj.${n} !== undefined) `).inlineBlock(() => {
          if (t.kind === 'array') {
            ctx.helpers.add('arrayLength');
            w.writeLine(`checkArrayLength('${s.name}.${n}', obj.${n}.length, ${t.length});`);
            w.writeLine(`obj.${n}.forEach((v, i) => this.${names.setter}(i, v));`);
          } else {
            w.writeLine(`this.${n} = obj.${n};`);
          }
        });
        w.newLine();
      }
      w.writeLine('return this;');
    },
  });
  cls.addMethod({
    isStatic: true,
    name: 'fromObject',
    docs: [{ description: `Writes \`obj\` into a zeroed record (a new buffer, or \`view\` at \`offset\`); missing fields stay zero.` }],
    parameters: [
      { name: 'obj', type: `Partial<${s.name}Object>` },
      { name: 'view', type: 'DataView', initializer: `new DataView(new ArrayBuffer(${s.size}))` },
      { name: 'offset', type: 'number', initializer: '0' },
    ],
    returnType: s.name,
    statements: `return new ${s.name}(view, offset).clear().assign(obj);`,
  });
  decl.addMembers(cls.items);
}

function emitEnum(sf: SourceFile, e: EnumDef): void {
  const big = is64(e.underlying);
  sf.addVariableStatement({
    isExported: true,
    declarationKind: VariableDeclarationKind.Const,
    docs: jsDoc(e.doc),
    declarations: [
      {
        name: e.name,
        initializer: (w) => {
          w.write('{').newLine();
          w.indent(() => {
            for (const v of e.values) {
              if (v.doc.length) w.writeLine(`/** ${v.doc.join(' ').replace(/\*\//g, '*\\/')} */`);
              w.writeLine(`${v.name}: ${big ? `${v.value}n` : `${v.value}`},`);
            }
          });
          w.write('} as const');
        },
      },
    ],
  });
  sf.addTypeAlias({ isExported: true, name: e.name, type: `(typeof ${e.name})[keyof typeof ${e.name}]`, docs: jsDoc(e.doc) });
}

export function emitTsModule(schema: SchemaDef): string {
  const project = new Project({
    useInMemoryFileSystem: true,
    manipulationSettings: {
      indentationText: IndentationText.TwoSpaces,
      quoteKind: QuoteKind.Single,
      newLineKind: NewLineKind.LineFeed,
      useTrailingCommas: true,
    },
  });
  const ctx: Ctx = { helpers: new Set(), imports: new Map(), schema };
  // One small source file per declaration: ts-morph re-parses the whole file on every change, so a
  // single file growing with each declaration would make the module quadratic in the schema.
  const decls = schema.decls.map((d, i) => {
    const sf = project.createSourceFile(`/decl${i}.ts`, '', { overwrite: true });
    if (d.kind === 'enum') emitEnum(sf, d);
    else emitStruct(sf, d, ctx);
    sf.formatText({ indentSize: 2, convertTabsToSpaces: true });
    const text = sf.getFullText();
    project.removeSourceFile(sf);
    return text;
  });
  // Header and imports go first, in a fixed order: the runtime's functions, then other generated modules.
  const prelude: string[] = [`// Generated by mmbus-codegen from ${schema.baseName}.fbs. Do not edit: change the schema and regenerate.`];
  const runtime = Object.keys(HELPERS)
    .filter((k) => ctx.helpers.has(k))
    .flatMap((k) => exportedFunctions(HELPERS[k] ?? ''))
    .sort();
  const mods = [...ctx.imports.keys()].sort();
  if (runtime.length > 0 || mods.length > 0) prelude.push('');
  if (ctx.helpers.has('layout')) prelude.push("import type { RecordLayout } from '@mmbus/runtime';", '');
  if (runtime.length > 0) prelude.push(`import { ${runtime.join(', ')} } from './${TS_RUNTIME_MODULE.replace(/\.ts$/, '.js')}';`);
  for (const mod of mods) {
    const names = [...(ctx.imports.get(mod) ?? [])].sort((a, b) => a.replace(/^type /, '').localeCompare(b.replace(/^type /, '')));
    prelude.push(`import { ${names.join(', ')} } from '${mod}';`);
  }
  return `${prelude.join('\n')}\n\n${decls.join('\n')}`;
}

export function emitTsIndex(schemas: readonly SchemaDef[]): string {
  const lines = ['// Generated by mmbus-codegen. Do not edit: change the schemas and regenerate.'];
  for (const s of [...schemas].sort((a, b) => a.baseName.localeCompare(b.baseName))) lines.push(`export * from './${s.baseName}.js';`);
  return lines.join('\n') + '\n';
}
