// Benchmark subscriber: reads two fields (index, age) of every Person record, checks the count and
// the original checksum, and prints {received, checksum, seconds} (first record to last).
import { openChannel } from '@mmbus/core';
import { Person } from '@mmbus/messages';

const [dir, name, countText] = process.argv.slice(2);
const count = Number(countText);
const ch = openChannel(name!, Person, { dir: dir! });
const sub = ch.subscribe();
process.stdout.write('ready\n');
let received = 0;
let checksum = 0;
let ages = 0;
let t0 = 0n;
for await (const batch of sub) {
  if (t0 === 0n) t0 = process.hrtime.bigint();
  for (let i = 0; i < batch.length; i++) {
    const r = batch.get(i);
    const index = r.indexNumber;
    checksum += index & 1 ? -index : index;
    ages += r.age;
  }
  received += batch.length;
  if (received >= count) break;
}
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
sub.close();
ch.close();
process.stdout.write(`${JSON.stringify({ received, checksum, seconds, ages })}\n`);
