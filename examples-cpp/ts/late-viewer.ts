// A late subscriber of the keyed `points` channel: it joins after the burst (or after the collector has
// stopped), asks for every point with a snapshot and gets each point's current value at once — no
// history needed, no "lost" — then compares them with the values the collector says it published.
// Prints one JSON line: {"values","points","equal","mismatched","snapshotMs","batches"}.
//
//   node --import tsx late-viewer.ts --dir DIR --points N [--channel points] [--values FILE]
//   (FILE: the collector's last values, float64 little-endian in point order: --dump-values)
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { openChannel } from '@mmbus/core';
import { PointUpdate } from '@mmbus/messages';

const { values: a } = parseArgs({
  options: {
    dir: { type: 'string' },
    channel: { type: 'string', default: 'points' },
    points: { type: 'string' },
    values: { type: 'string' },
  },
});
if (!a.dir || !a.points) throw new Error('--dir and --points are required');
const points = Number(a.points);

const ch = openChannel(a.channel!, PointUpdate, { dir: a.dir, create: false });
if (ch.keyCount !== points) throw new Error(`channel '${ch.name}' has ${ch.keyCount} keys, not ${points}`);
const t0 = performance.now();
const sub = ch.subscribe({ keys: 'all', snapshot: true });
const value = new Float64Array(points);
const has = new Uint8Array(points);
let values = 0;
let batches = 0;
for (let b = sub.poll(); b && b.snapshot; b = sub.poll()) {
  batches++;
  for (const r of b) {
    const p = r.pointId;
    if (!has[p]) values++;
    has[p] = 1;
    value[p] = r.value;
  }
}
const snapshotMs = performance.now() - t0;
sub.close();
ch.close();

let mismatched = -1;
if (a.values) {
  const theirs = new Float64Array(readFileSync(a.values).buffer.slice(0));
  mismatched = 0;
  for (let p = 0; p < points; p++) if (!has[p] || !Object.is(value[p], theirs[p])) mismatched++;
}
process.stdout.write(
  `${JSON.stringify({ values, points, equal: mismatched === 0, mismatched, snapshotMs: Math.round(snapshotMs * 10) / 10, batches })}\n`,
);
