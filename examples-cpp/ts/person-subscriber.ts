// TS Person subscriber: consumes records until `count` were received (or lost), checking the order per
// publisher (indexes below --split come from the first publisher, the others from the second), the
// original checksum (+0 -1 +2 ...) and every decoded name and age. Prints "ready" once subscribed,
// progress every 50,000 on stderr, one JSON result line on stdout.
//   node --import tsx person-subscriber.ts --dir DIR [--channel people] [--count N] [--durable NAME]
//        [--start newest|oldest] [--split K] [--until-index K] [--log FILE] [--quiet]
// --until-index: also stop once that index was received (a restarted durable subscriber does not know
// how many records its predecessors took). --log: appends "first last" per batch before acknowledging it.
import { appendFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { openChannel } from '@mmbus/core';
import { Person } from '@mmbus/messages';

const { values: a } = parseArgs({
  options: {
    dir: { type: 'string' },
    channel: { type: 'string', default: 'people' },
    count: { type: 'string', default: '2000000' },
    durable: { type: 'string', default: '' },
    start: { type: 'string', default: '' },
    split: { type: 'string', default: '' },
    'until-index': { type: 'string', default: '' },
    log: { type: 'string', default: '' },
    quiet: { type: 'boolean', default: false },
  },
});
if (!a.dir) throw new Error('--dir is required');
const count = Number(a.count);
const split = a.split ? Number(a.split) : Infinity;
const untilIndex = a['until-index'] ? Number(a['until-index']) : -1;
const start = (a.start || (a.durable ? 'oldest' : 'newest')) as 'newest' | 'oldest';

const ch = openChannel(a.channel!, Person, { dir: a.dir });
const sub = ch.subscribe({ ...(a.durable ? { name: a.durable } : {}), start, maxBatch: 4096 });
process.stdout.write('ready\n');

let received = 0;
let checksum = 0;
let badNames = 0;
let outOfOrder = 0;
let nextProgress = 50_000;
let done = false;
const perPublisher = [0, 0];
const lastIndex = [-1, -1];
for await (const batch of sub) {
  let firstInBatch = -1;
  let lastInBatch = -1;
  for (let i = 0; i < batch.length; i++) {
    const r = batch.get(i);
    const index = r.indexNumber;
    if (r.name !== `person-${index}` || r.age !== index % 100) badNames++;
    const p = index >= split ? 1 : 0;
    if (index <= lastIndex[p]!) outOfOrder++;
    lastIndex[p] = index;
    perPublisher[p]!++;
    checksum += index & 1 ? -index : index;
    if (firstInBatch < 0) firstInBatch = index;
    lastInBatch = index;
    if (index === untilIndex) done = true;
  }
  received += batch.length;
  if (a.log) appendFileSync(a.log, `${firstInBatch} ${lastInBatch}\n`);
  if (!a.quiet && received >= nextProgress) {
    process.stderr.write(`person-subscriber.ts: ${received} received\n`);
    nextProgress = (Math.floor(received / 50_000) + 1) * 50_000;
  }
  if (done || received + sub.lost >= count) break;
}
const lost = sub.lost;
sub.close();
ch.close();
process.stdout.write(`${JSON.stringify({ received, checksum, badNames, outOfOrder, lost, perPublisher })}\n`);
