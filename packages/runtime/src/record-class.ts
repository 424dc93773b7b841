// A flyweight class over records of a layout known only at run time (a schema file read at start, the
// layout a self-describing channel carries): what openChannel() of @mmbus/core takes of a generated
// message class (NAME, SIZE, FINGERPRINT, KEY, LAYOUT), reading fields with recordDecoder. The one
// implementation the `mmbus` command and the web gateway share. No Node.js imports.
import { recordDecoder, type RecordLayout } from './layout.js';
import { recordLayoutFingerprint } from './schema/fingerprint.js';

/** A record of a LayoutClass: re-pointable at any offset of a view, decoded with toObject(). */
export interface LayoutRecord {
  view: DataView;
  offset: number;
  wrap(view: DataView, offset: number): this;
  moveTo(offset: number): this;
  /** The record as a plain object with the schema's field names (recordDecoder). */
  toObject(): Record<string, unknown>;
}

export interface LayoutClass {
  readonly NAME: string;
  readonly SIZE: number;
  readonly ALIGN: number;
  readonly FINGERPRINT: bigint;
  readonly LAYOUT: RecordLayout;
  /** The key field of a keyed layout (its name, byte offset and size). */
  readonly KEY?: { readonly field: string; readonly offset: number; readonly size: number };
  new (view?: DataView, offset?: number): LayoutRecord;
}

/** The class of records of `layout` (fingerprint: the layout's own unless given, e.g. the schema's). */
export function layoutClass(layout: RecordLayout, fingerprint: bigint = recordLayoutFingerprint(layout)): LayoutClass {
  const decode = recordDecoder(layout);
  const size = layout.size;
  class LayoutRecordClass implements LayoutRecord {
    static readonly NAME = layout.name;
    static readonly SIZE = size;
    static readonly ALIGN = layout.align;
    static readonly FINGERPRINT = fingerprint;
    static readonly LAYOUT = layout;
    view: DataView;
    offset: number;
    constructor(view?: DataView, offset = 0) {
      this.view = view ?? new DataView(new ArrayBuffer(size));
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
    toObject(): Record<string, unknown> {
      return decode(this.view, this.offset);
    }
  }
  const keyField = layout.key === undefined ? undefined : layout.fields.find((f) => f.name === layout.key);
  if (keyField) Object.defineProperty(LayoutRecordClass, 'KEY', { value: Object.freeze({ field: keyField.name, offset: keyField.offset, size: keyField.size }) });
  return LayoutRecordClass;
}
