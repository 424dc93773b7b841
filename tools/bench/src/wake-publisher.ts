// Publishes one PointUpdate every `gapMs` carrying its send time (CLOCK_MONOTONIC, like
// process.hrtime), so an idle subscriber in another process can measure its wake-up latency.
import { openChannel } from '@mmbus/core';
import { PointUpdate } from '@mmbus/messages';

const [dir, name, samplesText, gapText] = process.argv.slice(2);
const ch = openChannel(name!, PointUpdate, { dir: dir! });
while (ch.stats().subscribersActive < 1) await new Promise((r) => setTimeout(r, 1));
for (let i = 0; i < Number(samplesText); i++) {
  await new Promise((r) => setTimeout(r, Number(gapText)));
  ch.publish((r) => {
    r.pointId = i;
    r.timestampNs = process.hrtime.bigint();
  });
}
ch.close();
