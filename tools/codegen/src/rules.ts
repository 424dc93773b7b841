// What mmbus-codegen refuses on top of the schema reader of @mmbus/runtime: names its TypeScript or C
// could not declare (keywords, names reserved for generated code, clashes with generated members,
// exports and files, C identifiers already taken). The reader calls these where it checks the same
// item, so the diagnostics keep the order of the schema.
import { basename } from 'node:path';
import type { Diagnostic, EnumDef, Model, SchemaDef, SchemaRules, StructDef } from '@mmbus/runtime/schema';
import { formatPos, loadSchemas as readSchemas, loadSchemaText as readSchemaText, type LoadOptions } from '@mmbus/runtime/schema';
import { checkCNames } from './check-c.js';
import {
  C_COMMON_HEADER,
  C_PAD_PREFIX,
  OBJECT_PROTOTYPE_NAMES,
  TS_CLASS_MEMBERS,
  TS_PRIVATE_LAST,
  TS_RUNTIME_MODULE,
  TS_STRICT_BINDINGS,
  keywordLanguage,
  tsFieldMembers,
  tsFieldNames,
} from './names.js';
import { runtimeExports } from './ts-runtime.js';

type Decl = StructDef | EnumDef;

/**
 * Names a generated module refers to besides its own: globals, the runtime's helpers, and the
 * parameters of the methods that refer to a struct class by name (`new Nested(view, offset + 4)`).
 */
const TS_TAKEN_NAMES = new Set([
  'Array', 'ArrayBuffer', 'BigInt', 'DataView', 'Error', 'Math', 'Number', 'Object', 'Partial', 'RangeError',
  'String', 'TextDecoder', 'TextEncoder', 'Uint8Array', 'view', 'offset', 'obj', ...runtimeExports(),
]);

/** Output files mmbus-codegen writes besides one per schema, by the schema base name that would clash. */
const RESERVED_OUTPUTS = new Map([
  ['index', 'index.ts'],
  [TS_RUNTIME_MODULE.replace(/\.ts$/, ''), TS_RUNTIME_MODULE],
  [C_COMMON_HEADER.replace(/\.h$/, ''), C_COMMON_HEADER],
]);

/** Members every generated class has besides those made from fields. */
const TS_RESERVED_MEMBERS = new Set([...TS_CLASS_MEMBERS, TS_PRIVATE_LAST]);

/** Why a name of Object.prototype cannot be a generated member or property. */
function prototypeClash(name: string): string {
  return name === '__proto__'
    ? "'__proto__' in an object literal sets the prototype instead of a property"
    : `every object inherits '${name}' from Object.prototype, which the generated member would shadow`;
}

/** The rules of one load (they remember the TypeScript export names declared so far). */
export function generatorRules(): SchemaRules {
  const tsExportNames = new Map<string, Decl>();
  return {
    files(schemas: readonly SchemaDef[]): Diagnostic[] {
      const diags: Diagnostic[] = [];
      const baseNames = new Map<string, SchemaDef>();
      for (const def of schemas) {
        const pos = { file: def.path, line: 1, col: 1 };
        const reserved = RESERVED_OUTPUTS.get(def.baseName);
        if (reserved) {
          diags.push({ pos, message: `schema ${def.path} would generate ${reserved}, which mmbus-codegen writes itself; rename the schema` });
        } else if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(def.baseName)) {
          diags.push({
            pos,
            message: `schema file name '${basename(def.path)}': the output files and the imports between them are named after it, so it must be letters, digits, '_', '-' and '.' (not starting with '.' or '-'); rename the file`,
          });
        }
        const other = baseNames.get(def.baseName);
        if (other) {
          diags.push({
            pos,
            message: `schema ${def.path} and ${other.path} would generate the same output files (${def.baseName}.ts, ${def.baseName}.h); rename one`,
          });
        }
        baseNames.set(def.baseName, def);
      }
      return diags;
    },

    name(name: string, what: string): string[] {
      const messages: string[] = [];
      const lang = keywordLanguage(name);
      if (lang) messages.push(`${what} name '${name}' is a keyword in ${lang}; rename it (e.g. '${name}_')`);
      if (name.startsWith('_mmbus') || name.startsWith(C_PAD_PREFIX)) messages.push(`${what} name '${name}' is reserved for generated code; rename it`);
      return messages;
    },

    declaration(decl: Decl, sameName: Decl | undefined): string | undefined {
      if (TS_STRICT_BINDINGS.has(decl.name)) {
        return `${decl.kind} name '${decl.name}' cannot be declared in TypeScript: generated modules are strict mode code, where '${decl.name}' is not a valid name; rename it`;
      }
      if (TS_TAKEN_NAMES.has(decl.name)) return `${decl.kind} name '${decl.name}' would shadow a name the generated TypeScript uses; rename it`;
      const objectOf = /^(.+)Object$/.exec(decl.name)?.[1];
      const base = objectOf !== undefined ? tsExportNames.get(objectOf) : undefined;
      if (base?.kind === 'struct') {
        return `${decl.kind} name '${decl.name}' clashes with the TypeScript interface generated for struct ${base.name} (declared at ${formatPos(base.pos)}); rename it`;
      }
      const taken = decl.kind === 'struct' ? tsExportNames.get(`${decl.name}Object`) : undefined;
      if (taken) {
        return `struct ${decl.name} would generate the TypeScript interface ${taken.name}, already the name of the ${taken.kind} declared at ${formatPos(taken.pos)}; rename one of them`;
      }
      if (sameName) return undefined; // the reader reports the duplicate
      const prevTs = tsExportNames.get(decl.name);
      if (prevTs) return `duplicate name '${decl.name}': ${prevTs.fqn} (${formatPos(prevTs.pos)}) has the same TypeScript export name; rename one of them`;
      tsExportNames.set(decl.name, decl);
      return undefined;
    },

    enumValue(name: string, enumName: string): string | undefined {
      return OBJECT_PROTOTYPE_NAMES.has(name)
        ? `enum value name '${name}' would be a property of the TypeScript object ${enumName}, but ${prototypeClash(name)}; rename it`
        : undefined;
    },

    fields() {
      const members = new Map<string, string>(); // generated member -> the field it is made from
      const clashed = new Set<string>(); // one message per field is enough
      return (field) => {
        if (clashed.has(field.name)) return undefined;
        for (const member of tsFieldMembers(tsFieldNames(field))) {
          let message: string | undefined;
          if (TS_RESERVED_MEMBERS.has(member)) {
            message = `field '${field.name}' would generate the TypeScript member '${member}', which the generated class already has; rename the field`;
          } else if (OBJECT_PROTOTYPE_NAMES.has(member)) {
            message = `field '${field.name}' would generate the TypeScript member '${member}', but ${prototypeClash(member)}; rename the field`;
          } else {
            const other = members.get(member);
            if (other !== undefined && other !== field.name) {
              message = `field '${field.name}' would generate the TypeScript member '${member}', also generated for field '${other}'; rename one of them`;
            }
            members.set(member, field.name);
          }
          if (message !== undefined) {
            clashed.add(field.name);
            return message;
          }
        }
        return undefined;
      };
    },

    model(model: Model): Diagnostic[] {
      return checkCNames(model);
    },
  };
}

/** Loads schemas as @mmbus/runtime does, refusing what mmbus-codegen could not generate. */
export function loadSchemas(paths: readonly string[], opts: Omit<LoadOptions, 'rules'> = {}): Model {
  return readSchemas(paths, { ...opts, rules: generatorRules() });
}

/** loadSchemas over schema text held in memory (tests, tools); includes are read from `files`. */
export function loadSchemaText(files: Record<string, string>, roots: readonly string[] = Object.keys(files)): Model {
  return readSchemaText(files, roots, generatorRules());
}
