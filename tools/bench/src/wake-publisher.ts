// Sends one message every `gapMs` carrying its send time (CLOCK_MONOTONIC, like process.hrtime), so an
// idle subscriber in another process can measure its wake-up latency: a PointUpdate into the channel
// `name` of `dir` (mmbus), or 8 bytes down the Unix socket at `dir` (uds).
import { createConnection } from 'node:net';
import { once } from 'node:events';

import { openChannel } from '@mmbus/core';
import { PointUpdate } from '@mmbus/messages';

const [transport, dir, name, samplesText, gapText] = process.argv.slice(2);
const samples = Number(samplesText);
const gap = () => new Promise((r) => setTimeout(r, Number(gapText)));

if (transport === 'mmbus') {
  const ch = openChannel(name!, PointUpdate, { dir: dir! });
  while (ch.stats().subscribersActive < 1) await new Promise((r) => setTimeout(r, 1));
  for (let i = 0; i < samples; i++) {
    await gap();
    ch.publish((r) => {
      r.pointId = i;
      r.timestampNs = process.hrtime.bigint();
    });
  }
  ch.close();
} else {
  const sock = createConnection(dir!);
  await once(sock, 'connect');
  for (let i = 0; i < samples; i++) {
    await gap();
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(process.hrtime.bigint());
    sock.write(b);
  }
  sock.end();
}
