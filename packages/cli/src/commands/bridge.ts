// `mmbus bridge run|stat`: the flags of @mmbus/bridge-nats (docs/bridge.md); the bridge itself lives
// there, loaded with this module (only by these commands: the others do not need the NATS client).
import { BridgeError, configFromFlags, defaultStatsFile, formatStats, isLive, readStatsFile, runBridge, type BridgeFlags, type BridgeStats } from '@mmbus/bridge-nats';

import { CliError, EXIT_FAIL, EXIT_USAGE, toJson, type DirOption } from '../common.js';
import { channelDir } from './open.js';

export interface BridgeStatOptions extends DirOption {
  statsFile?: string;
  json?: boolean;
}

/** A bridge error as the CLI's one-line error: configuration mistakes are bad usage (exit 2). */
function cliError(err: unknown): unknown {
  if (!(err instanceof BridgeError)) return err;
  return new CliError(`${err.message} [${err.code}]`, err.code === 'BRIDGE_E_CONFIG' ? EXIT_USAGE : EXIT_FAIL);
}

/** `mmbus bridge run`: the bridge as this process until SIGINT/SIGTERM; resolves with its exit code. */
export async function bridgeRunCommand(opts: BridgeFlags & DirOption): Promise<number> {
  try {
    const config = configFromFlags(opts); // --dir, else the file's, else core's default (which reads $MMBUS_DIR)
    return await runBridge(config, { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t) });
  } catch (err) {
    throw cliError(err);
  }
}

/** `mmbus bridge stat`: prints the stats file; 0 while the bridge runs, 1 when it stopped or looks dead. */
export function bridgeStatCommand(name: string, opts: BridgeStatOptions): number {
  let stats: BridgeStats;
  try {
    stats = readStatsFile(opts.statsFile ?? defaultStatsFile(channelDir(opts), name));
  } catch (err) {
    throw cliError(err);
  }
  process.stdout.write(opts.json ? `${toJson(stats)}\n` : formatStats(stats));
  return isLive(stats) ? 0 : EXIT_FAIL;
}
