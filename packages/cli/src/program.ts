// The `mmbus` command line: commander wiring, exit codes and one-line errors.
// Each command's module (and @mmbus/core with it) is loaded when the command runs: `mmbus --help`
// loads commander and common.ts only.
import { createRequire } from 'node:module';

import { Command, CommanderError, Option } from 'commander';

import { CliError, describeError, EXIT_FAIL, EXIT_USAGE, parseIntOption } from './common.js';

const { version } = createRequire(import.meta.url)('../package.json') as { version: string };

const EXIT_CODES_HELP = `
Exit codes:
  0  ok
  1  problem found or operation failed (missing channel, corrupt or foreign file, schema mismatch, doctor findings, rm refused)
  2  bad usage (unknown command or option, bad option value)

The channel directory: --dir, else $MMBUS_DIR, else $XDG_RUNTIME_DIR/mmbus, else <tmpdir>/mmbus-<uid>.
A <channel> is a channel name in that directory, or a path to its .db file.`;

const collect = (v: string, all: string[] = []): string[] => [...all, v];

function dirOption(): Option {
  return new Option('-d, --dir <dir>', 'channel directory (default: $MMBUS_DIR, else $XDG_RUNTIME_DIR/mmbus, else <tmpdir>/mmbus-<uid>)');
}

export function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command('mmbus')
    .description('inspect and operate mmbus channels (memory-mapped pub/sub files)')
    .version(version)
    .option('--no-color', 'no colours (also NO_COLOR=1)')
    .exitOverride()
    .showSuggestionAfterError()
    .configureOutput({ outputError: (str, write) => write(`mmbus: ${str}`) })
    .addHelpText('after', EXIT_CODES_HELP);

  const done = (code: number): void => setExit(code);

  program
    .command('ls')
    .description('list the channels of a directory: schema, size, records published, publishers, subscribers, worst lag')
    .argument('[dir]', 'channel directory (overrides --dir)')
    .addOption(dirOption())
    .option('--json', 'one JSON document')
    .action(async (dir: string | undefined, opts) => done((await import('./commands/ls.js')).lsCommand(dir, opts)));

  program
    .command('stat')
    .description("a channel's header and every subscriber: name, pid, state, cursor, lag, lost, heartbeat age")
    .argument('<channel>', 'channel name or path to its .db file')
    .addOption(dirOption())
    .option('--json', 'one JSON document')
    .action(async (channel: string, opts) => done((await import('./commands/stat.js')).statCommand(channel, opts)));

  program
    .command('tail')
    .description('print the newest records, decoded; -f follows new ones (reads without subscribing)')
    .argument('<channel>', 'channel name or path to its .db file')
    .addOption(dirOption())
    .option('-n, --lines <n>', 'how many of the newest records', parseIntOption('--lines', 0), 10)
    .option('-f, --follow', 'keep printing records as they are published (Ctrl-C to stop)')
    .option('--json', 'JSON lines ({"seq":N,"record":{...}}; 64-bit integers as strings) instead of a table')
    .option('--schema <file.fbs>', 'decode with this schema instead of the generated types of @mmbus/messages')
    .addOption(new Option('--interval <ms>', 'poll period with -f').argParser(parseIntOption('--interval', 1)).default(100))
    .action(async (channel: string, opts) => done(await (await import('./commands/tail.js')).tailCommand(channel, opts)));

  program
    .command('watch')
    .description('live view, refreshed every second: rate per channel with a sparkline, lag per subscriber')
    .argument('[dir]', 'channel directory (overrides --dir)')
    .addOption(dirOption())
    .option('--interval <ms>', 'refresh period', parseIntOption('--interval', 10), 1000)
    .option('--once', 'print one frame and exit')
    .option('--iterations <n>', 'print n frames and exit', parseIntOption('--iterations', 1))
    .action(async (dir: string | undefined, opts) => done(await (await import('./commands/watch.js')).watchCommand(dir, opts)));

  program
    .command('publish')
    .description('publish records by hand: --json \'{...}\' (an object or an array) or JSON lines on stdin')
    .argument('<channel>', 'channel name or path to its .db file')
    .addOption(dirOption())
    .option('--json <json>', 'the record(s) as JSON')
    .option('--schema <file.fbs>', 'encode with this schema instead of the generated types of @mmbus/messages')
    .option('--type <name>', 'create the channel if missing, for this schema type (e.g. mmbus.Person)')
    .option('--capacity <n>', 'ring capacity when the channel is created (a power of two)', parseIntOption('--capacity', 1))
    .addHelpText('after', '\n64-bit integer fields take a number or a string of digits. Example:\n  mmbus publish people --json \'{"index": "42", "name": "Ada", "age": 36}\'')
    .action(async (channel: string, opts) => done(await (await import('./commands/publish.js')).publishCommand(channel, opts)));

  program
    .command('gc')
    .description("reclaim dead subscribers' and publishers' slots now; prints how many")
    .argument('<channel>', 'channel name or path to its .db file')
    .addOption(dirOption())
    .action(async (channel: string, opts) => done((await import('./commands/manage.js')).gcCommand(channel, opts)));

  program
    .command('rm')
    .description('remove a channel file; refused while live publishers or subscribers use it')
    .argument('<channel>', 'channel name or path to its .db file')
    .addOption(dirOption())
    .option('-f, --force', 'remove even when in use, or when the file is not a valid channel')
    .action(async (channel: string, opts) => done((await import('./commands/manage.js')).rmCommand(channel, opts)));

  program
    .command('doctor')
    .description('check every channel file of a directory: header, schema, cursors, dead subscribers')
    .argument('[dir]', 'channel directory (overrides --dir)')
    .addOption(dirOption())
    .option('--json', 'one JSON document')
    .option('--strict', 'warnings (unknown schema, dead subscribers) fail too')
    .addHelpText('after', '\nExit 0 when no errors were found (warnings are listed), 1 when any was (or any warning, with --strict).')
    .action(async (dir: string | undefined, opts) => done((await import('./commands/doctor.js')).doctorCommand(dir, opts)));

  const bridge = program.command('bridge').description('forward channels to NATS subjects and subjects into channels (@mmbus/bridge-nats)');
  bridge
    .command('run')
    .description('run a bridge until Ctrl-C / SIGTERM: routes from --config and/or --out/--in/--kv/--kv-in')
    .option('-c, --config <file>', 'a JSON configuration file (docs/bridge.md)')
    .option('-s, --server <url>', 'NATS server URL (repeat for several; default nats://127.0.0.1:4222)', collect)
    .option('--out <channel=subject>', 'forward a channel to a subject (mmbus → NATS; repeatable)', collect)
    .option('--in <channel=subject>', 'publish a subject (wildcards allowed) into a channel (NATS → mmbus; repeatable)', collect)
    .option('--kv <channel=bucket>', "keep a keyed channel's latest value per key in a JetStream KV bucket (created if missing; repeatable)", collect)
    .option('--kv-in <channel=bucket>', "publish a KV bucket's values (each key's latest, then every put) into a keyed channel (repeatable)", collect)
    .addOption(new Option('--encoding <encoding>', 'wire encoding of the --out/--in/--kv/--kv-in routes').choices(['raw', 'json']))
    .option('--stream <name>', 'publish the --out routes to this JetStream stream (created if missing): acknowledged and de-duplicated')
    .option('--type <schema>', 'message type of the routes\' channels, to create them when missing (e.g. mmbus.PointUpdate)')
    .option('--name <name>', 'bridge name: durable subscriber nats.<name>, stats file <dir>/<name>.bridge.json (default bridge)')
    .addOption(dirOption())
    .option('--origin <id>', 'this host in JetStream message ids (default: the host name)')
    .option('--stats-file <file>', 'where to keep the stats (default <dir>/<name>.bridge.json)')
    .option('--stats-interval <ms>', 'how often the stats file is rewritten', parseIntOption('--stats-interval', 100))
    .addHelpText('after', '\nExamples:\n  mmbus bridge run --out points=plant.points --stream POINTS\n  mmbus bridge run --in commands=plant.commands.* --encoding json --type mmbus.PointUpdate\n  mmbus bridge run --kv points=points\n  mmbus bridge run --config bridge.json')
    .action(async (opts) => done(await (await import('./commands/bridge.js')).bridgeRunCommand(opts)));
  bridge
    .command('stat')
    .description("a running (or stopped) bridge's stats: connection, and per route forwarded, acknowledged, duplicates, refused, lag")
    .argument('[name]', 'bridge name', 'bridge')
    .addOption(dirOption())
    .option('--stats-file <file>', 'the stats file (default <dir>/<name>.bridge.json)')
    .option('--json', 'the stats file as is')
    .addHelpText('after', '\nExit 0 when the bridge is running, 1 when it stopped, looks dead, or has no stats file.')
    .action(async (name: string, opts) => done((await import('./commands/bridge.js')).bridgeStatCommand(name, opts)));

  program
    .command('serve')
    .description('serve a channel directory to browsers: the live page at http://HOST:PORT/, the WebSocket protocol of docs/web.md')
    .argument('[dir]', 'channel directory (overrides --dir)')
    .addOption(dirOption())
    .option('--host <host>', 'address to listen on (anything but loopback makes the channels reachable from other hosts)', '127.0.0.1')
    .option('--port <port>', 'port (0: any free one)', parseIntOption('--port', 0), 8377)
    .option('--token <token>', 'clients must give this token (?token=); also $MMBUS_WEB_TOKEN')
    .option('--schema <file.fbs...>', 'also serve channels of these schemas')
    .option('--fps <n>', 'value frames per second per client, at most', parseIntOption('--fps', 1), 20)
    .addHelpText('after', '\nPrints the page\'s URL (with the token). Ctrl-C stops it.')
    .action(async (dir: string | undefined, opts) => done(await (await import('./commands/serve.js')).serveCommand(dir, opts)));

  for (const c of program.commands) c.addHelpText('after', EXIT_CODES_HELP);
  return program;
}

/** Runs the command line (argv without node and script); resolves with the exit code. */
export async function run(argv: readonly string[]): Promise<number> {
  let code = 0;
  const program = buildProgram((c) => (code = c));
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
      // commander.executeSubCommandAsync etc. never happen here; every other code is a usage error
      return err.exitCode === 0 ? 0 : EXIT_USAGE;
    }
    if (err instanceof CliError) {
      process.stderr.write(`mmbus: error: ${err.message}\n`);
      return err.exitCode;
    }
    process.stderr.write(`mmbus: error: ${describeError(err)}\n`);
    return EXIT_FAIL;
  }
}
