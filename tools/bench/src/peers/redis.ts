// Redis pub/sub peer (ioredis). Publisher: PUBLISH pipelined, 1000 commands per pipeline and up to 4
// pipelines in flight (throughput), or one PUBLISH per message (latency). Subscriber: 'messageBuffer'.
// argv: JSON ChildConfig (endpoint = port), role 'pub' | 'sub'.
import { Redis } from 'ioredis';

import { config, exitWithParent, idle, indexAt, MESSAGE_SIZE, publisherRun, ready, Receiver, report, sleep, stampAt, stampedMessage, writeIndex } from './common.ts';

const cfg = config();
const role = process.argv[3];
exitWithParent();
const redis = new Redis({ host: '127.0.0.1', port: Number(cfg.endpoint), maxRetriesPerRequest: null });

if (role === 'pub') {
  ready();
  for (;;) {
    const [, n] = (await redis.pubsub('NUMSUB', cfg.name)) as [string, number];
    if (Number(n) >= cfg.subscribers) break;
    await sleep(2);
  }
  await publisherRun(
    cfg,
    (i) => void redis.publish(cfg.name, stampedMessage(i)),
    async () => {
      const PER_PIPELINE = 1000;
      const inFlight: Promise<unknown>[] = [];
      for (let i = 0; i < cfg.records; ) {
        const k = Math.min(PER_PIPELINE, cfg.records - i);
        const chunk = Buffer.alloc(k * MESSAGE_SIZE);
        const p = redis.pipeline();
        for (let j = 0; j < k; j++, i++) {
          writeIndex(chunk, j * MESSAGE_SIZE, i);
          p.publish(cfg.name, chunk.subarray(j * MESSAGE_SIZE, (j + 1) * MESSAGE_SIZE));
        }
        inFlight.push(p.exec());
        if (inFlight.length >= 4) await inFlight.shift();
      }
      await Promise.all(inFlight);
    },
    () => redis.ping(),
  );
  redis.disconnect();
  process.exit(0);
} else {
  const rec = new Receiver(cfg);
  if (cfg.mode === 'idle') {
    await redis.subscribe(cfg.name);
    ready();
    await idle(() => redis.disconnect());
  } else {
    rec.finishOnTerm(() => redis.disconnect());
    const latency = cfg.mode === 'latency';
    redis.on('messageBuffer', (_channel: Buffer, m: Buffer) => {
      rec.add(indexAt(m, 0), latency ? Number(process.hrtime.bigint() - stampAt(m, 0)) : 0);
      if (rec.done) {
        rec.mark();
        report(rec.result());
        redis.disconnect();
        process.exit(0);
      }
    });
    await redis.subscribe(cfg.name);
    ready();
  }
}
