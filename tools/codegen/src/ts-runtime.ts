// The TypeScript runtime: the helpers generated modules import, as source text (no ts-morph here, so
// the schema reader can know their names without loading the emitter).

/**
 * The runtime helpers, by key, in a fixed order: all are written once into the runtime module
 * (TS_RUNTIME_MODULE) of an output directory; a generated module imports the functions it uses.
 */
export const HELPERS: Record<string, string> = {
  layout: `const layouts = new WeakMap<object, RecordLayout>();

/** A generated class's LAYOUT: its own part, then every struct nested in it once (innermost first), built on first use. */
export function layoutOf(type: object, own: () => Omit<RecordLayout, 'structs'>, nested: () => readonly { readonly LAYOUT: RecordLayout }[]): RecordLayout {
  let layout = layouts.get(type);
  if (layout === undefined) {
    const structs: StructLayout[] = [];
    const seen = new Set<string>();
    for (const { LAYOUT: n } of nested()) {
      for (const st of [...n.structs, { name: n.name, size: n.size, align: n.align, fields: n.fields }]) {
        if (seen.has(st.name)) continue;
        seen.add(st.name);
        structs.push(st);
      }
    }
    layout = { ...own(), structs };
    layouts.set(type, layout);
  }
  return layout;
}`,
  bounds: `export function checkBounds(name: string, size: number, view: DataView, offset: number): void {
  if (!(offset >= 0 && offset + size <= view.byteLength)) {
    throw new RangeError(\`\${name}: a record of \${size} bytes at offset \${offset} does not fit a view of \${view.byteLength} bytes\`);
  }
}`,
  index: `export function checkIndex(what: string, i: number, length: number): number {
  if ((i >>> 0) !== i || i >= length) throw new RangeError(\`\${what}: index \${i} is out of range 0..\${length - 1}\`);
  return i;
}`,
  arrayLength: `export function checkArrayLength(what: string, got: number, length: number): void {
  if (got > length) throw new RangeError(\`\${what}: \${got} elements given, the array holds \${length}\`);
}`,
  int64Number: `export function getInt64Number(view: DataView, at: number): number {
  return view.getInt32(at + 4, true) * 4294967296 + view.getUint32(at, true);
}

export function setInt64Number(what: string, view: DataView, at: number, v: number): void {
  if (!Number.isSafeInteger(v)) throw new RangeError(\`\${what}: \${v} is not a safe integer; use the bigint accessor\`);
  view.setUint32(at, v >>> 0, true);
  view.setInt32(at + 4, Math.floor(v / 4294967296), true);
}`,
  uint64Number: `export function getUint64Number(view: DataView, at: number): number {
  return view.getUint32(at + 4, true) * 4294967296 + view.getUint32(at, true);
}

export function setUint64Number(what: string, view: DataView, at: number, v: number): void {
  if (!Number.isSafeInteger(v) || v < 0) {
    throw new RangeError(\`\${what}: \${v} is not a non-negative safe integer; use the bigint accessor\`);
  }
  view.setUint32(at, v >>> 0, true);
  view.setUint32(at + 4, Math.floor(v / 4294967296), true);
}`,
  text: `const textDecoder = new TextDecoder();
const textEncoder = new TextEncoder();
let textScratch = new Uint8Array(256);

/** Reads UTF-8 text up to the first NUL or the end of the field. Short ASCII text needs no buffer. */
export function readText(view: DataView, at: number, capacity: number): string {
  let length = 0;
  let ascii = true;
  while (length < capacity) {
    const b = view.getUint8(at + length);
    if (b === 0) break;
    if (b >= 0x80) ascii = false;
    length++;
  }
  if (ascii && length <= 32) {
    let s = '';
    for (let i = 0; i < length; i++) s += String.fromCharCode(view.getUint8(at + i));
    return s;
  }
  return textDecoder.decode(new Uint8Array(view.buffer, view.byteOffset + at, length));
}

/**
 * Writes text as UTF-8 and zero-fills the rest of the field. Too long: throws (nothing written), or
 * with truncate stores the longest prefix that does not split a UTF-8 sequence and returns true.
 */
export function writeText(what: string, setter: string, view: DataView, at: number, capacity: number, v: string, truncate: boolean): boolean {
  const n = v.length;
  if (n <= capacity) {
    let i = 0;
    while (i < n && v.charCodeAt(i) < 0x80) i++;
    if (i === n) {
      for (let k = 0; k < n; k++) view.setUint8(at + k, v.charCodeAt(k));
      for (let k = n; k < capacity; k++) view.setUint8(at + k, 0);
      return false;
    }
  }
  if (textScratch.length < capacity) textScratch = new Uint8Array(capacity);
  const scratch = textScratch.subarray(0, capacity);
  const { read, written } = textEncoder.encodeInto(v, scratch);
  const truncated = read < n;
  if (truncated && !truncate) {
    const bytes = textEncoder.encode(v).length;
    throw new RangeError(
      \`\${what}: the text is \${bytes} bytes in UTF-8 but the field holds \${capacity}; shorten it or call \${setter}(value, { truncate: true })\`,
    );
  }
  const field = new Uint8Array(view.buffer, view.byteOffset + at, capacity);
  field.set(scratch.subarray(0, written));
  field.fill(0, written);
  return truncated;
}`,
};

export function exportedFunctions(code: string): string[] {
  return [...code.matchAll(/^export function (\w+)/gm)].map((m) => m[1] as string);
}

/** The runtime module: every helper the generated modules use, once per output directory. */
export function emitTsRuntime(): string {
  const lines = [
    '// Generated by mmbus-codegen. Do not edit: regenerate.',
    '// The runtime shared by the modules generated into this directory (bounds and index checks, 64-bit',
    '// integers as numbers, UTF-8 text fields). Internal: import the generated classes, not these.',
  ];
  lines.push('', "import type { RecordLayout, StructLayout } from '@mmbus/runtime';");
  for (const code of Object.values(HELPERS)) lines.push('', code);
  return lines.join('\n') + '\n';
}

/** Every function the runtime module exports. */
export function runtimeExports(): string[] {
  return Object.values(HELPERS).flatMap(exportedFunctions);
}
