// The plain-data layout (../layout.ts) of a struct of the schema model: what mmbus-codegen emits as a
// generated class's static LAYOUT, and what tools build from a .fbs file read at run time.
// INTERIM until @mmbus/runtime's RecordLayout lands on main.
import type { ElemType, FieldType, StructDef } from '@mmbus/runtime/schema';

import type { FieldLayout, LayoutElem, LayoutType, RecordLayout } from './browser/decode.js';

function elem(t: ElemType): LayoutElem {
  if (t.kind === 'scalar') return { kind: 'scalar', scalar: t.scalar };
  if (t.kind === 'enum') {
    return {
      kind: 'enum',
      name: t.def.fqn,
      scalar: t.def.underlying,
      values: t.def.values.map((v) => ({ name: v.name, value: v.value.toString() })),
    };
  }
  return { kind: 'struct', layout: recordLayout(t.def) };
}

function type(t: FieldType): LayoutType {
  if (t.kind === 'array') return { kind: 'array', elem: elem(t.elem), length: t.length };
  if (t.kind === 'text') return { kind: 'text', length: t.length };
  return elem(t);
}

/** The layout of `def` as plain data: schema field names, offsets, sizes and types (nested structs inline). */
export function recordLayout(def: StructDef): RecordLayout {
  const fields: FieldLayout[] = def.fields.map((f) => ({ name: f.name, offset: f.offset, size: f.size, type: type(f.type) }));
  return { name: def.fqn, size: def.size, align: def.align, fields, ...(def.key ? { key: def.key.name } : {}) };
}
