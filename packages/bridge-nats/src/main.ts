// The bridge as a process, from a configuration file: `node --import tsx src/main.ts bridge.json`.
// What `mmbus bridge run --config FILE` does; the tests and the benchmark start this one.
import { loadConfig } from './config.ts';
import { runBridge } from './bridge.ts';

process.exitCode = await runBridge(loadConfig(process.argv[2]!), {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
});
