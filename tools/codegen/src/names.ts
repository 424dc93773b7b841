// Identifier rules and spellings: keywords of the target languages, the names already taken where the
// generated code is compiled, and every identifier the emitters make from schema names (the emitters
// and the collision checks both spell them through these functions).
import { C_LIBRARY_NAMES } from './c-library-names.js';
import type { EnumDef, EnumValueDef, FieldDef, SchemaDef, StructDef } from '@mmbus/runtime/schema';

// `typeof` and `typeof_unqual`: keywords in C23 and (typeof) in GNU C, the default mode of gcc and clang.
const C_KEYWORDS = `auto break case char const continue default do double else enum extern float for goto if
inline int long register restrict return short signed sizeof static struct switch typedef union unsigned
void volatile while _Alignas _Alignof _Atomic _Bool _Complex _Generic _Imaginary _Noreturn _Static_assert
_Thread_local typeof typeof_unqual`;

// The headers are also compiled as C++, so C++ keywords break them too.
const CPP_KEYWORDS = `alignas alignof and and_eq asm bitand bitor bool catch char8_t char16_t char32_t class
compl concept consteval constexpr constinit const_cast co_await co_return co_yield decltype delete
dynamic_cast explicit export false friend mutable namespace new noexcept not not_eq nullptr operator or
or_eq private protected public reinterpret_cast requires static_assert static_cast template this
thread_local throw true try typeid typename using virtual wchar_t xor xor_eq`;

// ECMAScript reserved words (including strict mode) and TypeScript's predefined type names, which
// cannot name a class, an interface or a type.
const TS_KEYWORDS = `break case catch class const continue debugger default delete do else enum export extends
false finally for function if import in instanceof new null return super switch this throw true try typeof
var void while with implements interface let package private protected public static yield await any
boolean number string symbol bigint never unknown object undefined`;

const toSet = (s: string): Set<string> => new Set(s.split(/\s+/).filter(Boolean));
const C_SET = toSet(C_KEYWORDS);
const CPP_SET = toSet(CPP_KEYWORDS);
const TS_SET = toSet(TS_KEYWORDS);

/** The language a name is a keyword of, or undefined. */
export function keywordLanguage(name: string): string | undefined {
  const langs: string[] = [];
  if (TS_SET.has(name)) langs.push('TypeScript');
  if (C_SET.has(name)) langs.push('C');
  else if (CPP_SET.has(name)) langs.push('C++');
  return langs.length > 0 ? langs.join(' and ') : undefined;
}

/** Names a generated module cannot declare: generated modules are ES modules, hence strict mode. */
export const TS_STRICT_BINDINGS = new Set(['arguments', 'eval']);

/**
 * Properties every object inherits (Object.prototype): a generated member or plain-object property of
 * that name would shadow them (and `__proto__: v` in an object literal sets the prototype instead).
 */
export const OBJECT_PROTOTYPE_NAMES = new Set([
  '__proto__', '__defineGetter__', '__defineSetter__', '__lookupGetter__', '__lookupSetter__', 'constructor',
  'hasOwnProperty', 'isPrototypeOf', 'propertyIsEnumerable', 'toLocaleString', 'toString', 'valueOf',
]);

/** Members of every generated class besides those made from fields (statics are another namespace). */
export const TS_CLASS_MEMBERS = ['view', 'offset', 'wrap', 'moveTo', 'clear', 'toObject', 'assign', 'constructor'];

/** Static members of every generated class (KEY only on keyed types): a namespace of their own, apart from the fields'. */
export const TS_STATIC_MEMBERS = ['NAME', 'SIZE', 'ALIGN', 'FINGERPRINT', 'KEY', 'LAYOUT', 'fromObject'];

/** Private member of every generated class: `_mmbus` names are refused in schemas, so no field makes it. */
export const TS_PRIVATE_LAST = '#_mmbusLast';

/** snake_case or camelCase to lowerCamelCase: `device_id` -> `deviceId`. */
export function lowerCamel(name: string): string {
  const lead = /^_*/.exec(name)?.[0] ?? '';
  const rest = name.slice(lead.length).replace(/_+([A-Za-z0-9])/g, (_m, c: string) => c.toUpperCase());
  return lead + rest.charAt(0).toLowerCase() + rest.slice(1);
}

export function upperFirst(name: string): string {
  return name.charAt(0).toUpperCase() + name.slice(1);
}

/** `PointUpdate` -> `POINT_UPDATE`, `HTTPServer` -> `HTTP_SERVER`, `device_id` -> `DEVICE_ID`. */
export function upperSnake(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2')
    .toUpperCase();
}

/** The TypeScript members generated for one field: exactly the names emit-ts gives them. */
export interface TsFieldNames {
  /** The accessor pair, or for arrays the element getter method; also the plain-object property. */
  main: string;
  /** `setX(...)`: text (with options) and arrays (by index). */
  setter?: string;
  /** `xNumber`: an accessor pair for a 64-bit scalar, a method for an array of them. */
  number?: string;
  /** `setXNumber(i, v)`: arrays of 64-bit integers. */
  setNumber?: string;
  /** `xBytes()`: text. */
  bytes?: string;
  /** `xLength`: arrays. */
  length?: string;
  /** `#x`: the nested flyweight of a struct or array-of-struct field. */
  flyweight?: string;
}

export function tsFieldNames(f: Pick<FieldDef, 'name' | 'type'>): TsFieldNames {
  const main = lowerCamel(f.name);
  const pascal = upperFirst(main);
  const t = f.type;
  const out: TsFieldNames = { main };
  const is64 = (k: string): boolean => k === 'int64' || k === 'uint64';
  if (t.kind === 'text') {
    out.setter = `set${pascal}`;
    out.bytes = `${main}Bytes`;
  } else if (t.kind === 'struct') {
    out.flyweight = `#${main}`;
  } else if (t.kind === 'array') {
    out.setter = `set${pascal}`;
    out.length = `${main}Length`;
    if (t.elem.kind === 'struct') out.flyweight = `#${main}`;
    else if (is64(t.elem.kind === 'scalar' ? t.elem.scalar : t.elem.def.underlying)) {
      out.number = `${main}Number`;
      out.setNumber = `set${pascal}Number`;
    }
  } else if (is64(t.kind === 'scalar' ? t.scalar : t.def.underlying)) {
    out.number = `${main}Number`;
  }
  return out;
}

/** Every member name in `n`, the main one first. */
export function tsFieldMembers(n: TsFieldNames): string[] {
  return [n.main, n.setter, n.number, n.setNumber, n.bytes, n.length, n.flyweight].filter((m): m is string => m !== undefined);
}

type Decl = StructDef | EnumDef;

/** C spelling of a namespaced type: `mmbus.Person` -> `mmbus_Person`. */
export function cTypeName(d: Pick<Decl, 'namespace' | 'name'>): string {
  return d.namespace ? `${d.namespace.replace(/\./g, '_')}_${d.name}` : d.name;
}

/** C macro prefix: `mmbus.PointUpdate` -> `MMBUS_POINT_UPDATE`. */
export function cMacroPrefix(d: Pick<Decl, 'namespace' | 'name'>): string {
  const parts = d.namespace ? d.namespace.split('.') : [];
  return [...parts, d.name].map(upperSnake).join('_');
}

/** The per-struct constants, in the order the header defines them. */
export const C_STRUCT_CONSTANTS = ['NAME', 'SIZE', 'ALIGN', 'FINGERPRINT', 'LAYOUT'] as const;

/** A keyed struct's constants: where its key field is (as the options of a keyed channel take it). */
export const C_KEY_CONSTANTS = ['KEY_OFFSET', 'KEY_SIZE'] as const;

export function cStructMacro(s: StructDef, which: (typeof C_STRUCT_CONSTANTS)[number] | (typeof C_KEY_CONSTANTS)[number]): string {
  return `${cMacroPrefix(s)}_${which}`;
}

/** `_CAPACITY` of a text field, `_LENGTH` of an array; undefined for other fields. */
export function cFieldMacro(s: StructDef, f: FieldDef): string | undefined {
  if (f.type.kind === 'text') return `${cMacroPrefix(s)}_${upperSnake(f.name)}_CAPACITY`;
  if (f.type.kind === 'array') return `${cMacroPrefix(s)}_${upperSnake(f.name)}_LENGTH`;
  return undefined;
}

export function cEnumValueMacro(e: EnumDef, v: EnumValueDef): string {
  return `${cMacroPrefix(e)}_${upperSnake(v.name)}`;
}

/** The accessor functions of a text field. */
export function cTextFunctions(s: StructDef, f: FieldDef): { setN: string; set: string; get: string } {
  const t = cTypeName(s);
  return { setN: `${t}_set_${f.name}_n`, set: `${t}_set_${f.name}`, get: `${t}_get_${f.name}` };
}

export function cHeaderGuard(schema: SchemaDef): string {
  return `MMBUS_GENERATED_${upperSnake(schema.baseName).replace(/[^A-Z0-9_]/g, '_')}_H`;
}

/** Padding members are `mmbus_pad0`, `mmbus_pad1`, ...: field names starting with `mmbus_pad` are refused. */
export const C_PAD_PREFIX = 'mmbus_pad';

export interface CLibraryHeader {
  header: string;
  macro?: string;
  type?: string;
  function?: string;
  object?: string;
  tag?: string;
}

export type CNameKind = 'macro' | 'type' | 'function' | 'object' | 'tag';

const KIND_WORDS: Record<CNameKind, string> = {
  macro: 'a macro',
  type: 'a type',
  function: 'a function',
  object: 'a variable or constant',
  tag: 'a struct or enum tag',
};

/**
 * Macros gcc and clang predefine without a reserved spelling, in their default (GNU) modes: `linux`
 * and `unix` on Linux, `i386` on 32-bit x86, the others on the systems they name.
 */
const C_PREDEFINED = 'linux unix i386 sun sparc mips vax m68k mc68000 WIN32 WINNT';

/** What a C identifier already is where the generated headers are compiled, by name. */
export interface CTakenName {
  kind: CNameKind;
  /** e.g. 'a macro in <errno.h>' */
  what: string;
  /** The language it breaks, when only one of them. */
  lang?: 'C++';
}

const cTaken = new Map<string, CTakenName>();
const KIND_ORDER: CNameKind[] = ['macro', 'type', 'function', 'object', 'tag'];
for (const kind of KIND_ORDER) {
  for (const h of C_LIBRARY_NAMES) {
    for (const n of toSet(h[kind] ?? '')) if (!cTaken.has(n)) cTaken.set(n, { kind, what: `${KIND_WORDS[kind]} in ${h.header}` });
  }
}
for (const n of toSet(C_PREDEFINED)) cTaken.set(n, { kind: 'macro', what: 'a macro gcc and clang predefine in their default GNU modes' });
// Names every program has besides those of the headers.
cTaken.set('main', { kind: 'function', what: "the name of every C program's entry point, main()" });
cTaken.set('std', { kind: 'tag', what: "the C++ standard library's namespace, which the C headers declare in C++", lang: 'C++' });

export function cTakenName(name: string): CTakenName | undefined {
  return cTaken.get(name);
}

/** Reserved for the compiler and the C library everywhere in C and C++: `__x` and `_X`. */
export function isCReserved(name: string): boolean {
  return /^(__|_[A-Z])/.test(name);
}

/** The shared runtime module written once into every TypeScript output directory. */
export const TS_RUNTIME_MODULE = '_runtime.ts';

/** The common header written once into every C output directory and included by each schema header. */
export const C_COMMON_HEADER = 'mmbus_codegen.h';
