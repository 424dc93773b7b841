// The layout fingerprint: FNV-1a 64 over a canonical text of the layout (see README.md). A struct's text
// contains the whole text of each struct nested in it; it is hashed piece by piece, never built, and
// the outputs print the short form (`layoutText`) where a nested struct is named, not expanded.
import type { LayoutElem, RecordLayout, StructLayout } from '../layout.js';

const MASK16 = 0xffff;

/** FNV-1a 64 (offset basis 0xcbf29ce484222325, prime 2^40 + 0x1b3) in four 16-bit limbs: no BigInt per byte. */
class Fnv1a64 {
  private h0 = 0x2325;
  private h1 = 0x8422;
  private h2 = 0x9ce4;
  private h3 = 0xcbf2;

  private bytes(b: Uint8Array | string, n: number): void {
    let { h0, h1, h2, h3 } = this;
    const str = typeof b === 'string';
    for (let i = 0; i < n; i++) {
      h0 ^= str ? b.charCodeAt(i) : (b[i] as number);
      const t0 = h0 * 0x1b3;
      let t1 = h1 * 0x1b3;
      let t2 = h2 * 0x1b3 + (h0 << 8);
      const t3 = h3 * 0x1b3 + (h1 << 8);
      t1 += t0 >>> 16;
      h0 = t0 & MASK16;
      t2 += t1 >>> 16;
      h1 = t1 & MASK16;
      h3 = (t3 + (t2 >>> 16)) & MASK16;
      h2 = t2 & MASK16;
    }
    this.h0 = h0;
    this.h1 = h1;
    this.h2 = h2;
    this.h3 = h3;
  }

  /** Hashes the UTF-8 bytes of `text`. */
  update(text: string): this {
    // schema text is ASCII (identifiers and numbers), whose UTF-8 bytes are its char codes
    if (/^[\x00-\x7f]*$/.test(text)) this.bytes(text, text.length);
    else {
      const b = new TextEncoder().encode(text);
      this.bytes(b, b.length);
    }
    return this;
  }

  digest(): bigint {
    return (BigInt(this.h3) << 48n) | (BigInt(this.h2) << 32n) | (BigInt(this.h1) << 16n) | BigInt(this.h0);
  }
}

export function fnv1a64(text: string): bigint {
  return new Fnv1a64().update(text).digest();
}

/**
 * What the canonical text is made of: a resolved StructDef of the model is one, and so is a
 * RecordLayout read from a file (canonOf): one text, one fingerprint for both.
 */
interface Layout {
  readonly fqn: string;
  readonly size: number;
  readonly align: number;
  readonly fields: readonly { readonly name: string; readonly offset: number; readonly size: number; readonly type: CanonType }[];
  readonly key?: { readonly name: string } | undefined;
}
type CanonElem = { readonly kind: 'scalar'; readonly scalar: string } | { readonly kind: 'enum'; readonly def: { readonly fqn: string; readonly underlying: string } } | { readonly kind: 'struct'; readonly def: Layout };
type CanonType = CanonElem | { readonly kind: 'array'; readonly elem: CanonElem; readonly length: number } | { readonly kind: 'text'; readonly length: number };

/** The canonical text of `s` as text pieces and the nested structs whose canonical text goes between them. */
function pieces(s: Layout): (string | Layout)[] {
  const out: (string | Layout)[] = [];
  let text = `struct ${s.fqn} size=${s.size} align=${s.align};`;
  const elem = (t: CanonElem): void => {
    if (t.kind === 'scalar') text += t.scalar;
    else if (t.kind === 'enum') text += `enum ${t.def.fqn}:${t.def.underlying}`;
    else {
      out.push(`${text}(`, t.def);
      text = ')';
    }
  };
  const type = (t: CanonType): void => {
    if (t.kind === 'array') {
      text += '[';
      elem(t.elem);
      text += `:${t.length}]`;
    } else if (t.kind === 'text') {
      text += `text[${t.length}]`;
    } else {
      elem(t);
    }
  };
  for (const f of s.fields) {
    text += `field ${f.name}:`;
    type(f.type);
    text += `@${f.offset}:${f.size};`;
  }
  if (s.key) text += `key ${s.key.name};`;
  out.push(text);
  return out;
}

const lengths = new WeakMap<Layout, number>();

/** Length of the canonical text of a resolved struct (its nested structs' lengths are remembered). */
export function canonicalLength(s: Layout): number {
  let n = lengths.get(s);
  if (n === undefined) {
    n = 0;
    for (const p of pieces(s)) n += typeof p === 'string' ? p.length : canonicalLength(p);
    lengths.set(s, n);
  }
  return n;
}

/** The canonical layout text, built in full (tests and tools; the fingerprint does not need it). */
export function canonicalLayout(s: Layout): string {
  return pieces(s)
    .map((p) => (typeof p === 'string' ? p : canonicalLayout(p)))
    .join('');
}

/** The layout printed in the outputs: the canonical text with each nested struct shortened to its first part. */
export function layoutText(s: Layout): string {
  return pieces(s)
    .map((p) => (typeof p === 'string' ? p : `struct ${p.fqn} size=${p.size} align=${p.align};...`))
    .join('');
}

/** FNV-1a 64 of the canonical layout text, hashed piece by piece. */
export function layoutFingerprint(s: Layout): bigint {
  const h = new Fnv1a64();
  const feed = (x: Layout): void => {
    for (const p of pieces(x)) {
      if (typeof p === 'string') h.update(p);
      else feed(p);
    }
  };
  feed(s);
  return h.digest();
}

export function hex64(v: bigint): string {
  return '0x' + v.toString(16).padStart(16, '0');
}

/** A RecordLayout in the shape the canonical text is made from (each nested struct converted once). */
function canonOf(layout: RecordLayout): Layout {
  const done = new Map<string, Layout>();
  const elem = (e: LayoutElem): CanonElem => {
    if (e.kind === 'scalar') return e;
    if (e.kind === 'enum') return { kind: 'enum', def: { fqn: e.name, underlying: e.scalar } };
    const def = done.get(e.name);
    if (!def) throw new Error(`record layout: struct '${e.name}' is not declared before its use (checkRecordLayout refuses this)`);
    return { kind: 'struct', def };
  };
  const struct = (s: StructLayout, key?: string): Layout => ({
    fqn: s.name,
    size: s.size,
    align: s.align,
    fields: s.fields.map((f) => ({ name: f.name, offset: f.offset, size: f.size, type: f.type.kind === 'array' ? { kind: 'array', elem: elem(f.type.elem), length: f.type.length } : f.type.kind === 'text' ? f.type : elem(f.type) })),
    ...(key !== undefined ? { key: { name: key } } : {}),
  });
  for (const s of layout.structs) done.set(s.name, struct(s));
  return struct(layout, layout.key);
}

/** The fingerprint of a RecordLayout: equal to its struct's fingerprint when it was made from the same layout (a channel's header checks it). */
export function recordLayoutFingerprint(layout: RecordLayout): bigint {
  return layoutFingerprint(canonOf(layout));
}
