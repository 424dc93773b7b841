// The "web back end": subscribes durably to the collector's `points` channel and keeps the latest
// value of every point (point_id is the point's index, the channel's key), as a web server would to
// answer "what is point X now". Prints "ready" on stdout once subscribed.
//
// It stops when told how many records to expect: a line "stop N" on stdin (N = what the collector
// published, from collector-host's summary). Once N records are in (or 10 s after the request) it
// prints one JSON summary line on stdout: received, distinct points, the sum of the last values in
// point order, lost, records with a bad device/point/tag, and the burst's time (first record to every
// point seen). --dump FILE writes the last values (float64, little-endian, point order).
//
//   node --import tsx web-backend.ts --dir DIR [--channel points] [--devices 70] [--points-per-device 3000]
//        [--name web] [--capacity N] [--policy block] [--dump FILE] [--progress]
import { writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { openChannel, type Policy } from '@mmbus/core';
import { PointUpdate } from '@mmbus/messages';

const { values: a } = parseArgs({
  options: {
    dir: { type: 'string' },
    channel: { type: 'string', default: 'points' },
    devices: { type: 'string', default: '70' },
    'points-per-device': { type: 'string', default: '3000' },
    name: { type: 'string', default: 'web' },
    capacity: { type: 'string' },
    policy: { type: 'string' },
    dump: { type: 'string' },
    progress: { type: 'boolean', default: false },
  },
});
if (!a.dir) throw new Error('--dir is required');
const devices = Number(a.devices);
const ppd = Number(a['points-per-device']);
const points = devices * ppd;

const ch = openChannel(a.channel!, PointUpdate, {
  dir: a.dir,
  keys: points, // keyed by point_id, as the collector creates it: whoever comes first creates it alike
  ...(a.capacity ? { capacity: Number(a.capacity) } : {}),
  ...(a.policy ? { policy: a.policy as Policy } : {}),
});
const sub = ch.subscribe({ name: a.name, start: 'oldest' });
process.stdout.write('ready\n');

const last = new Float64Array(points);
const seen = new Uint8Array(points);
let distinct = 0;
let received = 0;
let bad = 0;
let t0 = 0;
let burstMs = -1;
let burstReceived = 0;
let target = -1;

// progress: one live line on stderr (a terminal: redrawn every 100 ms; otherwise a line a second)
const tty = process.stderr.isTTY === true;
let lastDraw = 0;
let lastDrawn = 0;
function progress(force = false): void {
  if (!a.progress) return;
  const now = performance.now();
  if (!force && now - lastDraw < (tty ? 100 : 1000)) return;
  const rate = lastDraw && now > lastDraw ? Math.round((received - lastDrawn) / ((now - lastDraw) / 1000)) : 0;
  lastDraw = now;
  lastDrawn = received;
  const phase = burstMs >= 0 ? `burst of ${points.toLocaleString('en-US')} in ${burstMs.toFixed(1)} ms, then changes` : 'start-up burst';
  const line = `web back end: ${received.toLocaleString('en-US')} updates, ${distinct.toLocaleString('en-US')}/${points.toLocaleString('en-US')} points (${phase}), ${rate.toLocaleString('en-US')} msg/s`;
  process.stderr.write(tty ? `\r\x1b[K${line}` : `${line}\n`);
}

let graceTimer: NodeJS.Timeout | undefined;
createInterface({ input: process.stdin }).on('line', (line) => {
  const m = /^stop (\d+)$/.exec(line.trim());
  if (!m) return;
  target = Number(m[1]);
  if (received >= target) sub.close();
  else graceTimer = setTimeout(() => sub.close(), 10_000); // records missing: report what came
});

const expectTag = (d: number, p: number) => `dev${d}/pt${p}`;
for await (const batch of sub) {
  if (t0 === 0) t0 = performance.now();
  for (let i = 0; i < batch.length; i++) {
    const r = batch.get(i);
    const d = r.deviceId;
    const idx = r.pointId;
    if (idx >= points || d !== Math.floor(idx / ppd) || r.tag !== expectTag(d, idx % ppd)) {
      bad++;
      continue;
    }
    last[idx] = r.value;
    if (!seen[idx]) {
      seen[idx] = 1;
      distinct++;
    }
  }
  received += batch.length;
  if (burstMs < 0 && distinct === points) {
    burstMs = performance.now() - t0;
    burstReceived = received;
  }
  progress();
  if (target >= 0 && received >= target) break;
}
clearTimeout(graceTimer);
progress(true);
if (a.progress && tty) process.stderr.write('\n');
const lost = sub.lost;
sub.close();
ch.close();
process.stdin.destroy();

let valueSum = 0;
for (let i = 0; i < points; i++) valueSum += last[i]!;
if (a.dump) writeFileSync(a.dump, new Uint8Array(last.buffer));
process.stdout.write(
  `${JSON.stringify({
    received,
    distinctPoints: distinct,
    points,
    valueSum,
    lost,
    bad,
    burstMs,
    burstMsgsPerSec: burstMs > 0 ? Math.round(burstReceived / (burstMs / 1000)) : 0,
  })}\n`,
);
