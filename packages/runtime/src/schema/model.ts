// The resolved schema model: types, layouts and fingerprints, shared by both emitters.
import { LAYOUT_SCALAR_SIZE, type LayoutScalar } from '../layout.js';
import type { Pos } from './diagnostics.js';

/** A scalar's canonical name: the same names as a RecordLayout's scalars. */
export type ScalarKind = LayoutScalar;

/** Every FlatBuffers spelling of a scalar, mapped to its canonical name. */
export const SCALAR_SPELLINGS: Readonly<Record<string, ScalarKind>> = {
  bool: 'bool',
  byte: 'int8',
  int8: 'int8',
  ubyte: 'uint8',
  uint8: 'uint8',
  short: 'int16',
  int16: 'int16',
  ushort: 'uint16',
  uint16: 'uint16',
  int: 'int32',
  int32: 'int32',
  uint: 'uint32',
  uint32: 'uint32',
  long: 'int64',
  int64: 'int64',
  ulong: 'uint64',
  uint64: 'uint64',
  float: 'float32',
  float32: 'float32',
  double: 'float64',
  float64: 'float64',
};

export const SCALAR_SIZE: Readonly<Record<ScalarKind, number>> = LAYOUT_SCALAR_SIZE;

export const isInteger = (k: ScalarKind): boolean => k !== 'bool' && k !== 'float32' && k !== 'float64';
export const is64 = (k: ScalarKind): boolean => k === 'int64' || k === 'uint64';

export type ElemType =
  | { kind: 'scalar'; scalar: ScalarKind }
  | { kind: 'enum'; def: EnumDef }
  | { kind: 'struct'; def: StructDef };

export type FieldType = ElemType | { kind: 'array'; elem: ElemType; length: number } | { kind: 'text'; length: number };

export interface FieldDef {
  name: string;
  pos: Pos;
  doc: string[];
  type: FieldType;
  offset: number;
  size: number;
  align: number;
}

export interface StructDef {
  kind: 'struct';
  name: string;
  namespace: string;
  /** namespace.name, or name without a namespace */
  fqn: string;
  pos: Pos;
  doc: string[];
  schema: SchemaDef;
  fields: FieldDef[];
  /** Final size: the declared size if any, else the natural size. */
  size: number;
  align: number;
  /** Size by the FlatBuffers rules alone (what flatc computes), before the declared size. */
  naturalSize: number;
  /** End of the last field. */
  end: number;
  declaredSize?: number;
  forceAlign?: number;
  /** Gaps between fields and at the end, in order. */
  padding: { offset: number; size: number }[];
  /** FNV-1a 64 of the canonical layout text (fingerprint.ts: canonicalLayout). */
  fingerprint: bigint;
  /** The key field of a keyed message type (`(mmbus_key)`: an unsigned integer field), if any. */
  key?: FieldDef;
}

export interface EnumValueDef {
  name: string;
  value: bigint;
  pos: Pos;
  doc: string[];
}

export interface EnumDef {
  kind: 'enum';
  name: string;
  namespace: string;
  fqn: string;
  pos: Pos;
  doc: string[];
  schema: SchemaDef;
  underlying: ScalarKind;
  values: EnumValueDef[];
}

export interface SchemaDef {
  /** Path as given (roots) or as resolved from the including file (includes). */
  path: string;
  absPath: string;
  /** File name without directory and `.fbs`: the base name of the outputs. */
  baseName: string;
  includes: SchemaDef[];
  decls: (StructDef | EnumDef)[];
}

export interface Model {
  /** Every schema loaded: the roots and everything they include, includes first. */
  schemas: SchemaDef[];
}

export function elemSize(t: ElemType): number {
  if (t.kind === 'scalar') return SCALAR_SIZE[t.scalar];
  if (t.kind === 'enum') return SCALAR_SIZE[t.def.underlying];
  return t.def.size;
}

export function elemAlign(t: ElemType): number {
  if (t.kind === 'struct') return t.def.align;
  return elemSize(t);
}
