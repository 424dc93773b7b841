// Identifier rules: keywords of the target languages and the spellings used in each output.

const C_KEYWORDS = `auto break case char const continue default do double else enum extern float for goto if
inline int long register restrict return short signed sizeof static struct switch typedef union unsigned
void volatile while _Alignas _Alignof _Atomic _Bool _Complex _Generic _Imaginary _Noreturn _Static_assert
_Thread_local`;

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

/** C spelling of a namespaced type: `mmbus.Person` -> `mmbus_Person`. */
export function cTypeName(namespace: string, name: string): string {
  return namespace ? `${namespace.replace(/\./g, '_')}_${name}` : name;
}

/** C macro prefix: `mmbus.PointUpdate` -> `MMBUS_POINT_UPDATE`. */
export function cMacroPrefix(namespace: string, name: string): string {
  const parts = namespace ? namespace.split('.') : [];
  return [...parts, name].map(upperSnake).join('_');
}

/** The shared runtime module written once into every TypeScript output directory. */
export const TS_RUNTIME_MODULE = '_runtime.ts';

/** The common header written once into every C output directory and included by each schema header. */
export const C_COMMON_HEADER = 'mmbus_codegen.h';
