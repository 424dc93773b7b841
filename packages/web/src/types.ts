// The record types a gateway can serve: the layout a channel file carries (self-describing channels),
// else generated message classes (their static LAYOUT) and structs of schema files read at start
// (@mmbus/runtime/schema), matched by the header's schema name and fingerprint.
import type { MessageType, RecordView } from '@mmbus/core';
import { layoutClass, layoutEnd, MmbusError, type RecordLayout } from '@mmbus/runtime';

/** A generated message class as mmbus-codegen emits it: with its layout as plain data. */
export interface GeneratedType extends MessageType<RecordView> {
  readonly LAYOUT?: RecordLayout;
}

export interface ServedType {
  readonly name: string;
  readonly fingerprint: bigint;
  readonly size: number;
  readonly layout: RecordLayout;
  /** Bytes of a record on the wire: up to the end of its last field. */
  readonly recordBytes: number;
  /** The class openChannel() takes. */
  readonly cls: MessageType<RecordView>;
  /** Where it comes from: a package's generated class or a schema file. */
  readonly source: string;
}

export const hex64 = (v: bigint): string => `0x${v.toString(16).padStart(16, '0')}`;

function served(cls: MessageType<RecordView>, layout: RecordLayout, source: string): ServedType {
  return { name: cls.NAME, fingerprint: cls.FINGERPRINT, size: cls.SIZE, layout, recordBytes: layoutEnd(layout), cls, source };
}

export class TypeRegistry {
  private readonly byName = new Map<string, ServedType[]>();

  add(t: ServedType): void {
    const list = this.byName.get(t.name) ?? [];
    if (!list.some((x) => x.fingerprint === t.fingerprint)) list.push(t);
    this.byName.set(t.name, list);
  }

  /** Generated classes: each must carry its LAYOUT (mmbus-codegen emits it). */
  addGenerated(types: readonly GeneratedType[], source: string): void {
    for (const cls of types) {
      if (!cls || typeof cls.NAME !== 'string' || typeof cls.FINGERPRINT !== 'bigint') {
        throw new MmbusError('MMBUS_E_INVAL', 'types: every entry must be a generated message class (e.g. PointUpdate of @mmbus/messages)');
      }
      const layout = cls.LAYOUT;
      if (!layout || layout.size !== cls.SIZE || layout.name !== cls.NAME) {
        throw new MmbusError('MMBUS_E_INVAL', `types: ${cls.NAME} carries no LAYOUT of its own: regenerate it with this version of mmbus-codegen`);
      }
      this.add(served(cls, layout, source));
    }
  }

  /** Every struct of the schema files (and their includes). */
  async addSchemaFiles(files: readonly string[]): Promise<void> {
    if (files.length === 0) return;
    const { loadSchemas, recordLayout, SchemaError, formatDiagnostic } = await import('@mmbus/runtime/schema');
    let model;
    try {
      model = loadSchemas([...files]);
    } catch (err) {
      if (err instanceof SchemaError) {
        throw new MmbusError('MMBUS_E_INVAL', `schema: ${err.diagnostics.map(formatDiagnostic).join('; ')}`);
      }
      throw err;
    }
    for (const schema of model.schemas) {
      for (const d of schema.decls) {
        if (d.kind !== 'struct') continue;
        const layout = recordLayout(d);
        this.add(served(layoutClass(layout, d.fingerprint), layout, schema.path));
      }
    }
  }

  /** The type of a channel whose file describes its records (checked by core against its header). */
  described(layout: RecordLayout, fingerprint: bigint): ServedType {
    const known = this.find(layout.name, fingerprint);
    if (known) return known;
    const t = served(layoutClass(layout, fingerprint), layout, 'the channel file');
    this.add(t);
    return t;
  }

  /** The type of a channel's header, or undefined when the gateway was given none with that name and fingerprint. */
  find(name: string, fingerprint: bigint): ServedType | undefined {
    return this.byName.get(name)?.find((t) => t.fingerprint === fingerprint);
  }

  /** What the gateway knows of a name (for the error a client gets). */
  describe(name: string): string {
    const list = this.byName.get(name);
    if (!list) {
      const known = [...this.byName.keys()].sort();
      return `the gateway knows no type ${name} (it knows ${known.length ? known.join(', ') : 'none'}); start it with that schema (mmbus serve --schema file.fbs) or its generated class`;
    }
    return `the gateway knows ${name} only with fingerprint ${list.map((t) => `${hex64(t.fingerprint)} (${t.source})`).join(', ')}: another layout`;
  }
}
