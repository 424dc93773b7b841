// The layout fingerprint: FNV-1a 64 over a canonical text of the layout (see README.md).
import type { ElemType, FieldType, StructDef } from './model.ts';

const FNV_OFFSET = 0xcbf29ce484222325n;
const FNV_PRIME = 0x100000001b3n;
const MASK64 = 0xffffffffffffffffn;

export function fnv1a64(text: string): bigint {
  let h = FNV_OFFSET;
  for (const b of new TextEncoder().encode(text)) {
    h ^= BigInt(b);
    h = (h * FNV_PRIME) & MASK64;
  }
  return h;
}

function elemCanon(t: ElemType): string {
  if (t.kind === 'scalar') return t.scalar;
  if (t.kind === 'enum') return `enum ${t.def.fqn}:${t.def.underlying}`;
  return `(${t.def.canonical})`;
}

function typeCanon(t: FieldType): string {
  if (t.kind === 'array') return `[${elemCanon(t.elem)}:${t.length}]`;
  if (t.kind === 'text') return `text[${t.length}]`;
  return elemCanon(t);
}

/** Canonical layout text of a struct whose nested structs already have theirs. */
export function canonicalLayout(s: Pick<StructDef, 'fqn' | 'size' | 'align' | 'fields'>): string {
  let out = `struct ${s.fqn} size=${s.size} align=${s.align};`;
  for (const f of s.fields) out += `field ${f.name}:${typeCanon(f.type)}@${f.offset}:${f.size};`;
  return out;
}

export function hex64(v: bigint): string {
  return '0x' + v.toString(16).padStart(16, '0');
}
