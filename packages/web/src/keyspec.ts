// Key sets as clients send them ('all', a key, { from, to }, a list of keys and ranges), checked
// against the channel's key count and turned into sorted, merged [first, count] ranges.
import { MmbusError } from '@mmbus/runtime';

/** The most entries a list of keys may have (a request is at most maxRequestBytes anyway). */
export const KEY_LIST_MAX = 100_000;

const invalid = (message: string): MmbusError => new MmbusError('MMBUS_E_INVAL', message);

function key(v: unknown, keyCount: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= keyCount) {
    throw invalid(`key ${JSON.stringify(v) ?? String(v)} is not one of the channel's keys 0 .. ${keyCount - 1}`);
  }
  return v;
}

function range(v: Record<string, unknown>, keyCount: number): [number, number] {
  const extra = Object.keys(v).filter((k) => k !== 'from' && k !== 'to');
  if (extra.length) throw invalid(`a key range has only from and to, not ${extra.join(', ')}`);
  const from = key(v['from'], keyCount);
  const to = v['to'];
  if (typeof to !== 'number' || !Number.isInteger(to) || to <= from || to > keyCount) {
    throw invalid(`key range { from: ${from}, to: ${JSON.stringify(to) ?? String(to)} } is not a non-empty range within 0 .. ${keyCount}`);
  }
  return [from, to];
}

/** The keys of `spec` as sorted, merged [first, count] ranges; MMBUS_E_INVAL for anything else. */
export function keySpecRanges(spec: unknown, keyCount: number): [number, number][] {
  if (spec === 'all') return keyCount > 0 ? [[0, keyCount]] : [];
  const spans: [number, number][] = [];
  const one = (v: unknown): void => {
    if (typeof v === 'number') {
      const k = key(v, keyCount);
      spans.push([k, k + 1]);
    } else if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
      spans.push(range(v as Record<string, unknown>, keyCount));
    } else {
      throw invalid(`keys: ${JSON.stringify(v) ?? String(v)} is neither a key nor a { from, to } range`);
    }
  };
  if (Array.isArray(spec)) {
    if (spec.length > KEY_LIST_MAX) throw invalid(`keys: a list of at most ${KEY_LIST_MAX} keys and ranges, not ${spec.length}`);
    for (const v of spec) one(v);
  } else if (spec === undefined) {
    throw invalid(`keys missing: 'all', a key, a { from, to } range or a list of them`);
  } else {
    one(spec);
  }
  spans.sort((a, b) => a[0] - b[0]);
  const out: [number, number][] = [];
  for (const [from, to] of spans) {
    const last = out[out.length - 1];
    if (last && from <= last[0] + last[1]) last[1] = Math.max(last[1], to - last[0]);
    else out.push([from, to - from]);
  }
  return out;
}
