// node dist/publisher.js <dir> <count>: publishes <count> trades in place, in batches.
import { openChannel } from '@mmbus/core';

import { Trade } from './generated/index.js';
import { fill } from './trades.js';

const [dir, count] = process.argv.slice(2);
if (dir === undefined || count === undefined) throw new Error('usage: publisher <dir> <count>');

const ch = openChannel('trades', Trade, { dir, capacity: 4096 });
const published = ch.publishBatch(Number(count), fill);
console.log(JSON.stringify({ published }));
ch.close();
