// ZeroMQ PUB/SUB peer over ipc:// (zeromq.js 6). The publisher is an XPUB, so it can start once it has
// seen every subscription. High-water marks are 0 (no limit) on both sides, so nothing is dropped (a
// drop would still show as a wrong count). ZMQ_XPUB_NODROP with a finite high-water mark would bound
// the queue instead, but with zeromq.js 6.8 the publisher then stalls for good once the mark is
// reached (seen here at ~300,000 of 2,000,000 messages). argv: JSON ChildConfig (endpoint = ipc
// path), role 'pub' | 'sub'.
import * as zmq from 'zeromq';

import { config, exitWithParent, idle, indexAt, MESSAGE_SIZE, publisherRun, ready, Receiver, report, stampAt, stampedMessage, writeIndex } from './common.ts';

const cfg = config();
const role = process.argv[3];
exitWithParent();
const HWM = 0; // no limit
const address = `ipc://${cfg.endpoint}`;

if (role === 'pub') {
  const sock = new zmq.XPublisher({ sendHighWaterMark: HWM, linger: 30_000 });
  sock.verbosity = 'allSubs';
  await sock.bind(address);
  ready();
  for (let n = 0; n < cfg.subscribers; ) {
    const [m] = await sock.receive();
    if (m![0] === 1) n++;
  }
  await publisherRun(
    cfg,
    (i) => sock.send(stampedMessage(i)),
    async () => {
      const PER_CHUNK = 1024;
      for (let i = 0; i < cfg.records; ) {
        const k = Math.min(PER_CHUNK, cfg.records - i);
        const chunk = Buffer.alloc(k * MESSAGE_SIZE);
        for (let j = 0; j < k; j++, i++) {
          writeIndex(chunk, j * MESSAGE_SIZE, i);
          await sock.send(chunk.subarray(j * MESSAGE_SIZE, (j + 1) * MESSAGE_SIZE));
        }
      }
    },
  );
  // Stays open (queued messages still go out) until the harness ends it.
} else {
  const sock = new zmq.Subscriber({ receiveHighWaterMark: HWM, linger: 0 });
  sock.connect(address);
  sock.subscribe();
  ready();
  if (cfg.mode === 'idle') {
    void (async () => {
      for await (const m of sock) void m;
    })();
    await idle(() => sock.close());
  } else {
    const rec = new Receiver(cfg);
    rec.finishOnTerm(() => sock.close());
    const latency = cfg.mode === 'latency';
    for await (const [m] of sock) {
      rec.add(indexAt(m!, 0), latency ? Number(process.hrtime.bigint() - stampAt(m!, 0)) : 0);
      if (rec.done) break;
    }
    rec.mark();
    report(rec.result());
    sock.close();
    process.exit(0);
  }
}
