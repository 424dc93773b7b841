// A core NATS subscriber: counts the records of a subject and checks the checksum of their indexes.
//   nats-subscriber.ts <url> <subject> <n>
import { connect } from 'nats';

import { cpuUs, exitWithParent, indexOf, nowNs, report, signed } from './common.js';

const [url, subject, count] = process.argv.slice(2) as [string, string, string];
const n = Number(count);
exitWithParent();
const nc = await connect({ servers: url });
let received = 0;
let checksum = 0;
let tFirst = 0;
const c0 = cpuUs();
nc.subscribe(subject, {
  callback: (_err, m) => {
    if (received === 0) tFirst = nowNs();
    checksum += signed(indexOf(m.data));
    if (++received === n) {
      report({ received, checksum, tFirst, tLast: nowNs(), cpuUs: cpuUs() - c0 });
      void nc.close().then(() => process.exit(0));
    }
  },
});
await nc.flush();
process.stdout.write('ready\n');
process.on('SIGTERM', () => {
  report({ received, checksum, tFirst, tLast: nowNs(), cpuUs: cpuUs() - c0 });
  process.exit(0);
});
