// node dist/subscriber.js <dir> <count>: prints "ready", receives <count> trades, prints
// {"received", "bad", "checksum"} (bad: records whose ticker is not the one their id gives).
import { openChannel } from '@mmbus/core';

import { Trade } from './generated/index.js';
import { digest, ticker } from './trades.js';

const [dir, count] = process.argv.slice(2);
if (dir === undefined || count === undefined) throw new Error('usage: subscriber <dir> <count>');

const ch = openChannel('trades', Trade, { dir, capacity: 4096 });
const sub = ch.subscribe();
console.log('ready');
let received = 0;
let bad = 0;
let sum = 0n;
for await (const batch of sub) {
  for (const t of batch) {
    sum = digest(sum, t);
    if (t.ticker !== ticker(t.id)) bad++;
    received++;
  }
  if (received >= Number(count)) break;
}
console.log(JSON.stringify({ received, bad, checksum: sum.toString() }));
sub.close();
ch.close();
