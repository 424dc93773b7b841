// The bridge as a process, from a configuration file: `node dist/main.js bridge.json` (or src/main.ts through tsx).
// What `mmbus bridge run --config FILE` does; the tests and the benchmark start this one.
import { MmbusError } from '@mmbus/runtime';

import { runBridge } from './bridge.js';
import { loadConfig } from './config.js';
import { BridgeError } from './errors.js';

try {
  process.exitCode = await runBridge(loadConfig(process.argv[2]!), {
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
  });
} catch (err) {
  // one line, like the mmbus command: what and why, and the stable code
  const code = err instanceof BridgeError || err instanceof MmbusError ? ` [${err.code}]` : '';
  process.stderr.write(`mmbus bridge: error: ${(err as Error).message}${code}\n`);
  process.exitCode = err instanceof BridgeError && err.code === 'BRIDGE_E_CONFIG' ? 2 : 1;
}
