// Every C identifier the headers of one run define, checked against what is already taken where they
// are compiled (macros, types and functions of the C headers, the compilers' predefined macros, the
// common header, names reserved for the implementation) and against each other, after the name
// transformations (namespace joining, UPPER_SNAKE).
import { C_SCALAR, emitCCommon } from './emit-c.js';
import { formatPos, type Diagnostic, type Pos } from '@mmbus/runtime/schema';
import type { EnumDef, FieldType, Model, StructDef } from '@mmbus/runtime/schema';
import {
  C_COMMON_HEADER,
  C_STRUCT_CONSTANTS,
  cEnumValueMacro,
  cFieldMacro,
  cHeaderGuard,
  C_KEY_CONSTANTS,
  cStructMacro,
  cTakenName,
  cTextFunctions,
  cTypeName,
  isCReserved,
  type CTakenName,
} from './names.js';

/** Where an identifier comes from: the schema item it is made from, for the messages. */
interface Source {
  /** e.g. `field 'x' of struct a.S` */
  subject: string;
  /** `field`, `struct`, `enum`, `enum value`, `schema file` */
  kind: string;
  /** The item's own name in the schema. */
  name: string;
  pos: Pos;
  /** The struct or enum of a field or an enum value: no message for them once it has one. */
  parent?: object;
  item: object;
}

type Space = 'macro' | 'global' | 'member';

export interface CIdentifier {
  name: string;
  space: Space;
  /** e.g. 'macro', 'type name', 'function' */
  role: string;
  src: Source;
}

/** Every identifier the C emitter defines for `model`, in output order (emit-c.ts spells them through names.ts too). */
export function cIdentifiers(model: Model): CIdentifier[] {
  const out: CIdentifier[] = [];
  for (const schema of model.schemas) {
    const src: Source = { subject: `schema ${schema.path}`, kind: 'schema file', name: schema.baseName, pos: { file: schema.path, line: 1, col: 1 }, item: schema };
    out.push({ name: cHeaderGuard(schema), space: 'macro', role: 'include guard', src });
    for (const d of schema.decls) out.push(...(d.kind === 'enum' ? enumIdents(d) : structIdents(d)));
  }
  return out;
}

function enumIdents(e: EnumDef): CIdentifier[] {
  const src: Source = { subject: `enum ${e.fqn}`, kind: 'enum', name: e.name, pos: e.pos, item: e };
  const out: CIdentifier[] = [{ name: cTypeName(e), space: 'global', role: 'type name', src }];
  for (const v of e.values) {
    const vsrc: Source = { subject: `enum value '${v.name}' of enum ${e.fqn}`, kind: 'enum value', name: v.name, pos: v.pos, parent: e, item: v };
    out.push({ name: cEnumValueMacro(e, v), space: 'macro', role: 'macro', src: vsrc });
  }
  return out;
}

function structIdents(s: StructDef): CIdentifier[] {
  const src: Source = { subject: `struct ${s.fqn}`, kind: 'struct', name: s.name, pos: s.pos, item: s };
  const out: CIdentifier[] = [{ name: cTypeName(s), space: 'global', role: 'type name', src }];
  for (const k of C_STRUCT_CONSTANTS) out.push({ name: cStructMacro(s, k), space: 'macro', role: 'macro', src });
  if (s.key) for (const k of C_KEY_CONSTANTS) out.push({ name: cStructMacro(s, k), space: 'macro', role: 'macro', src });
  for (const f of s.fields) {
    const fsrc: Source = { subject: `field '${f.name}' of struct ${s.fqn}`, kind: 'field', name: f.name, pos: f.pos, parent: s, item: f };
    const macro = cFieldMacro(s, f);
    if (macro !== undefined) out.push({ name: macro, space: 'macro', role: 'macro', src: fsrc });
    out.push({ name: f.name, space: 'member', role: 'struct member', src: fsrc });
    if (f.type.kind === 'text') {
      for (const fn of Object.values(cTextFunctions(s, f))) out.push({ name: fn, space: 'global', role: 'function', src: fsrc });
    }
  }
  return out;
}

/** The common header's own macros and functions, read from its text. */
function commonHeaderNames(): { taken: Map<string, CTakenName>; includes: Set<string> } {
  const text = emitCCommon();
  const taken = new Map<string, CTakenName>();
  for (const m of text.matchAll(/^#define (\w+)/gm)) taken.set(m[1] as string, { kind: 'macro', what: `a macro in ${C_COMMON_HEADER}` });
  for (const m of text.matchAll(/^static inline [^(]*?(\w+)\(/gm)) taken.set(m[1] as string, { kind: 'function', what: `a function in ${C_COMMON_HEADER}` });
  const includes = new Set([...text.matchAll(/^#include (<[\w./]+>)/gm)].map((m) => m[1] as string));
  return { taken, includes };
}

/** The standard types members of a generated struct are declared with (bool and text use uint8_t and char). */
const MEMBER_TYPES = new Set(Object.values(C_SCALAR));

const CPP_MEMBER_TYPE = 'it would not compile as C++, where a member named like a type the struct uses changes what the name means';

/** The schema types a struct's members are declared with. */
function usedTypes(s: StructDef): Set<object> {
  const out = new Set<object>();
  const add = (t: FieldType): void => {
    if (t.kind === 'struct' || t.kind === 'enum') out.add(t.def);
    else if (t.kind === 'array') add(t.elem);
  };
  for (const f of s.fields) add(f.type);
  return out;
}

export function checkCNames(model: Model): Diagnostic[] {
  const diags: Diagnostic[] = [];
  const blamed = new Set<object>();
  const report = (src: Source, message: string): void => {
    if (blamed.has(src.item) || (src.parent && blamed.has(src.parent))) return; // one message per item
    blamed.add(src.item);
    diags.push({ pos: src.pos, message });
  };
  const { taken: common, includes } = commonHeaderNames();
  const takenName = (name: string): CTakenName | undefined => common.get(name) ?? cTakenName(name);
  const via = (id: CIdentifier): string => (id.name === id.src.name ? '' : `makes the C ${id.role} '${id.name}', which `);

  const ids = cIdentifiers(model);
  for (const id of ids) {
    if (isCReserved(id.name)) {
      report(
        id.src,
        `${id.src.kind} name '${id.src.name}' ${via(id)}is reserved for the C and C++ implementation (names starting with '__' or with '_' and an uppercase letter, like the predefined macro __cplusplus): it may not compile; rename it`,
      );
      continue;
    }
    const t = takenName(id.name);
    if (!t) continue;
    if (id.space === 'member') {
      // members have their own scope: only macros, and the types the struct itself uses, get in the way
      if (t.kind === 'type' && MEMBER_TYPES.has(id.name)) {
        report(id.src, `${id.src.kind} name '${id.src.name}' is ${t.what}: ${CPP_MEMBER_TYPE}; rename it`);
      }
      if (t.kind !== 'macro') continue;
    }
    const header = /<[\w./]+>/.exec(t.what)?.[0];
    const where = header !== undefined && !includes.has(header) ? ` where ${header} is included` : '';
    report(id.src, `${id.src.kind} name '${id.src.name}' ${via(id)}is ${t.what}: it would not compile as ${t.lang ?? 'C'}${where}; rename it`);
  }

  // Macros and file-scope names share one pool (a macro replaces any identifier); members are checked against it.
  const owners = new Map<string, CIdentifier>();
  for (const id of ids) {
    if (id.space === 'member') continue;
    const first = owners.get(id.name);
    if (!first) {
      owners.set(id.name, id);
    } else if (first.src.item !== id.src.item) {
      report(id.src, `${id.src.subject} would generate the C ${id.role} '${id.name}', which ${first.src.subject} (${formatPos(first.src.pos)}) generates too; rename one of them`);
    }
  }
  for (const id of ids) {
    if (id.space !== 'member') continue;
    const other = owners.get(id.name);
    if (other?.space === 'macro') {
      report(id.src, `${id.src.subject} would be a C member named like the macro '${id.name}' that ${other.src.subject} (${formatPos(other.src.pos)}) generates, which the preprocessor would replace; rename the field`);
    } else if (other?.role === 'type name' && usedTypes(id.src.parent as StructDef).has(other.src.item)) {
      report(id.src, `${id.src.subject} would be a C member named like the type '${id.name}' of ${other.src.subject} (${formatPos(other.src.pos)}): ${CPP_MEMBER_TYPE}; rename the field`);
    }
  }
  return diags;
}
