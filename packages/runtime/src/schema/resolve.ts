// Loads schemas (following includes), resolves names, validates and lays out every struct by the
// FlatBuffers struct rules: fields in declaration order, each at the next multiple of its alignment,
// the struct aligned to its largest field (or force_align), its size rounded up to its alignment;
// then, for mmbus, optionally padded to a declared size. Tools add their own checks (SchemaRules): the
// code generator refuses names its TypeScript or C could not declare.
import { closeSync, constants, existsSync, fstatSync, openSync, readSync, statSync, type Stats } from 'node:fs';
import { basename, dirname, join, resolve as resolvePath } from 'node:path';
import { SchemaError, formatPos, type Diagnostic, type Pos } from './diagnostics.js';
import { canonicalLength, layoutFingerprint } from './fingerprint.js';
import {
  ALIGN_MAX,
  ARRAY_LENGTH_MAX,
  INCLUDE_DEPTH_MAX,
  LAYOUT_TEXT_BYTES_MAX,
  RECORD_SIZE_MAX,
  SCHEMA_BYTES_MAX,
  SCHEMA_FILES_MAX,
  SCHEMA_NAME_MAX,
  formatBytes,
} from './limits.js';
import {
  SCALAR_SIZE,
  SCALAR_SPELLINGS,
  elemAlign,
  elemSize,
  isInteger,
  type ElemType,
  type EnumDef,
  type FieldDef,
  type FieldType,
  type Model,
  type SchemaDef,
  type StructDef,
} from './model.js';
import { parseSchema, type AttrAst, type EnumAst, type FileAst, type StructAst, type TypeAst } from './parser.js';

/** Our own attributes. flatc requires every non-builtin attribute to be declared: so do we. */
export const ATTR_TEXT = 'mmbus_text';
export const ATTR_SIZE = 'mmbus_size';
/** Marks the key field of a keyed message type: records of a keyed channel carry their key in it. */
export const ATTR_KEY = 'mmbus_key';
const KEY_SCALARS = new Set(['uint8', 'uint16', 'uint32', 'uint64']);

// flatc builtins that mean nothing for a fixed-size struct (or are table-only).
const UNSUPPORTED_BUILTINS = new Set([
  'id',
  'deprecated',
  'required',
  'key',
  'hash',
  'bit_flags',
  'nested_flatbuffer',
  'flexbuffer',
  'original_order',
  'shared',
  'cpp_type',
  'cpp_ptr_type',
  'native_inline',
  'native_type',
  'native_default',
  'private',
  'streaming',
  'idempotent',
  'vector64',
  'offset64',
]);

type Decl = StructDef | EnumDef;

/**
 * Checks a tool adds to the reader's own, each called where the reader checks the same thing (so the
 * diagnostics keep the order of the schema). They refuse names; none of them changes a layout.
 * Create one per load: they may keep state across the calls of one load.
 */
export interface SchemaRules {
  /** Every schema file loaded, before anything is resolved (e.g. the names of output files). */
  files?(schemas: readonly SchemaDef[]): Diagnostic[];
  /** A namespace part, struct, enum, enum value or field name; `what` says which. */
  name?(name: string, what: string): string[];
  /**
   * A struct or enum about to be declared: a message refuses it (it is then not declared).
   * `sameName`: an earlier declaration of the same fully qualified name, which the reader reports.
   */
  declaration?(decl: Decl, sameName: Decl | undefined): string | undefined;
  /** An enum value's name, in enum `enumName`. */
  enumValue?(name: string, enumName: string): string | undefined;
  /** Called once per struct: returns the check of each of its fields, in order. */
  fields?(): (field: { name: string; type: FieldType }) => string | undefined;
  /** The resolved model. */
  model?(model: Model): Diagnostic[];
}

export interface LoadOptions {
  /** Reads a file; defaults to readSchemaFile (regular files only, bounded). */
  readFile?: (path: string) => string;
  /** Checks of the tool loading the schemas, besides the reader's. */
  rules?: SchemaRules;
}

/** A file refused before or while reading it; the message says why. `runLimit`: the run's input budget is spent. */
class InputRefused extends Error {
  readonly runLimit: boolean;

  constructor(message: string, runLimit = false) {
    super(message);
    this.runLimit = runLimit;
  }
}

function fileKind(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

function tooBig(path: string, bytes: number | string, limit: number): InputRefused {
  const max = formatBytes(SCHEMA_BYTES_MAX);
  return new InputRefused(
    limit === SCHEMA_BYTES_MAX
      ? `schema file ${path} is ${bytes} bytes, more than the ${max} of schema text mmbus-codegen reads in one run; split it`
      : `schema file ${path} (${bytes} bytes) takes the schema text of this run past the ${max} mmbus-codegen reads in one run; generate the schemas in several runs`,
    true,
  );
}

/**
 * Reads a schema file of at most `limit` bytes as UTF-8. Only regular files: the type is checked
 * before opening (a FIFO would block the open, a device never end), and again on the open descriptor,
 * which is opened non-blocking in case the path changed in between.
 */
export function readSchemaFile(path: string, limit = SCHEMA_BYTES_MAX): string {
  const notRegular = (st: Stats): InputRefused =>
    new InputRefused(`${path} is ${fileKind(st)}, not a regular file; schemas and includes must be regular files`);
  const st = statSync(path);
  if (!st.isFile()) throw notRegular(st);
  if (st.size > limit) throw tooBig(path, st.size, limit);
  const fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  try {
    const st2 = fstatSync(fd);
    if (!st2.isFile()) throw notRegular(st2);
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.alloc(Math.min(64 * 1024, limit + 1 - total));
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      chunks.push(chunk.subarray(0, n));
      total += n;
      if (total > limit) throw tooBig(path, `more than ${limit}`, limit); // it grew since the stat
    }
    return Buffer.concat(chunks, total).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

interface Loaded {
  def: SchemaDef;
  ast: FileAst;
}

export function loadSchemas(paths: readonly string[], opts: LoadOptions = {}): Model {
  const byAbs = new Map<string, Loaded>();
  const order: Loaded[] = [];
  const diags: Diagnostic[] = [];
  let bytesLeft = SCHEMA_BYTES_MAX;
  let filesLeft = SCHEMA_FILES_MAX;
  let stopped = false; // a run-wide limit was hit: load nothing more

  const read = (path: string): string => {
    if (!opts.readFile) return readSchemaFile(path, bytesLeft);
    const src = opts.readFile(path);
    if (Buffer.byteLength(src) > bytesLeft) throw tooBig(path, Buffer.byteLength(src), bytesLeft);
    return src;
  };

  const load = (path: string, from?: Pos, stack: string[] = []): Loaded | undefined => {
    if (stopped) return undefined;
    const abs = resolvePath(path);
    const pos = from ?? { file: path, line: 1, col: 1 };
    if (stack.includes(abs)) {
      if (from) diags.push({ pos: from, message: `include cycle: ${path} includes itself through ${stack.length} file(s); remove one of the includes` });
      return undefined;
    }
    const known = byAbs.get(abs);
    if (known) return known;
    if (stack.length > INCLUDE_DEPTH_MAX) {
      diags.push({ pos, message: `includes nested more than ${INCLUDE_DEPTH_MAX} deep (mmbus-codegen's limit) to reach ${path}; include it from a file nearer the root` });
      stopped = true;
      return undefined;
    }
    if (filesLeft === 0) {
      diags.push({ pos, message: `more than ${SCHEMA_FILES_MAX} schema files in one run (mmbus-codegen's limit), counting includes; generate them in several runs` });
      stopped = true;
      return undefined;
    }
    filesLeft--;
    let src: string;
    try {
      src = read(path);
    } catch (e) {
      if (e instanceof InputRefused) {
        diags.push({ pos, message: e.message });
        stopped ||= e.runLimit;
      } else {
        diags.push({ pos, message: `cannot read schema file ${path}; check the path` });
      }
      return undefined;
    }
    bytesLeft -= Buffer.byteLength(src);
    let ast: FileAst;
    try {
      ast = parseSchema(path, src);
    } catch (e) {
      if (e instanceof SchemaError) {
        diags.push(...e.diagnostics);
        return undefined;
      }
      throw e;
    }
    const def: SchemaDef = { path, absPath: abs, baseName: basename(path).replace(/\.fbs$/, ''), includes: [], decls: [] };
    const loaded: Loaded = { def, ast };
    byAbs.set(abs, loaded);
    for (const inc of ast.includes) {
      const candidate = join(dirname(path), inc.path);
      const incPath = existsSync(candidate) || opts.readFile ? candidate : inc.path;
      const child = load(incPath, inc.pos, [...stack, abs]);
      if (child) def.includes.push(child.def);
    }
    order.push(loaded);
    return loaded;
  };

  for (const p of paths) load(p);
  if (diags.length > 0) throw new SchemaError(diags);

  diags.push(...(opts.rules?.files?.(order.map((l) => l.def)) ?? []));

  new Resolver(order, diags, opts.rules ?? {}).run();
  if (diags.length > 0) throw new SchemaError(diags);
  const model: Model = { schemas: order.map((l) => l.def) };
  diags.push(...(opts.rules?.model?.(model) ?? []));
  if (diags.length > 0) throw new SchemaError(diags);
  return model;
}

/** Parses and resolves schema text held in memory (tests, tools); includes are read from `files`. */
export function loadSchemaText(files: Record<string, string>, roots: readonly string[] = Object.keys(files), rules?: SchemaRules): Model {
  return loadSchemas(roots, {
    ...(rules ? { rules } : {}),
    readFile: (p) => {
      const key = p.replace(/^\.\//, '');
      const src = files[key];
      if (src === undefined) throw new Error(`no such file ${p}`);
      return src;
    },
  });
}

class Resolver {
  private readonly decls = new Map<string, Decl>();
  /** Attribute names declared in each schema and its includes. */
  private readonly declaredAttrs = new Map<SchemaDef, Set<string>>();
  /** Each schema and everything it includes, transitively. */
  private readonly visible = new Map<SchemaDef, Set<SchemaDef>>();
  /** Canonical layout text the fingerprints may still hash in this run. */
  private layoutBudget = LAYOUT_TEXT_BYTES_MAX;
  private readonly files: Loaded[];
  private readonly diags: Diagnostic[];
  private readonly rules: SchemaRules;

  constructor(files: Loaded[], diags: Diagnostic[], rules: SchemaRules) {
    this.files = files;
    this.diags = diags;
    this.rules = rules;
  }

  private err(pos: Pos, message: string): void {
    this.diags.push({ pos, message });
  }

  run(): void {
    for (const { def, ast } of this.files) {
      const attrs = new Set(ast.attributes.map((a) => a.name));
      const visible = new Set([def]);
      for (const inc of def.includes) {
        for (const a of this.declaredAttrs.get(inc) ?? []) attrs.add(a);
        for (const v of this.visible.get(inc) ?? []) visible.add(v);
      }
      this.declaredAttrs.set(def, attrs);
      this.visible.set(def, visible);
      for (const d of ast.decls) {
        const before = this.diags.length;
        const decl = d.kind === 'struct' ? this.resolveStruct(def, d) : this.resolveEnum(def, d);
        if (this.diags.length === before) def.decls.push(decl);
      }
    }
  }

  private checkName(name: string, pos: Pos, what: string): void {
    for (const message of this.rules.name?.(name, what) ?? []) this.err(pos, message);
  }

  private register(decl: Decl, nsPos: Pos): void {
    for (const part of decl.namespace ? decl.namespace.split('.') : []) this.checkName(part, nsPos, 'namespace');
    this.checkName(decl.name, decl.pos, decl.kind);
    if (decl.kind === 'struct' && decl.fqn.length > SCHEMA_NAME_MAX) {
      this.err(
        decl.pos,
        `struct name '${decl.fqn}' is ${decl.fqn.length} bytes long, but a channel stores at most ${SCHEMA_NAME_MAX} bytes of its record type's name (MMBUS_SCHEMA_NAME_MAX); shorten the name or the namespace`,
      );
    }
    const prev = this.decls.get(decl.fqn);
    const refused = this.rules.declaration?.(decl, prev);
    if (refused !== undefined) {
      this.err(decl.pos, refused);
      return;
    }
    if (prev) {
      this.err(decl.pos, `duplicate name '${decl.fqn}': already declared as a ${prev.kind} at ${formatPos(prev.pos)}; rename one of them`);
      return;
    }
    this.decls.set(decl.fqn, decl);
  }

  /** Declarations visible from `schema`: its own (so far) and its includes'. */
  private lookup(schema: SchemaDef, namespace: string, name: string): Decl | undefined {
    const visible = this.visible.get(schema);
    const parts = namespace ? namespace.split('.') : [];
    for (let n = parts.length; n >= 0; n--) {
      const fqn = [...parts.slice(0, n), name].join('.');
      const d = this.decls.get(fqn);
      if (d && visible?.has(d.schema)) return d;
    }
    return undefined;
  }

  private checkAttrs(schema: SchemaDef, attrs: AttrAst[], where: 'struct' | 'field' | 'enum'): Map<string, AttrAst> {
    const out = new Map<string, AttrAst>();
    const declared = this.declaredAttrs.get(schema) ?? new Set<string>();
    for (const a of attrs) {
      if (UNSUPPORTED_BUILTINS.has(a.name)) {
        this.err(a.pos, `attribute '${a.name}' is not supported on a fixed-size ${where}; remove it`);
        continue;
      }
      if (a.name !== 'force_align' && !declared.has(a.name)) {
        this.err(a.pos, `attribute '${a.name}' is not declared; add 'attribute "${a.name}";' to the schema (flatc requires it too)`);
        continue;
      }
      const allowedOn: Record<string, string> = { force_align: 'struct', [ATTR_SIZE]: 'struct', [ATTR_TEXT]: 'field', [ATTR_KEY]: 'field' };
      const on = allowedOn[a.name];
      if (on && on !== where) {
        this.err(a.pos, `attribute '${a.name}' applies to a ${on}, not to a ${where}; move it`);
        continue;
      }
      out.set(a.name, a);
    }
    return out;
  }

  /** A non-negative integer attribute value, exact (the callers check the range). */
  private intAttr(a: AttrAst, what: string): bigint | undefined {
    if (a.valueKind !== 'int' || a.value === undefined || a.value.startsWith('-')) {
      this.err(a.valuePos ?? a.pos, `attribute '${a.name}' needs a positive integer value (${what})`);
      return undefined;
    }
    return BigInt(a.value.replace(/^\+/, ''));
  }

  private resolveEnum(schema: SchemaDef, ast: EnumAst): EnumDef {
    const fqn = ast.namespace ? `${ast.namespace}.${ast.name}` : ast.name;
    const def: EnumDef = {
      kind: 'enum',
      name: ast.name,
      namespace: ast.namespace,
      fqn,
      pos: ast.pos,
      doc: ast.doc,
      schema,
      underlying: 'int32',
      values: [],
    };
    this.register(def, ast.pos);
    this.checkAttrs(schema, ast.attrs, 'enum');
    const under = SCALAR_SPELLINGS[ast.underlying];
    if (!under || !isInteger(under)) {
      this.err(ast.underlyingPos, `the underlying type of enum ${ast.name} must be an integer type (byte, ubyte, short, ushort, int, uint, long, ulong), not '${ast.underlying}'`);
      return def;
    }
    def.underlying = under;
    if (ast.values.length === 0) this.err(ast.pos, `enum ${ast.name} has no values; add at least one`);
    const bits = BigInt(SCALAR_SIZE[under] * 8);
    const signed = under.startsWith('int');
    const min = signed ? -(1n << (bits - 1n)) : 0n;
    const max = signed ? (1n << (bits - 1n)) - 1n : (1n << bits) - 1n;
    let next = 0n;
    const names = new Map<string, Pos>();
    const values = new Map<bigint, string>();
    for (const v of ast.values) {
      this.checkName(v.name, v.pos, 'enum value');
      const refused = this.rules.enumValue?.(v.name, ast.name);
      if (refused !== undefined) this.err(v.pos, refused);
      const value = v.value ?? next;
      const firstPos = names.get(v.name);
      if (firstPos) this.err(v.pos, `duplicate enum value name '${v.name}' in enum ${ast.name} (first at ${formatPos(firstPos)}); rename one`);
      names.set(v.name, v.pos);
      if (value < min || value > max) {
        this.err(v.valuePos ?? v.pos, `enum value ${v.name} = ${value} does not fit the underlying type ${ast.underlying} (${min}..${max}); change the value or widen the type`);
      }
      const dup = values.get(value);
      if (dup !== undefined) this.err(v.valuePos ?? v.pos, `enum values must be unique: ${dup} and ${v.name} are both ${value}; give ${v.name} another value`);
      values.set(value, v.name);
      def.values.push({ name: v.name, value, pos: v.pos, doc: v.doc });
      next = value + 1n;
    }
    return def;
  }

  private resolveElem(schema: SchemaDef, ns: string, t: TypeAst, forArray: boolean): ElemType | undefined {
    if (t.kind === 'vector') {
      this.err(t.pos, "vectors are not fixed-size and cannot be struct fields; give the array a length, e.g. '[ubyte:32]'");
      return undefined;
    }
    if (t.kind === 'array') {
      if (forArray) {
        this.err(t.pos, 'arrays of arrays are not supported; use an array of a struct that holds an array');
      } else {
        this.err(t.pos, 'internal: unexpected array');
      }
      return undefined;
    }
    const scalar = SCALAR_SPELLINGS[t.name];
    if (scalar) return { kind: 'scalar', scalar };
    if (t.name === 'string') {
      this.err(t.pos, "'string' is not fixed-size and cannot be a struct field; use a text byte array: 'name: [ubyte:32] (mmbus_text);'");
      return undefined;
    }
    const d = this.lookup(schema, ns, t.name);
    if (!d) {
      this.err(t.pos, `unknown type '${t.name}'; declare a struct or enum named ${t.name} before this field, or include the schema that declares it`);
      return undefined;
    }
    return d.kind === 'enum' ? { kind: 'enum', def: d } : { kind: 'struct', def: d };
  }

  private resolveStruct(schema: SchemaDef, ast: StructAst): StructDef {
    const fqn = ast.namespace ? `${ast.namespace}.${ast.name}` : ast.name;
    const def: StructDef = {
      kind: 'struct',
      name: ast.name,
      namespace: ast.namespace,
      fqn,
      pos: ast.pos,
      doc: ast.doc,
      schema,
      fields: [],
      size: 0,
      align: 1,
      naturalSize: 0,
      end: 0,
      padding: [],
      fingerprint: 0n,
    };
    const firstDiag = this.diags.length;
    const attrs = this.checkAttrs(schema, ast.attrs, 'struct');
    if (ast.fields.length === 0) this.err(ast.pos, `struct ${ast.name} has no fields; size 0 structs are not allowed (flatc refuses them too)`);

    const fieldNames = new Map<string, Pos>();
    const checkField = this.rules.fields?.();

    // Exact in doubles: offset stays <= RECORD_SIZE_MAX (checked after each field) and one field is at
    // most ARRAY_LENGTH_MAX elements of at most RECORD_SIZE_MAX bytes, below 2^32.
    let offset = 0;
    let align = 1;
    for (const f of ast.fields) {
      this.checkName(f.name, f.pos, 'field');
      const first = fieldNames.get(f.name);
      if (first) this.err(f.pos, `duplicate field '${f.name}' in struct ${ast.name} (first at ${formatPos(first)}); rename one of them`);
      fieldNames.set(f.name, f.pos);
      if (f.defaultPos) this.err(f.defaultPos, `struct fields cannot have default values (field '${f.name}'); remove '= ...'`);
      const fattrs = this.checkAttrs(schema, f.attrs, 'field');
      let type: FieldType | undefined;
      if (f.type.kind === 'array') {
        const elem = this.resolveElem(schema, ast.namespace, f.type.elem, true);
        if (f.type.length < 1n || f.type.length > BigInt(ARRAY_LENGTH_MAX)) {
          this.err(f.type.lengthPos, `array length ${f.type.length} is out of range; it must be 1..${ARRAY_LENGTH_MAX}`);
        } else if (elem) {
          type = { kind: 'array', elem, length: Number(f.type.length) };
        }
      } else {
        type = this.resolveElem(schema, ast.namespace, f.type, false);
      }
      const text = fattrs.get(ATTR_TEXT);
      if (text && type) {
        if (type.kind === 'array' && type.elem.kind === 'scalar' && type.elem.scalar === 'uint8') {
          type = { kind: 'text', length: type.length };
        } else {
          this.err(text.pos, `'${ATTR_TEXT}' marks a byte array holding UTF-8; declare field '${f.name}' as [ubyte:N]`);
        }
      }
      if (!type) continue;
      const enumElem = type.kind === 'enum' ? type.def : type.kind === 'array' && type.elem.kind === 'enum' ? type.elem.def : undefined;
      if (enumElem && !enumElem.values.some((v) => v.value === 0n)) {
        this.err(f.type.pos, `field '${f.name}' has enum type ${enumElem.name}, which has no value 0 (the value of a zeroed record); add one, e.g. 'None = 0' (flatc requires it too)`);
      }
      let size: number;
      let falign: number;
      if (type.kind === 'array') {
        size = elemSize(type.elem) * type.length;
        falign = elemAlign(type.elem);
      } else if (type.kind === 'text') {
        size = type.length;
        falign = 1;
      } else {
        size = elemSize(type);
        falign = elemAlign(type);
      }
      const start = Math.ceil(offset / falign) * falign;
      if (start + size > RECORD_SIZE_MAX) {
        this.err(
          f.pos,
          `struct ${ast.name} does not fit in a record: field '${f.name}' (${size} byte${size === 1 ? '' : 's'} at offset ${start}) ends at byte ${start + size}, and a record holds at most ${RECORD_SIZE_MAX} bytes (MMBUS_RECORD_SIZE_MAX); shrink or split the struct`,
        );
        break;
      }
      if (start > offset) def.padding.push({ offset, size: start - offset });
      const field = { name: f.name, pos: f.pos, doc: f.doc, type, offset: start, size, align: falign } satisfies FieldDef;
      def.fields.push(field);
      const key = fattrs.get(ATTR_KEY);
      if (key) {
        if (type.kind !== 'scalar' || !KEY_SCALARS.has(type.scalar)) {
          this.err(key.pos, `'${ATTR_KEY}' marks the key field, an unsigned integer (ubyte, ushort, uint or ulong); field '${f.name}' is not one`);
        } else if (def.key) {
          this.err(key.pos, `struct ${ast.name} has two key fields ('${def.key.name}' and '${f.name}'); a keyed message has one`);
        } else {
          def.key = field;
        }
      }
      offset = start + size;
      align = Math.max(align, falign);

      const refused = checkField?.({ name: f.name, type });
      if (refused !== undefined) this.err(f.pos, refused);
    }

    const fa = attrs.get('force_align');
    if (fa) {
      const v = this.intAttr(fa, 'a power of two');
      if (v !== undefined) {
        if ((v & (v - 1n)) !== 0n || v < BigInt(align) || v > BigInt(ALIGN_MAX)) {
          this.err(fa.valuePos ?? fa.pos, `force_align: ${v} is invalid for struct ${ast.name}; it must be a power of two from the natural alignment ${align} to ${ALIGN_MAX}`);
        } else {
          def.forceAlign = Number(v);
          align = Number(v);
        }
      }
    }
    def.end = offset;
    def.align = align;
    // offset <= RECORD_SIZE_MAX, a multiple of every alignment up to ALIGN_MAX: the rounding stays within it
    def.naturalSize = Math.ceil(offset / align) * align;
    def.size = def.naturalSize;
    const ds = attrs.get(ATTR_SIZE);
    if (ds) {
      const v = this.intAttr(ds, 'the total size in bytes');
      if (v !== undefined) {
        if (v > BigInt(RECORD_SIZE_MAX)) {
          this.err(ds.valuePos ?? ds.pos, `declared size ${v} of struct ${ast.name} is more than a record holds: at most ${RECORD_SIZE_MAX} bytes (MMBUS_RECORD_SIZE_MAX); lower it`);
        } else if (BigInt(offset) > v) {
          this.err(ds.valuePos ?? ds.pos, `struct ${ast.name} is ${offset} bytes, larger than its declared size ${v} (${ATTR_SIZE}); remove or shrink fields, or raise the declared size`);
        } else if (v % BigInt(align) !== 0n) {
          const up = (v + BigInt(align) - 1n) / BigInt(align) * BigInt(align);
          this.err(ds.valuePos ?? ds.pos, `declared size ${v} of struct ${ast.name} is not a multiple of its alignment ${align}; use ${up}`);
        } else {
          def.declaredSize = Number(v);
          def.size = Number(v);
        }
      }
    }
    if (def.size > offset) def.padding.push({ offset, size: def.size - offset });
    if (this.diags.length === firstDiag && this.layoutBudget >= 0) {
      const textBytes = canonicalLength(def);
      if (textBytes > this.layoutBudget) {
        this.err(
          ast.pos,
          `the canonical layout text of struct ${ast.name}, which its fingerprint hashes, is ${textBytes} bytes (it holds the text of every struct nested in it); with the structs before it that is more than the ${formatBytes(LAYOUT_TEXT_BYTES_MAX)} mmbus-codegen hashes in one run; nest fewer levels or split the schemas`,
        );
        this.layoutBudget = -1; // spent: one message, no more fingerprints
      } else {
        this.layoutBudget -= textBytes;
        def.fingerprint = layoutFingerprint(def);
      }
    }
    this.register(def, ast.pos);
    return def;
  }
}
