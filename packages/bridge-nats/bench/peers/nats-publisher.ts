// A plain Node program publishing the same N records to NATS directly (what a user would write
// without mmbus), once told `go`:
//   core-bare  nc.publish(record), flushed every 1024
//   core       the same with the headers the bridge sends (schema, fingerprint, size, channel, seq, encoding)
//   jetstream  js.publish(record, { msgID, headers }), 1024 in flight, every PubAck awaited
//   nats-publisher.ts <url> <subject> <n> <mode>
import { Person } from '@mmbus/messages';
import { connect } from 'nats';

import { messageId, RecordCodec, type RecordClass } from '../../src/index.js';
import { cpuUs, exitWithParent, nowNs, recordBytes, report } from './common.js';

const [url, subject, count, mode] = process.argv.slice(2) as [string, string, string, 'core-bare' | 'core' | 'jetstream'];
const n = Number(count);
const WINDOW = 1024;
exitWithParent();
const nc = await connect({ servers: url });
const js = nc.jetstream();
const codec = new RecordCodec(Person as unknown as RecordClass, 'raw');
const rec = new Person();
process.stdout.write('ready\n');
process.stdin.once('data', () => void run());

async function run(): Promise<void> {
  const c0 = cpuUs();
  const t0 = nowNs();
  for (let b = 0; b < n; b += WINDOW) {
    const end = Math.min(n, b + WINDOW);
    if (mode === 'jetstream') {
      const acks = [];
      for (let i = b; i < end; i++) {
        acks.push(js.publish(subject, recordBytes(i, rec).slice(), { msgID: messageId('bench', 'people', 0, i), headers: codec.headers('people', i) }));
      }
      await Promise.all(acks);
    } else {
      for (let i = b; i < end; i++) nc.publish(subject, recordBytes(i, rec).slice(), mode === 'core' ? { headers: codec.headers('people', i) } : undefined);
      await nc.flush();
    }
  }
  report({ tStart: t0, tEnd: nowNs(), cpuUs: cpuUs() - c0 });
  await nc.close();
  process.exit(0);
}
