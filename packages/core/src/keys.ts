// Key sets of keyed channels: what callers write ('all', a list, ranges) as the ranges the C API takes.
import { invalid } from './errors.js';

/** Keys `from` .. `to - 1`. */
export interface KeyRange {
  from: number;
  to: number;
}

/** Which keys: every one, one key, any iterable of keys (an array, a Set), a range, or ranges. */
export type Keys = 'all' | number | KeyRange | Iterable<number | KeyRange>;

function isRange(v: unknown): v is KeyRange {
  return typeof v === 'object' && v !== null && 'from' in v && 'to' in v;
}

function checkKey(k: unknown, keyCount: number): number {
  if (typeof k !== 'number' || !Number.isInteger(k) || k < 0 || k >= keyCount) {
    throw invalid(`key ${typeof k === 'number' ? k : JSON.stringify(k) ?? String(k)} is not one of the channel's keys 0 .. ${keyCount - 1}`);
  }
  return k;
}

/** The keys as sorted, merged [first, count] ranges; MMBUS_E_INVAL for anything that is not a key. */
export function keyRanges(keys: Keys, keyCount: number): [number, number][] {
  if (keys === 'all') return keyCount > 0 ? [[0, keyCount]] : [];
  const spans: [number, number][] = [];
  const addRange = (r: KeyRange): void => {
    const from = checkKey(r.from, keyCount);
    if (typeof r.to !== 'number' || !Number.isInteger(r.to) || r.to <= from || r.to > keyCount) {
      throw invalid(`key range { from: ${from}, to: ${String(r.to)} } is not a non-empty range within 0 .. ${keyCount}`);
    }
    spans.push([from, r.to]);
  };
  if (typeof keys === 'number') spans.push([checkKey(keys, keyCount), keys + 1]);
  else if (isRange(keys)) addRange(keys);
  else if (keys !== null && typeof keys === 'object' && Symbol.iterator in keys) {
    for (const k of keys as Iterable<unknown>) {
      if (isRange(k)) addRange(k);
      else {
        const key = checkKey(k, keyCount);
        spans.push([key, key + 1]);
      }
    }
  } else {
    throw invalid(`keys must be 'all', a key, an iterable of keys or { from, to } ranges, not ${JSON.stringify(keys) ?? String(keys)}`);
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

/** Reads the key field (an unsigned little-endian integer of 1, 2, 4 or 8 bytes) of the record at `offset`. */
export function keyReader(keyOffset: number, keySize: number): (view: DataView, offset: number) => number {
  switch (keySize) {
    case 1:
      return (v, o) => v.getUint8(o + keyOffset);
    case 2:
      return (v, o) => v.getUint16(o + keyOffset, true);
    case 4:
      return (v, o) => v.getUint32(o + keyOffset, true);
    default:
      // keys are below 2^24 (MMBUS_KEY_COUNT_MAX): a larger value is out of range either way
      return (v, o) => v.getUint32(o + keyOffset, true) + v.getUint32(o + keyOffset + 4, true) * 4294967296;
  }
}
