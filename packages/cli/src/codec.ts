// Record codecs: a channel's records as plain objects (tail) and plain JSON as records (publish), either
// through a generated class of @mmbus/messages or, with --schema, through a decoder built from the
// codegen parser's layout (every field read at its offset by its type).
import type { MessageType, RecordView } from '@mmbus/core';
import { MESSAGE_TYPES } from '@mmbus/messages';
import type { ElemType, FieldDef, ScalarKind, StructDef } from '@mmbus/runtime/schema';

import { CliError, hex64 } from './common.js';

export interface RecordCodec {
  /** Fully qualified schema name, e.g. 'mmbus.Person'. */
  readonly name: string;
  readonly fingerprint: bigint;
  readonly size: number;
  /** Where the type comes from: '@mmbus/messages' or the schema file. */
  readonly source: string;
  /** Top-level field names, in layout order (the table's columns). */
  readonly fields: readonly string[];
  /** The class openChannel() takes. */
  readonly type: MessageType<RecordView>;
  /** A record (a copy from ChannelInspector.read) as a plain object; 64-bit integers as bigint. */
  decode(bytes: Uint8Array): Record<string, unknown>;
  /** Plain JSON (numbers or strings for 64-bit fields) as the object the class's assign() takes. */
  fromJson(json: unknown): Record<string, unknown>;
}

interface GeneratedClass extends MessageType<RecordView> {
  new (view?: DataView, offset?: number): RecordView & { toObject(): Record<string, unknown> };
}

const viewOf = (bytes: Uint8Array): DataView => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function toBigInt(v: unknown, what: string): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
  if (typeof v === 'string' && /^-?(\d+|0x[0-9a-f]+)$/i.test(v.trim())) {
    const s = v.trim();
    return s.startsWith('-') ? -BigInt(s.slice(1)) : BigInt(s);
  }
  throw new CliError(`${what}: expected an integer (a number or a string of digits), got ${JSON.stringify(v)}`);
}

/** Converts JSON to the shape of a generated class's toObject() (bigint where the field is 64-bit). */
function convertLike(value: unknown, shape: unknown, what: string): unknown {
  if (typeof shape === 'bigint') return toBigInt(value, what);
  if (typeof shape === 'number') {
    if (typeof value === 'number') return value;
    if (typeof value === 'string' && value.trim() !== '' && !Number.isNaN(Number(value))) return Number(value);
    throw new CliError(`${what}: expected a number, got ${JSON.stringify(value)}`);
  }
  if (typeof shape === 'boolean') {
    if (typeof value === 'boolean') return value;
    if (value === 0 || value === 1) return value === 1;
    throw new CliError(`${what}: expected true or false, got ${JSON.stringify(value)}`);
  }
  if (typeof shape === 'string') {
    if (typeof value === 'string') return value;
    throw new CliError(`${what}: expected a string, got ${JSON.stringify(value)}`);
  }
  if (Array.isArray(shape)) {
    if (!Array.isArray(value)) throw new CliError(`${what}: expected an array, got ${JSON.stringify(value)}`);
    if (value.length > shape.length) throw new CliError(`${what}: at most ${shape.length} elements, got ${value.length}`);
    return value.map((v, i) => convertLike(v, shape[i], `${what}[${i}]`));
  }
  if (isPlainObject(shape)) {
    if (!isPlainObject(value)) throw new CliError(`${what}: expected an object, got ${JSON.stringify(value)}`);
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (!(k in shape)) throw new CliError(`${what ? `${what}: ` : ''}no field '${k}' (fields: ${Object.keys(shape).join(', ')})`);
      out[k] = convertLike(v, shape[k], what ? `${what}.${k}` : `field '${k}'`);
    }
    return out;
  }
  return value;
}

export function generatedCodec(type: MessageType<RecordView>): RecordCodec {
  const cls = type as GeneratedClass;
  const shape = new cls().toObject();
  return {
    name: cls.NAME,
    fingerprint: cls.FINGERPRINT,
    size: cls.SIZE,
    source: '@mmbus/messages',
    fields: Object.keys(shape),
    type: cls,
    decode: (bytes) => new cls(viewOf(bytes), 0).toObject(),
    fromJson: (json) => convertLike(json, shape, '') as Record<string, unknown>,
  };
}

// ---- dynamic codec from a schema layout ----

const SCALAR_BYTES: Record<ScalarKind, number> = {
  bool: 1, int8: 1, uint8: 1, int16: 2, uint16: 2, int32: 4, uint32: 4, int64: 8, uint64: 8, float32: 4, float64: 8,
};

function elemSize(t: ElemType): number {
  if (t.kind === 'scalar') return SCALAR_BYTES[t.scalar];
  if (t.kind === 'enum') return SCALAR_BYTES[t.def.underlying];
  return t.def.size;
}

function readScalar(dv: DataView, at: number, k: ScalarKind): number | bigint | boolean {
  switch (k) {
    case 'bool': return dv.getUint8(at) !== 0;
    case 'int8': return dv.getInt8(at);
    case 'uint8': return dv.getUint8(at);
    case 'int16': return dv.getInt16(at, true);
    case 'uint16': return dv.getUint16(at, true);
    case 'int32': return dv.getInt32(at, true);
    case 'uint32': return dv.getUint32(at, true);
    case 'int64': return dv.getBigInt64(at, true);
    case 'uint64': return dv.getBigUint64(at, true);
    case 'float32': return dv.getFloat32(at, true);
    case 'float64': return dv.getFloat64(at, true);
  }
}

const INT_RANGE: Partial<Record<ScalarKind, [number, number]>> = {
  int8: [-128, 127], uint8: [0, 255], int16: [-32768, 32767], uint16: [0, 65535],
  int32: [-2147483648, 2147483647], uint32: [0, 4294967295],
};

function writeScalar(dv: DataView, at: number, k: ScalarKind, v: unknown, what: string): void {
  if (k === 'bool') {
    if (typeof v !== 'boolean' && v !== 0 && v !== 1) throw new CliError(`${what}: expected true or false, got ${JSON.stringify(v)}`);
    dv.setUint8(at, v === true || v === 1 ? 1 : 0);
    return;
  }
  if (k === 'int64' || k === 'uint64') {
    const b = toBigInt(v, what);
    const ok = k === 'int64' ? BigInt.asIntN(64, b) === b : BigInt.asUintN(64, b) === b;
    if (!ok) throw new CliError(`${what}: ${b} does not fit ${k}`);
    if (k === 'int64') dv.setBigInt64(at, b, true);
    else dv.setBigUint64(at, b, true);
    return;
  }
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  if (typeof n !== 'number' || Number.isNaN(n)) throw new CliError(`${what}: expected a number, got ${JSON.stringify(v)}`);
  if (k === 'float32') return dv.setFloat32(at, n, true);
  if (k === 'float64') return dv.setFloat64(at, n, true);
  const range = INT_RANGE[k]!;
  if (!Number.isInteger(n) || n < range[0] || n > range[1]) throw new CliError(`${what}: ${n} is not an integer that fits ${k}`);
  switch (k) {
    case 'int8': return dv.setInt8(at, n);
    case 'uint8': return dv.setUint8(at, n);
    case 'int16': return dv.setInt16(at, n, true);
    case 'uint16': return dv.setUint16(at, n, true);
    case 'int32': return dv.setInt32(at, n, true);
    default: return dv.setUint32(at, n, true);
  }
}

const utf8 = new TextDecoder();
const utf8Encoder = new TextEncoder();

function readElem(dv: DataView, at: number, t: ElemType): unknown {
  if (t.kind === 'scalar') return readScalar(dv, at, t.scalar);
  if (t.kind === 'enum') {
    const raw = readScalar(dv, at, t.def.underlying) as number | bigint;
    const name = t.def.values.find((v) => v.value === BigInt(raw))?.name;
    return name ?? raw;
  }
  return readStruct(dv, at, t.def);
}

function writeElem(dv: DataView, at: number, t: ElemType, v: unknown, what: string): void {
  if (t.kind === 'scalar') return writeScalar(dv, at, t.scalar, v, what);
  if (t.kind === 'enum') {
    let value = v;
    if (typeof v === 'string' && !/^-?\d+$/.test(v.trim())) {
      const found = t.def.values.find((x) => x.name === v);
      if (!found) throw new CliError(`${what}: '${v}' is not a value of ${t.def.fqn} (${t.def.values.map((x) => x.name).join(', ')})`);
      value = found.value;
    }
    const big = t.def.underlying === 'int64' || t.def.underlying === 'uint64';
    return writeScalar(dv, at, t.def.underlying, big ? value : typeof value === 'bigint' ? Number(value) : value, what);
  }
  if (!isPlainObject(v)) throw new CliError(`${what}: expected an object, got ${JSON.stringify(v)}`);
  writeStruct(dv, at, t.def, v, what);
}

function readField(dv: DataView, base: number, f: FieldDef): unknown {
  const at = base + f.offset;
  const t = f.type;
  if (t.kind === 'text') {
    let n = 0;
    while (n < t.length && dv.getUint8(at + n) !== 0) n++;
    return utf8.decode(new Uint8Array(dv.buffer, dv.byteOffset + at, n));
  }
  if (t.kind === 'array') {
    const step = elemSize(t.elem);
    return Array.from({ length: t.length }, (_, i) => readElem(dv, at + i * step, t.elem));
  }
  return readElem(dv, at, t);
}

function writeField(dv: DataView, base: number, f: FieldDef, v: unknown, what: string): void {
  const at = base + f.offset;
  const t = f.type;
  if (t.kind === 'text') {
    if (typeof v !== 'string') throw new CliError(`${what}: expected a string, got ${JSON.stringify(v)}`);
    const bytes = utf8Encoder.encode(v);
    if (bytes.length > t.length) throw new CliError(`${what}: the text is ${bytes.length} bytes in UTF-8 but the field holds ${t.length}`);
    const field = new Uint8Array(dv.buffer, dv.byteOffset + at, t.length);
    field.set(bytes);
    field.fill(0, bytes.length);
    return;
  }
  if (t.kind === 'array') {
    if (!Array.isArray(v)) throw new CliError(`${what}: expected an array, got ${JSON.stringify(v)}`);
    if (v.length > t.length) throw new CliError(`${what}: at most ${t.length} elements, got ${v.length}`);
    const step = elemSize(t.elem);
    v.forEach((e, i) => writeElem(dv, at + i * step, t.elem, e, `${what}[${i}]`));
    return;
  }
  writeElem(dv, at, t, v, what);
}

function readStruct(dv: DataView, base: number, def: StructDef): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of def.fields) out[f.name] = readField(dv, base, f);
  return out;
}

function writeStruct(dv: DataView, base: number, def: StructDef, obj: Record<string, unknown>, what: string): void {
  for (const [k, v] of Object.entries(obj)) {
    const f = def.fields.find((x) => x.name === k);
    if (!f) throw new CliError(`${what ? `${what}: ` : ''}no field '${k}' in ${def.fqn} (fields: ${def.fields.map((x) => x.name).join(', ')})`);
    writeField(dv, base, f, v, what ? `${what}.${k}` : `field '${k}'`);
  }
}

/** A codec (and a class openChannel accepts) for a struct of a schema file. */
export function dynamicCodec(def: StructDef, source: string): RecordCodec {
  class DynamicRecord implements RecordView {
    static readonly NAME = def.fqn;
    static readonly SIZE = def.size;
    static readonly ALIGN = def.align;
    static readonly FINGERPRINT = def.fingerprint;
    view: DataView;
    offset: number;
    constructor(view?: DataView, offset = 0) {
      this.view = view ?? new DataView(new ArrayBuffer(def.size));
      this.offset = offset;
    }
    wrap(view: DataView, offset: number): this {
      this.view = view;
      this.offset = offset;
      return this;
    }
    moveTo(offset: number): this {
      this.offset = offset;
      return this;
    }
    assign(obj: Record<string, unknown>): this {
      writeStruct(this.view, this.offset, def, obj, '');
      return this;
    }
    toObject(): Record<string, unknown> {
      return readStruct(this.view, this.offset, def);
    }
  }
  return {
    name: def.fqn,
    fingerprint: def.fingerprint,
    size: def.size,
    source,
    fields: def.fields.map((f) => f.name),
    type: DynamicRecord,
    decode: (bytes) => readStruct(viewOf(bytes), 0, def),
    fromJson: (json) => {
      if (!isPlainObject(json)) throw new CliError(`expected a JSON object, got ${JSON.stringify(json)}`);
      // validate now (into scratch), so a bad record fails before anything is published
      writeStruct(new DataView(new ArrayBuffer(def.size)), 0, def, json, '');
      return json;
    },
  };
}

/** Every struct of a schema file (and its includes). */
export async function loadSchemaStructs(file: string): Promise<StructDef[]> {
  // loaded only when needed (--schema): the reader is most of the code a command could load
  const { loadSchemas, SchemaError } = await import('@mmbus/runtime/schema');
  try {
    const model = loadSchemas([file]);
    return model.schemas.flatMap((s) => s.decls.filter((d): d is StructDef => d.kind === 'struct'));
  } catch (err) {
    if (err instanceof SchemaError) {
      const [first] = err.diagnostics;
      const more = err.diagnostics.length > 1 ? ` (and ${err.diagnostics.length - 1} more errors)` : '';
      throw new CliError(`schema ${first ? `${first.pos.file}:${first.pos.line}:${first.pos.col}: ${first.message}` : `${file}: ${err.message}`}${more}`);
    }
    throw err;
  }
}

/** A codec by schema name: from --schema, else from @mmbus/messages. */
export async function codecByName(name: string, schemaFile?: string): Promise<RecordCodec> {
  if (schemaFile) {
    const structs = await loadSchemaStructs(schemaFile);
    const def = structs.find((s) => s.fqn === name) ?? structs.find((s) => s.name === name);
    if (!def) throw new CliError(`schema ${schemaFile} declares no struct '${name}' (it declares: ${structs.map((s) => s.fqn).join(', ') || 'none'})`);
    return dynamicCodec(def, schemaFile);
  }
  const type = MESSAGE_TYPES.find((t) => t.NAME === name) ?? MESSAGE_TYPES.find((t) => t.NAME.split('.').pop() === name);
  if (!type) {
    throw new CliError(`no generated message type '${name}' in @mmbus/messages (known: ${MESSAGE_TYPES.map((t) => t.NAME).join(', ')}); pass --schema <file.fbs>`);
  }
  return generatedCodec(type as unknown as MessageType<RecordView>);
}

/** The codec whose name and fingerprint match a channel's header; refuses a schema mismatch. */
export async function codecForChannel(
  channel: { name: string; schemaName: string; fingerprint: bigint; recordSize: number },
  schemaFile?: string,
): Promise<RecordCodec> {
  let codec: RecordCodec;
  try {
    codec = await codecByName(channel.schemaName, schemaFile);
  } catch (err) {
    if (err instanceof CliError && !schemaFile) {
      throw new CliError(
        `channel '${channel.name}' holds ${channel.schemaName} (fingerprint ${hex64(channel.fingerprint)}), which @mmbus/messages does not know; pass --schema <file.fbs>`,
      );
    }
    throw err;
  }
  if (codec.fingerprint !== channel.fingerprint || codec.size !== channel.recordSize) {
    throw new CliError(
      `schema mismatch: channel '${channel.name}' holds ${channel.schemaName} with fingerprint ${hex64(channel.fingerprint)} (${channel.recordSize}-byte records), ` +
        `but ${codec.name} from ${codec.source} has fingerprint ${hex64(codec.fingerprint)} (${codec.size} bytes): another layout` +
        (schemaFile ? '' : '; pass the schema the channel was made with: --schema <file.fbs>'),
    );
  }
  return codec;
}

/** The generated type whose name and fingerprint match, if any (doctor). */
export function knownType(schemaName: string, fingerprint: bigint): { byName: boolean; exact: boolean; fingerprint: bigint | undefined } {
  const byName = MESSAGE_TYPES.find((t) => t.NAME === schemaName);
  return { byName: !!byName, exact: !!byName && byName.FINGERPRINT === fingerprint, fingerprint: byName?.FINGERPRINT };
}
