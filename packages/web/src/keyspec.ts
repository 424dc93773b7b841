// Key sets as clients send them in JSON ('all', a key, { from, to }, a list of keys and ranges): what
// JSON can hold beyond core's key sets is refused here (a range with other fields, a list too long),
// then core's keyRanges checks them against the channel's key count and merges them into sorted
// [first, count] ranges (one implementation of key sets).
import { keyRanges, type Keys } from '@mmbus/core';
import { MmbusError } from '@mmbus/runtime';

/** The most entries a list of keys may have (a request is at most maxRequestBytes anyway). */
export const KEY_LIST_MAX = 100_000;

const invalid = (message: string): MmbusError => new MmbusError('MMBUS_E_INVAL', message);

function checkEntry(v: unknown): void {
  if (typeof v !== 'object' || v === null) return; // a key: core checks it
  if (Array.isArray(v)) throw invalid(`keys: ${JSON.stringify(v)} is neither a key nor a { from, to } range`);
  const extra = Object.keys(v).filter((k) => k !== 'from' && k !== 'to');
  if (extra.length) throw invalid(`a key range has only from and to, not ${extra.join(', ')}`);
}

/** The keys of `spec` as sorted, merged [first, count] ranges; MMBUS_E_INVAL for anything else. */
export function keySpecRanges(spec: unknown, keyCount: number): [number, number][] {
  if (spec === undefined) throw invalid(`keys missing: 'all', a key, a { from, to } range or a list of them`);
  if (Array.isArray(spec)) {
    if (spec.length > KEY_LIST_MAX) throw invalid(`keys: a list of at most ${KEY_LIST_MAX} keys and ranges, not ${spec.length}`);
    for (const v of spec) checkEntry(v);
  } else {
    checkEntry(spec);
  }
  if (typeof spec === 'string' && spec !== 'all') throw invalid(`keys: ${JSON.stringify(spec)} is neither 'all', a key nor a { from, to } range`);
  return keyRanges(spec as Keys, keyCount);
}
