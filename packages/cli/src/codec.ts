// Record codecs: a channel's records as plain objects (tail) and plain JSON as records (publish), all
// through one description of the record, a RecordLayout (@mmbus/runtime): the one the channel file
// carries (self-describing channels), else --schema's struct, else the LAYOUT of the generated type of
// @mmbus/messages with the channel's name. So every output has one convention: the schema's field
// names (point_id) and enum values by name (Good).
import type { MessageType, RecordView } from '@mmbus/core';
import { MESSAGE_TYPES } from '@mmbus/messages';
import { layoutClass, recordDecoder, type LayoutElem, type LayoutScalar, type RecordLayout, type StructLayout } from '@mmbus/runtime';
import type { StructDef } from '@mmbus/runtime/schema';

import { CliError, hex64 } from './common.js';

export interface RecordCodec {
  /** Fully qualified schema name, e.g. 'mmbus.Person'. */
  readonly name: string;
  readonly fingerprint: bigint;
  readonly size: number;
  /** Where the layout comes from: the channel file, the schema file, or '@mmbus/messages'. */
  readonly source: string;
  /** Top-level field names, in layout order (the table's columns). */
  readonly fields: readonly string[];
  /** The class openChannel() takes (it writes the layout into a channel it creates). */
  readonly type: MessageType<RecordView>;
  /** A record (a copy from ChannelInspector.read) as a plain object; 64-bit integers as bigint. */
  decode(bytes: Uint8Array): Record<string, unknown>;
  /** Plain JSON (numbers or strings of digits for 64-bit fields) checked, as the object the class's assign() takes. */
  fromJson(json: unknown): Record<string, unknown>;
}

const viewOf = (bytes: Uint8Array): DataView => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function notARecord(json: unknown, type: string): string {
  return `${JSON.stringify(json)} is not a record: give a JSON object of ${type} fields`;
}

const shown = (v: unknown): string => (typeof v === 'bigint' ? String(v) : (JSON.stringify(v) ?? String(v)));

function toBigInt(v: unknown, what: string): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
  if (typeof v === 'string' && /^-?(\d+|0x[0-9a-f]+)$/i.test(v.trim())) {
    const s = v.trim();
    return s.startsWith('-') ? -BigInt(s.slice(1)) : BigInt(s);
  }
  throw new CliError(`${what}: expected an integer (a number or a string of digits), got ${shown(v)}`);
}

const INT_RANGE: Partial<Record<LayoutScalar, [number, number]>> = {
  int8: [-128, 127], uint8: [0, 255], int16: [-32768, 32767], uint16: [0, 65535],
  int32: [-2147483648, 2147483647], uint32: [0, 4294967295],
};

/**
 * Writes one scalar, checked as the generated classes check it (docs/api.md, Record values): numbers
 * and booleans as JSON has them, integers in range, float32 within its range; 64-bit integers also as
 * strings of digits (JSON numbers lose digits beyond 2^53).
 */
function writeScalar(dv: DataView, at: number, k: LayoutScalar, v: unknown, what: string): void {
  if (k === 'bool') {
    if (typeof v !== 'boolean') throw new CliError(`${what}: expected true or false, got ${shown(v)}`);
    dv.setUint8(at, v ? 1 : 0);
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
  if (typeof v !== 'number') throw new CliError(`${what}: expected a number, got ${shown(v)}`);
  if (k === 'float32') {
    if (Number.isFinite(v) && Math.abs(v) >= 3.4028235677973366e38) throw new CliError(`${what}: ${v} is beyond what a float32 holds`);
    return dv.setFloat32(at, v, true);
  }
  if (k === 'float64') return dv.setFloat64(at, v, true);
  const range = INT_RANGE[k]!;
  if (!Number.isInteger(v) || v < range[0] || v > range[1]) throw new CliError(`${what}: ${v} is not an integer in ${range[0]} .. ${range[1]} (${k})`);
  switch (k) {
    case 'int8': return dv.setInt8(at, v);
    case 'uint8': return dv.setUint8(at, v);
    case 'int16': return dv.setInt16(at, v, true);
    case 'uint16': return dv.setUint16(at, v, true);
    case 'int32': return dv.setInt32(at, v, true);
    default: return dv.setUint32(at, v, true);
  }
}

const utf8Encoder = new TextEncoder();

/** Writes JSON into records of one layout; every struct it nests is looked up once by name. */
class LayoutWriter {
  private readonly structs: Map<string, StructLayout>;
  constructor(layout: RecordLayout) {
    this.structs = new Map(layout.structs.map((st) => [st.name, st]));
  }

  struct(dv: DataView, base: number, st: StructLayout, obj: Record<string, unknown>, what: string): void {
    for (const [k, v] of Object.entries(obj)) {
      const f = st.fields.find((x) => x.name === k);
      if (!f) throw new CliError(`${what ? `${what}: ` : ''}no field '${k}' in ${st.name} (fields: ${st.fields.map((x) => x.name).join(', ')})`);
      const at = base + f.offset;
      const where = what ? `${what}.${k}` : `field '${k}'`;
      const t = f.type;
      if (t.kind === 'text') {
        if (typeof v !== 'string') throw new CliError(`${where}: expected a string, got ${shown(v)}`);
        if (v.includes('\0')) throw new CliError(`${where}: the text holds NUL (U+0000), which would end it`);
        const bytes = utf8Encoder.encode(v);
        if (bytes.length > t.length) throw new CliError(`${where}: the text is ${bytes.length} bytes in UTF-8 but the field holds ${t.length} [MMBUS_E_TOOBIG]`);
        const field = new Uint8Array(dv.buffer, dv.byteOffset + at, t.length);
        field.set(bytes);
        field.fill(0, bytes.length);
      } else if (t.kind === 'array') {
        if (!Array.isArray(v)) throw new CliError(`${where}: expected an array, got ${shown(v)}`);
        if (v.length > t.length) throw new CliError(`${where}: at most ${t.length} elements, got ${v.length}`);
        const step = f.size / t.length;
        v.forEach((e, i) => this.elem(dv, at + i * step, t.elem, e, `${where}[${i}]`));
      } else {
        this.elem(dv, at, t, v, where);
      }
    }
  }

  private elem(dv: DataView, at: number, t: LayoutElem, v: unknown, what: string): void {
    if (t.kind === 'scalar') return writeScalar(dv, at, t.scalar, v, what);
    if (t.kind === 'enum') {
      // a value of the enum, by name or by number (a string of digits too, for 64-bit enums): nothing else
      const byName = typeof v === 'string' ? t.values.find((x) => x.name === v) : undefined;
      const asBig = byName
        ? BigInt(byName.value)
        : typeof v === 'bigint'
          ? v
          : Number.isInteger(v)
            ? BigInt(v as number)
            : typeof v === 'string' && /^-?\d+$/.test(v.trim())
              ? BigInt(v.trim())
              : undefined;
      if (asBig === undefined || !t.values.some((x) => BigInt(x.value) === asBig)) {
        throw new CliError(`${what}: ${shown(v)} is not a value of ${t.name} (${t.values.map((x) => `${x.name} = ${x.value}`).join(', ')})`);
      }
      const big = t.scalar === 'int64' || t.scalar === 'uint64';
      return writeScalar(dv, at, t.scalar, big ? asBig : Number(asBig), what);
    }
    const st = this.structs.get(t.name);
    if (!st) throw new CliError(`${what}: the layout has no struct '${t.name}'`);
    if (!isPlainObject(v)) throw new CliError(`${what}: expected an object, got ${shown(v)}`);
    this.struct(dv, at, st, v, what);
  }
}

/** A codec, and a class openChannel accepts, for records of `layout`. */
export function layoutCodec(layout: RecordLayout, source: string): RecordCodec {
  const writer = new LayoutWriter(layout);
  const decode = recordDecoder(layout);
  const base = layoutClass(layout);
  // the shared flyweight of @mmbus/runtime, and assign() (what `mmbus publish` writes records with)
  class DescribedRecord extends base {
    assign(obj: Record<string, unknown>): this {
      writer.struct(this.view, this.offset, layout, obj, '');
      return this;
    }
  }
  return {
    name: layout.name,
    fingerprint: base.FINGERPRINT,
    size: layout.size,
    source,
    fields: layout.fields.map((f) => f.name),
    type: DescribedRecord,
    decode: (bytes) => decode(viewOf(bytes), 0),
    fromJson: (json) => {
      if (!isPlainObject(json)) throw new CliError(notARecord(json, layout.name));
      // checked now (into scratch), so a bad record fails before anything is published
      writer.struct(new DataView(new ArrayBuffer(layout.size)), 0, layout, json, '');
      return json;
    },
  };
}

/** A described type of @mmbus/messages: its static LAYOUT. */
interface DescribedType extends MessageType<RecordView> {
  readonly LAYOUT: RecordLayout;
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

/** A codec by schema name: from --schema, else the generated type of @mmbus/messages. */
export async function codecByName(name: string, schemaFile?: string): Promise<RecordCodec> {
  if (schemaFile) {
    const structs = await loadSchemaStructs(schemaFile);
    const def = structs.find((s) => s.fqn === name) ?? structs.find((s) => s.name === name);
    if (!def) throw new CliError(`schema ${schemaFile} declares no struct '${name}' (it declares: ${structs.map((s) => s.fqn).join(', ') || 'none'})`);
    const { recordLayout } = await import('@mmbus/runtime/schema');
    return layoutCodec(recordLayout(def), schemaFile);
  }
  const type = MESSAGE_TYPES.find((t) => t.NAME === name) ?? MESSAGE_TYPES.find((t) => t.NAME.split('.').pop() === name);
  if (!type) {
    throw new CliError(`no generated message type '${name}' in @mmbus/messages (known: ${MESSAGE_TYPES.map((t) => t.NAME).join(', ')}); pass --schema <file.fbs>`);
  }
  return layoutCodec((type as unknown as DescribedType).LAYOUT, '@mmbus/messages');
}

/**
 * The codec of a channel: --schema when given (an override), else the layout the channel file carries,
 * else the generated type of its schema name (files written without a layout); refuses a schema mismatch.
 */
export async function codecForChannel(
  channel: { name: string; schemaName: string; fingerprint: bigint; recordSize: number },
  schemaFile?: string,
  layout?: RecordLayout,
): Promise<RecordCodec> {
  let codec: RecordCodec;
  if (!schemaFile && layout) return layoutCodec(layout, `the channel file`);
  try {
    codec = await codecByName(channel.schemaName, schemaFile);
  } catch (err) {
    if (err instanceof CliError && !schemaFile) {
      throw new CliError(
        `channel '${channel.name}' holds ${channel.schemaName} (fingerprint ${hex64(channel.fingerprint)}) and its file does not describe its records (made without a layout), and @mmbus/messages does not know it; pass --schema <file.fbs>`,
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
