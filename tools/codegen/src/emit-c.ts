// C header emitter: one header per schema, C11 and C++ compatible, no implicit padding.
import { hex64, layoutText, recordLayout } from '@mmbus/runtime/schema';
import { type ElemType, type EnumDef, type FieldDef, type SchemaDef, type StructDef, type ScalarKind } from '@mmbus/runtime/schema';
import {
  C_COMMON_HEADER,
  C_PAD_PREFIX,
  cEnumValueMacro,
  cFieldMacro,
  cHeaderGuard,
  cStructMacro,
  cTextFunctions,
  cTypeName,
} from './names.js';

/** The C type of each scalar: the only standard types a generated struct's members have. */
export const C_SCALAR: Record<ScalarKind, string> = {
  bool: 'uint8_t',
  int8: 'int8_t',
  uint8: 'uint8_t',
  int16: 'int16_t',
  uint16: 'uint16_t',
  int32: 'int32_t',
  uint32: 'uint32_t',
  int64: 'int64_t',
  uint64: 'uint64_t',
  float32: 'float',
  float64: 'double',
};

export function cHeaderName(schema: SchemaDef): string {
  return `${schema.baseName}.h`;
}

function comment(lines: string[], indent = ''): string[] {
  if (lines.length === 0) return [];
  // '*/' would end the comment; '/*' in one is a -Wcomment warning, a trigraph (C11 has them) -Wtrigraphs
  const safe = lines.map((l) =>
    l
      .replace(/\*\//g, '*\\/')
      .replace(/\/\*/g, '/\\*')
      .replace(/\?\?(?=[=/'()!<>-])/g, '?\\?'),
  );
  if (safe.length === 1) return [`${indent}/** ${safe[0]} */`];
  return [`${indent}/**`, ...safe.map((l) => (l ? `${indent} * ${l}` : `${indent} *`)), `${indent} */`];
}

function elemCType(t: ElemType): string {
  if (t.kind === 'scalar') return C_SCALAR[t.scalar];
  return cTypeName(t.def);
}

function fieldDecl(f: FieldDef): string {
  const t = f.type;
  if (t.kind === 'text') return `char ${f.name}[${t.length}];`;
  if (t.kind === 'array') return `${elemCType(t.elem)} ${f.name}[${t.length}];`;
  return `${elemCType(t)} ${f.name};`;
}

function intLiteral(kind: ScalarKind, v: bigint): string {
  const signed = kind.startsWith('int');
  const bits = kind === 'int64' || kind === 'uint64' ? 64 : 32;
  if (bits === 64) {
    if (signed && v === -(1n << 63n)) return '(-INT64_C(9223372036854775807) - 1)';
    return signed ? `INT64_C(${v})` : `UINT64_C(${v})`;
  }
  if (signed && v === -(1n << 31n)) return '(-2147483647 - 1)';
  return signed ? `${v}` : `${v}u`;
}

function emitEnum(e: EnumDef): string[] {
  const ctype = cTypeName(e);
  const out: string[] = [...comment(e.doc), `typedef ${C_SCALAR[e.underlying]} ${ctype};`];
  for (const v of e.values) {
    out.push(...comment(v.doc));
    out.push(`#define ${cEnumValueMacro(e, v)} ((${ctype})${intLiteral(e.underlying, v.value)})`);
  }
  out.push('');
  return out;
}

/** The JSON of the struct's RecordLayout as a C string, cut into lines: what a channel created with it carries. */
function layoutMacro(s: StructDef): string[] {
  const json = JSON.stringify(recordLayout(s));
  const cString = (t: string): string => `"${t.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  const lines: string[] = [];
  for (let i = 0; i < json.length; i += 100) lines.push(`  ${cString(json.slice(i, i + 100))}`); // cut before escaping
  return [
    `/* The record layout description (docs/format.md §13): mmbus_options_t layout = ${cStructMacro(s, 'LAYOUT')}, layout_size = sizeof ${cStructMacro(s, 'LAYOUT')} - 1 */`,
    `#define ${cStructMacro(s, 'LAYOUT')} \\`,
    ...lines.map((l, i) => (i < lines.length - 1 ? `${l} \\` : l)),
  ];
}

function emitStruct(s: StructDef, withLayout: boolean): string[] {
  const ctype = cTypeName(s);
  const out: string[] = [];
  out.push(`#define ${cStructMacro(s, 'NAME')} "${s.fqn}"`);
  out.push(`#define ${cStructMacro(s, 'SIZE')} ${s.size}`);
  out.push(`#define ${cStructMacro(s, 'ALIGN')} ${s.align}`);
  out.push(`#define ${cStructMacro(s, 'FINGERPRINT')} UINT64_C(${hex64(s.fingerprint)})`);
  if (withLayout) out.push(...layoutMacro(s));
  if (s.key) {
    out.push(`/* keyed: the key field '${s.key.name}' (mmbus_options_t key_offset, key_size) */`);
    out.push(`#define ${cStructMacro(s, 'KEY_OFFSET')} ${s.key.offset}`);
    out.push(`#define ${cStructMacro(s, 'KEY_SIZE')} ${s.key.size}`);
  }
  for (const f of s.fields) {
    const macro = cFieldMacro(s, f);
    if (macro !== undefined && (f.type.kind === 'text' || f.type.kind === 'array')) out.push(`#define ${macro} ${f.type.length}`);
  }
  out.push('');
  out.push(...comment([...s.doc, ...(s.doc.length ? [''] : []), `Layout: ${layoutText(s)}`]));
  out.push(`typedef struct ${ctype} {`);
  // Fields and padding members in offset order; the first member carries the struct's alignment so
  // the struct is aligned alike on every ABI (force_align, 64-bit members on 32-bit x86).
  const members: { offset: number; lines: string[] }[] = [];
  s.fields.forEach((f) => members.push({ offset: f.offset, lines: [...comment(f.doc, '  '), `  ${fieldDecl(f)}`] }));
  s.padding.forEach((p, i) =>
    members.push({ offset: p.offset, lines: [`  uint8_t ${C_PAD_PREFIX}${i}[${p.size}]; /* padding, keep zero */`] }),
  );
  members.sort((a, b) => a.offset - b.offset);
  let first = true;
  for (const m of members) {
    for (const line of m.lines) {
      if (first && !line.trimStart().startsWith('/*')) {
        out.push(line.replace(/^ {2}/, `  MMBUS_ALIGNAS(${s.align}) `));
        first = false;
      } else {
        out.push(line);
      }
    }
  }
  out.push(`} ${ctype};`);
  out.push('');
  out.push(`MMBUS_STATIC_ASSERT(sizeof(${ctype}) == ${s.size}, "${ctype}: size differs from the schema layout");`);
  out.push(`MMBUS_STATIC_ASSERT(MMBUS_ALIGNOF(${ctype}) == ${s.align}, "${ctype}: alignment differs from the schema layout");`);
  for (const f of s.fields) {
    out.push(`MMBUS_STATIC_ASSERT(offsetof(${ctype}, ${f.name}) == ${f.offset}, "${ctype}.${f.name}: offset differs from the schema layout");`);
  }
  out.push('');
  for (const f of s.fields) {
    if (f.type.kind !== 'text') continue;
    const fn = cTextFunctions(s, f);
    out.push(
      `/** Sets ${f.name} from \`len\` bytes of UTF-8 at \`s\` and zero-fills the rest. Returns 0; or, when they do not fit`,
      ` * (${f.type.length} bytes): -E2BIG leaving the record unchanged if \`truncate\` is 0, else 1 after storing the longest`,
      ' * prefix that does not split a UTF-8 sequence. */',
      `static inline int ${fn.setN}(${ctype} *m, const char *s, size_t len, int truncate) {`,
      `  return mmbus_text_set_(m->${f.name}, sizeof m->${f.name}, s, len, truncate);`,
      '}',
      `/** Sets ${f.name} from a NUL-terminated UTF-8 string: see ${fn.setN}. */`,
      `static inline int ${fn.set}(${ctype} *m, const char *s, int truncate) {`,
      `  return mmbus_text_set_(m->${f.name}, sizeof m->${f.name}, s, strlen(s), truncate);`,
      '}',
      `/** Returns ${f.name}'s bytes (not NUL-terminated when the field is full) and stores their length in *len. */`,
      `static inline const char *${fn.get}(const ${ctype} *m, size_t *len) {`,
      `  *len = mmbus_text_len_(m->${f.name}, sizeof m->${f.name});`,
      `  return m->${f.name};`,
      '}',
      '',
    );
  }
  return out;
}


/**
 * The common header: standard includes, the byte-order check, the C11/C++ portability macros and the
 * text helpers. Guarded by MMBUS_CODEGEN_COMMON_V1 so that headers generated into several directories
 * can be used together.
 */
export function emitCCommon(): string {
  return `/* Generated by mmbus-codegen. Do not edit: regenerate. */
/* Shared by the headers generated into this directory (each includes it): portability macros and the
 * text-field helpers. C11 and C++. */
#ifndef MMBUS_CODEGEN_COMMON_V1
#define MMBUS_CODEGEN_COMMON_V1

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "mmbus records are little-endian: this header supports little-endian hosts only"
#endif

#ifdef __cplusplus
#define MMBUS_ALIGNAS(n) alignas(n)
#define MMBUS_ALIGNOF(t) alignof(t)
#define MMBUS_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#else
#define MMBUS_ALIGNAS(n) _Alignas(n)
#define MMBUS_ALIGNOF(t) _Alignof(t)
#define MMBUS_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Length of a text field: bytes before the first NUL, or the whole field. */
static inline size_t mmbus_text_len_(const char *field, size_t cap) {
  const char *z = (const char *)memchr(field, 0, cap);
  return z ? (size_t)(z - field) : cap;
}

/* Stores len bytes of UTF-8 into a text field of cap bytes, zero-filling the rest. Too long: -E2BIG
 * (nothing written) unless truncate, then the longest prefix not splitting a sequence, and 1. */
static inline int mmbus_text_set_(char *field, size_t cap, const char *s, size_t len, int truncate) {
  int truncated = 0;
  if (len > cap) {
    if (!truncate) return -E2BIG;
    len = cap;
    while (len > 0 && ((unsigned char)s[len] & 0xC0u) == 0x80u) len--;
    truncated = 1;
  }
  memmove(field, s, len);
  memset(field + len, 0, cap - len);
  return truncated;
}

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* MMBUS_CODEGEN_COMMON_V1 */
`;
}

export function emitCHeader(schema: SchemaDef): string {
  const guard = cHeaderGuard(schema);
  const out: string[] = [
    `/* Generated by mmbus-codegen from ${schema.baseName}.fbs. Do not edit: change the schema and regenerate. */`,
    `#ifndef ${guard}`,
    `#define ${guard}`,
    '',
    `#include "${C_COMMON_HEADER}"`,
  ];
  for (const inc of schema.includes) out.push(`#include "${cHeaderName(inc)}"`);
  out.push('', '#ifdef __cplusplus', 'extern "C" {', '#endif', '');
  // A struct that another struct of the file nests is rarely a channel's record: only the others get a
  // _LAYOUT string (each holds its nested structs' layouts, so one per struct would grow with the square
  // of the nesting depth).
  const nestedHere = new Set<StructDef>();
  for (const d of schema.decls) {
    if (d.kind !== 'struct') continue;
    for (const f of d.fields) {
      const e = f.type.kind === 'array' ? f.type.elem : f.type;
      if (e.kind === 'struct') nestedHere.add(e.def);
    }
  }
  for (const d of schema.decls) out.push(...(d.kind === 'enum' ? emitEnum(d) : emitStruct(d, !nestedHere.has(d))));
  out.push('#ifdef __cplusplus', '} /* extern "C" */', '#endif', '', `#endif /* ${guard} */`, '');
  return out.join('\n');
}
