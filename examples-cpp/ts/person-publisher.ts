// TS Person publisher: records index i, name person-i, age i % 100 for i in [first, first + count),
// once `wait` subscribers are attached. One JSON line on stdout.
//   node --import tsx person-publisher.ts --dir DIR [--channel people] [--count N] [--first 0]
//        [--wait-subscribers 0] [--mode batch|single] [--pace N:MS]
import { parseArgs } from 'node:util';
import { openChannel } from '@mmbus/core';
import { Person } from '@mmbus/messages';

const { values: a } = parseArgs({
  options: {
    dir: { type: 'string' },
    channel: { type: 'string', default: 'people' },
    count: { type: 'string', default: '2000000' },
    first: { type: 'string', default: '0' },
    'wait-subscribers': { type: 'string', default: '0' },
    mode: { type: 'string', default: 'batch' },
    pace: { type: 'string', default: '' },
  },
});
if (!a.dir) throw new Error('--dir is required');
const count = Number(a.count);
const first = Number(a.first);
const waitFor = Number(a['wait-subscribers']);
const [paceEvery, paceMs] = a.pace ? a.pace.split(':').map(Number) as [number, number] : [0, 0];

const ch = openChannel(a.channel!, Person, { dir: a.dir });
while (ch.stats().subscribersActive < waitFor) await new Promise((r) => setTimeout(r, 5));
const t0 = performance.now();
let checksum = 0;
let done = 0;
while (done < count) {
  const k = Math.min(paceEvery || count, count - done);
  if (a.mode === 'single') {
    for (let i = 0; i < k; i++) {
      const index = first + done + i;
      ch.publish({ index: BigInt(index), name: `person-${index}`, age: index % 100 });
    }
  } else {
    const base = first + done;
    ch.publishBatch(
      k,
      (r, i) => {
        const index = base + i;
        r.indexNumber = index;
        r.name = `person-${index}`;
        r.age = index % 100;
      },
      256,
    );
  }
  for (let i = 0; i < k; i++) {
    const index = first + done + i;
    checksum += index & 1 ? -index : index;
  }
  done += k;
  if (paceEvery && done < count) await new Promise((r) => setTimeout(r, paceMs));
}
const ms = performance.now() - t0;
ch.close();
process.stdout.write(`${JSON.stringify({ published: done, first, checksum, ms, msgsPerSec: Math.round(done / (ms / 1000)) })}\n`);
