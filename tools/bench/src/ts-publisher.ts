// Benchmark publisher in TS: n Person records, in batches written in place (or one by one).
// argv: dir name n subscribers mode(batch|single)
import { openChannel } from '@mmbus/core';
import { Person } from '@mmbus/messages';

const [dir, name, countText, subsText, mode = 'batch'] = process.argv.slice(2);
const count = Number(countText);
const ch = openChannel(name!, Person, { dir: dir! });
while (ch.stats().subscribersActive < Number(subsText)) await new Promise((r) => setTimeout(r, 1));
if (mode === 'batch') {
  ch.publishBatch(count, (r, i) => {
    r.indexNumber = i;
    r.age = i % 100;
  });
} else {
  for (let i = 0; i < count; i++) {
    ch.publish((r) => {
      r.indexNumber = i;
      r.age = i % 100;
    });
  }
}
ch.close();
