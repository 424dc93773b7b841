// `mmbus bridge run|stat`: the flags of @mmbus/bridge-nats (docs/bridge.md); the bridge itself lives there.
import { Option, type Command } from 'commander';

import type { BridgeFlags } from '@mmbus/bridge-nats';

import { channelDir, CliError, EXIT_FAIL, EXIT_USAGE, parseIntOption, toJson, type DirOption } from '../common.ts';

const collect = (v: string, all: string[] = []): string[] => [...all, v];

// loaded when a bridge command runs: the other commands do not need the NATS client
const bridgeNats = (): Promise<typeof import('@mmbus/bridge-nats')> => import('@mmbus/bridge-nats');

/** A bridge error as the CLI's one-line error: configuration mistakes are bad usage (exit 2). */
async function cliError(err: unknown): Promise<unknown> {
  const { BridgeError } = await bridgeNats();
  if (!(err instanceof BridgeError)) return err;
  return new CliError(`${err.message} [${err.code}]`, err.code === 'BRIDGE_E_CONFIG' ? EXIT_USAGE : EXIT_FAIL);
}

/** Adds `bridge run` and `bridge stat` to the program (as its own commands, inheriting its error handling). */
export function bridgeCommand(program: Command, dirOption: () => Option, done: (code: number) => void): Command {
  const bridge = program.command('bridge').description('forward channels to NATS subjects and subjects into channels (@mmbus/bridge-nats)');

  bridge
    .command('run')
    .description('run a bridge until Ctrl-C / SIGTERM: routes from --config and/or --out/--in')
    .option('-c, --config <file>', 'a JSON configuration file (docs/bridge.md)')
    .option('-s, --server <url>', 'NATS server URL (repeat for several; default nats://127.0.0.1:4222)', collect)
    .option('--out <channel=subject>', 'forward a channel to a subject (mmbus → NATS; repeatable)', collect)
    .option('--in <channel=subject>', 'publish a subject (wildcards allowed) into a channel (NATS → mmbus; repeatable)', collect)
    .addOption(new Option('--encoding <encoding>', 'wire encoding of the --out/--in routes').choices(['raw', 'json']))
    .option('--stream <name>', 'publish the --out routes to this JetStream stream (created if missing): acknowledged and de-duplicated')
    .option('--type <schema>', 'message type of the --out/--in channels, to create them when missing (e.g. mmbus.PointUpdate)')
    .option('--name <name>', 'bridge name: durable subscriber nats.<name>, stats file <dir>/<name>.bridge.json (default bridge)')
    .addOption(dirOption())
    .option('--origin <id>', 'this host in JetStream message ids (default: the host name)')
    .option('--stats-file <file>', 'where to keep the stats (default <dir>/<name>.bridge.json)')
    .option('--stats-interval <ms>', 'how often the stats file is rewritten', parseIntOption('--stats-interval', 100))
    .addHelpText('after', '\nExamples:\n  mmbus bridge run --out points=plant.points --stream POINTS\n  mmbus bridge run --in commands=plant.commands.* --encoding json --type mmbus.PointUpdate\n  mmbus bridge run --config bridge.json')
    .action(async (opts: BridgeFlags & DirOption) => {
      const { configFromFlags, runBridge } = await bridgeNats();
      try {
        const config = configFromFlags(opts); // --dir, else the file's, else core's default (which reads $MMBUS_DIR)
        done(await runBridge(config, { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t) }));
      } catch (err) {
        throw await cliError(err);
      }
    });

  bridge
    .command('stat')
    .description("a running (or stopped) bridge's stats: connection, and per route forwarded, acknowledged, duplicates, refused, lag")
    .argument('[name]', 'bridge name', 'bridge')
    .addOption(dirOption())
    .option('--stats-file <file>', 'the stats file (default <dir>/<name>.bridge.json)')
    .option('--json', 'the stats file as is')
    .addHelpText('after', '\nExit 0 when the bridge is running, 1 when it stopped, looks dead, or has no stats file.')
    .action(async (name: string, opts: DirOption & { statsFile?: string; json?: boolean }) => {
      const { defaultStatsFile, formatStats, isLive, readStatsFile } = await bridgeNats();
      let stats;
      try {
        stats = readStatsFile(opts.statsFile ?? defaultStatsFile(channelDir(opts), name));
      } catch (err) {
        throw await cliError(err);
      }
      process.stdout.write(opts.json ? `${toJson(stats)}\n` : formatStats(stats));
      done(isLive(stats) ? 0 : EXIT_FAIL);
    });

  return bridge;
}
