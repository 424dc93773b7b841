// mmbus peer in TS (throughput: Person records; latency: PointUpdate records, both 128 bytes).
// argv: JSON ChildConfig with role 'pub' | 'sub'.
import { openChannel, type Channel } from '@mmbus/core';
import { Person, PointUpdate } from '@mmbus/messages';

import { config, exitWithParent, idle, publisherRun, ready, Receiver, report } from './common.ts';

const cfg = config();
const role = process.argv[3];
exitWithParent();

if (role === 'pub') {
  // latency runs carry PointUpdate records (timestamp field), the others Person records
  const latency = cfg.mode === 'latency';
  const ch = latency ? openChannel(cfg.name, PointUpdate, { dir: cfg.endpoint }) : openChannel(cfg.name, Person, { dir: cfg.endpoint });
  ready();
  while (ch.stats().subscribersActive < cfg.subscribers) await new Promise((r) => setTimeout(r, 1));
  const points = ch as Channel<PointUpdate>;
  const people = ch as Channel<Person>;
  await publisherRun(
    cfg,
    (i) => {
      points.publish((r) => {
        r.pointId = i;
        r.timestampNs = process.hrtime.bigint();
      });
    },
    () => {
      if (cfg.variant === 'single') {
        for (let i = 0; i < cfg.records; i++) {
          people.publish((r) => {
            r.indexNumber = i;
          });
        }
      } else {
        people.publishBatch(cfg.records, (r, i) => {
          r.indexNumber = i;
        });
      }
    },
  );
  ch.close();
  process.exit(0);
} else if (cfg.mode === 'latency') {
  const ch = openChannel(cfg.name, PointUpdate, { dir: cfg.endpoint });
  const sub = ch.subscribe();
  const rec = new Receiver(cfg);
  rec.finishOnTerm();
  ready();
  for await (const batch of sub) {
    const t = process.hrtime.bigint();
    for (let i = 0; i < batch.length; i++) {
      const r = batch.get(i);
      rec.add(r.pointId, Number(t - r.timestampNs));
    }
    if (rec.done) break;
  }
  rec.mark();
  sub.close();
  ch.close();
  report(rec.result());
  process.exit(0);
} else {
  const ch = openChannel(cfg.name, Person, { dir: cfg.endpoint });
  const sub = ch.subscribe();
  ready();
  if (cfg.mode === 'idle') {
    void (async () => {
      for await (const batch of sub) void batch;
    })();
    await idle(() => {});
  } else {
    const rec = new Receiver(cfg);
    rec.finishOnTerm();
    for await (const batch of sub) {
      for (let i = 0; i < batch.length; i++) rec.add(batch.get(i).indexNumber);
      if (rec.done) break;
    }
    rec.mark();
    sub.close();
    ch.close();
    report(rec.result());
    process.exit(0);
  }
}
