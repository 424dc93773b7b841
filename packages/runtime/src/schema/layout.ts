// The plain-data layout (../layout.ts) of a struct of the schema model: what mmbus-codegen emits as a
// generated class's static LAYOUT, what a channel file carries, and what tools build from a .fbs file
// read at run time.
import type { FieldLayout, LayoutElem, LayoutType, RecordLayout, StructLayout } from '../layout.js';
import type { ElemType, FieldType, StructDef } from './model.js';

function elem(t: ElemType): LayoutElem {
  if (t.kind === 'scalar') return { kind: 'scalar', scalar: t.scalar };
  if (t.kind === 'enum') {
    return { kind: 'enum', name: t.def.fqn, scalar: t.def.underlying, values: t.def.values.map((v) => ({ name: v.name, value: v.value.toString() })) };
  }
  return { kind: 'struct', name: t.def.fqn };
}

function type(t: FieldType): LayoutType {
  if (t.kind === 'array') return { kind: 'array', elem: elem(t.elem), length: t.length };
  if (t.kind === 'text') return { kind: 'text', length: t.length };
  return elem(t);
}

function structLayout(def: StructDef): StructLayout {
  const fields: FieldLayout[] = def.fields.map((f) => ({ name: f.name, offset: f.offset, size: f.size, type: type(f.type) }));
  return { name: def.fqn, size: def.size, align: def.align, fields };
}

/** The structs nested in `def`, directly or not, each once, innermost first (a struct before any that uses it). */
function nested(def: StructDef): StructDef[] {
  const out: StructDef[] = [];
  const seen = new Set<StructDef>();
  const visit = (s: StructDef): void => {
    for (const f of s.fields) {
      const e = f.type.kind === 'array' ? f.type.elem : f.type;
      if (e.kind !== 'struct' || seen.has(e.def)) continue;
      seen.add(e.def);
      visit(e.def);
      out.push(e.def);
    }
  };
  visit(def);
  return out;
}

/** The layout of records of `def` as plain data: schema field names, offsets, sizes and types, nested structs once each. */
export function recordLayout(def: StructDef): RecordLayout {
  return { ...structLayout(def), ...(def.key ? { key: def.key.name } : {}), structs: nested(def).map(structLayout) };
}
