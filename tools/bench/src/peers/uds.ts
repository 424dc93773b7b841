// Plain Unix domain socket stream peer (node:net): fixed 128-byte frames. The publisher is the server;
// it writes 64 KiB chunks (512 frames) to every subscriber and waits for 'drain' when a socket's
// buffer is full (throughput), or one 128-byte write per message (latency). argv: JSON ChildConfig
// (endpoint = socket path), role 'pub' | 'sub'.
import { once } from 'node:events';
import { createConnection, createServer, type Socket } from 'node:net';

import { config, exitWithParent, idle, indexAt, MESSAGE_SIZE, publisherRun, ready, Receiver, report, stampAt, stampedMessage, writeIndex } from './common.ts';

const cfg = config();
const role = process.argv[3];
exitWithParent();

if (role === 'pub') {
  const clients: Socket[] = [];
  let allIn: () => void = () => {};
  const connected = new Promise<void>((r) => (allIn = r));
  const server = createServer((s) => {
    s.on('error', () => {});
    clients.push(s);
    if (clients.length >= cfg.subscribers) allIn();
  });
  server.listen(cfg.endpoint);
  await once(server, 'listening');
  ready();
  await connected;
  await publisherRun(
    cfg,
    (i) => {
      const m = stampedMessage(i);
      for (const c of clients) c.write(m);
    },
    async () => {
      const PER_CHUNK = 512;
      for (let i = 0; i < cfg.records; ) {
        const k = Math.min(PER_CHUNK, cfg.records - i);
        const chunk = Buffer.alloc(k * MESSAGE_SIZE);
        for (let j = 0; j < k; j++, i++) writeIndex(chunk, j * MESSAGE_SIZE, i);
        const waits: Promise<unknown>[] = [];
        for (const c of clients) if (!c.write(chunk)) waits.push(once(c, 'drain'));
        if (waits.length) await Promise.all(waits);
      }
    },
  );
  for (const c of clients) c.end();
  server.close();
  // Exits once the sockets have flushed (the stdin watch is the only other handle).
  process.stdin.destroy();
} else {
  const sock = createConnection(cfg.endpoint);
  await once(sock, 'connect');
  ready();
  if (cfg.mode === 'idle') {
    sock.on('data', () => {});
    await idle(() => void sock.destroy());
  } else {
    const rec = new Receiver(cfg);
    rec.finishOnTerm(() => sock.destroy());
    const latency = cfg.mode === 'latency';
    const carry = Buffer.alloc(MESSAGE_SIZE);
    let carried = 0;
    const frame = (b: Buffer, o: number) => rec.add(indexAt(b, o), latency ? Number(process.hrtime.bigint() - stampAt(b, o)) : 0);
    sock.on('data', (chunk: Buffer) => {
      let off = 0;
      if (carried) {
        const need = MESSAGE_SIZE - carried;
        if (chunk.length < need) {
          chunk.copy(carry, carried);
          carried += chunk.length;
          return;
        }
        chunk.copy(carry, carried, 0, need);
        frame(carry, 0);
        off = need;
        carried = 0;
      }
      for (; off + MESSAGE_SIZE <= chunk.length; off += MESSAGE_SIZE) frame(chunk, off);
      if (off < chunk.length) {
        chunk.copy(carry, 0, off);
        carried = chunk.length - off;
      }
      if (rec.done) {
        rec.mark();
        report(rec.result());
        sock.destroy();
        process.exit(0);
      }
    });
  }
}
