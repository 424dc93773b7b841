// Publishes N Person records into a channel with publishBatch (the bridge's input), once told `go`.
//   mmbus-publisher.ts <dir> <channel> <n>
import { openChannel } from '@mmbus/core';
import { Person } from '@mmbus/messages';

import { cpuUs, exitWithParent, nowNs, report } from './common.js';

const [dir, name, count] = process.argv.slice(2) as [string, string, string];
const n = Number(count);
exitWithParent();
const ch = openChannel(name, Person, { dir });
process.stdout.write('ready\n');
process.stdin.once('data', () => {
  const c0 = cpuUs();
  const t0 = nowNs();
  ch.publishBatch(n, (r, i) => r.assign({ index: BigInt(i), name: `person-${i}`, age: i % 100 }), 1024);
  report({ tStart: t0, tEnd: nowNs(), cpuUs: cpuUs() - c0 });
  ch.close();
  process.exit(0);
});
