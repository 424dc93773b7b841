#!/usr/bin/env node
// npm start: the reference scenario of mmbus, end to end.
//
// collector-host (C++) loads libcollector.so with dlopen; the library publishes the start-up burst
// (every point from 0 to its first value) and then steady changes on the `points` channel. A TS "web
// back end" (examples-cpp/ts/web-backend.ts) subscribes durably, keeps the latest value of every point
// and shows a live progress line. At the end the script compares every point's final value with what
// the collector reports it published, prints the burst's time and rate, and exits 0 only if nothing
// was lost. Builds what is missing first. The channel lives in the default channel directory (or
// --dir), printed at the start, so that `npx mmbus ...` can look into it while the demo runs; the
// channel file is removed at the end unless --keep. --web also serves the channel directory to
// browsers (@mmbus/web) while the demo runs (5 minutes unless --duration says otherwise) and prints
// the live page's URL. `npm start -- --help` lists the options.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const buildDir = join(root, 'examples-cpp', 'build');
const CHANNEL = 'points';

const color = process.stdout.isTTY && !process.env.NO_COLOR;
const paint = (code) => (s) => (color ? `\x1b[${code}m${s}\x1b[0m` : s);
const bold = paint('1');
const green = paint('32');
const red = paint('31');
const dim = paint('2');
const fmt = (n) => Math.round(n).toLocaleString('en-US');

const USAGE = `usage: npm start -- [options]

The reference scenario: a C++ collector library ("DLL", loaded by collector-host) publishes the
start-up burst of every device point into the keyed channel '${CHANNEL}', then steady changes; a
TypeScript web back end keeps every point's latest value; at the end a late subscriber gets them all
at once. Exits 0 when nothing was lost, 1 otherwise.

options:
  --points N      device points in all (default 210000)
  --devices N     devices they are spread over (default 70 when it divides --points, else 1)
  --rate N        steady changes per second after the burst (default 50000; 0: none)
  --duration S    seconds of steady changes after the burst (default 3; 300 with --web)
  --capacity N    ring size in records, a power of two (default 65536)
  --dir DIR       channel directory (default: the default channel directory, $MMBUS_DIR, else
                  $XDG_RUNTIME_DIR/mmbus, else <tmpdir>/mmbus-<uid>: where npx mmbus looks)
  --keep          leave the channel file when done (look into it with npx mmbus)
  --web           also serve the channel directory to browsers and print the live page's URL
  --web-port N    the gateway's port (default 8377)
  -h, --help      print this help and exit

While it runs, in another terminal: npx mmbus ls, npx mmbus stat ${CHANNEL}, npx mmbus watch
(add --dir DIR when you passed --dir).`;

function usage(msg) {
  console.error(`npm start: ${msg}\n${USAGE}`);
  process.exit(2);
}

let args;
try {
  args = parseArgs({
    options: {
      points: { type: 'string', default: '210000' },
      devices: { type: 'string' },
      rate: { type: 'string', default: '50000' },
      duration: { type: 'string' },
      web: { type: 'boolean', default: false },
      'web-port': { type: 'string', default: '8377' },
      capacity: { type: 'string', default: '65536' },
      dir: { type: 'string' },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }).values;
} catch (err) {
  usage(err.message);
}
if (args.help) {
  console.log(USAGE);
  process.exit(0);
}
const num = (name, min) => {
  const v = Number(args[name]);
  if (!Number.isFinite(v) || v < min) usage(`--${name} must be a number >= ${min}`);
  return v;
};
const points = num('points', 1);
const rate = num('rate', 0);
if (args.duration === undefined) args.duration = args.web ? '300' : '3';
const duration = num('duration', 0);
const webPort = num('web-port', 0);
const capacity = num('capacity', 2);
if (!Number.isInteger(points)) usage('--points must be an integer');
if ((capacity & (capacity - 1)) !== 0) usage('--capacity must be a power of two');
// points = devices x points per device: 70 devices when that divides evenly, else as given
let devices = args.devices ? num('devices', 1) : points % 70 === 0 ? 70 : 1;
if (points % devices !== 0) usage(`--points ${points} is not a multiple of --devices ${devices}`);
const perDevice = points / devices;

function run(cmd, argv, cwd = root) {
  console.log(dim(`$ ${cmd} ${argv.join(' ')}`));
  const r = spawnSync(cmd, argv, { cwd, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(red(`npm start: '${cmd} ${argv.join(' ')}' failed`));
    process.exit(1);
  }
}

// 1. build what is missing
if (!existsSync(join(root, 'packages', 'core', 'build', 'Release', 'mmbus.node'))) {
  run('npm', ['run', 'install', '-w', '@mmbus/core']);
}
if (!['runtime', 'core', 'messages', 'web'].every((p) => existsSync(join(root, 'packages', p, 'dist', 'index.js')))) {
  run('npx', ['nx', 'run-many', '-t', 'build', '-p', 'runtime', 'core', 'messages', 'web', '--outputStyle=stream']);
}
if (!existsSync(join(buildDir, 'collector-host')) || !existsSync(join(buildDir, 'libcollector.so'))) {
  run('cmake', ['-S', 'examples-cpp', '-B', 'examples-cpp/build', '-DCMAKE_BUILD_TYPE=Release']);
  run('cmake', ['--build', 'examples-cpp/build', '-j', '2']);
}

// 2. the scenario: the channel in the channel directory, the value dumps in a temporary one
const { defaultDir, inspectChannel, unlinkChannel } = await import('@mmbus/core');
let dir;
try {
  dir = args.dir === undefined ? defaultDir() : resolve(args.dir);
  if (args.dir !== undefined) mkdirSync(dir, { recursive: true, mode: 0o700 });
} catch (err) {
  console.error(red(`npm start: the channel directory: ${err.message}`));
  process.exit(1);
}
clearPreviousRun();
const scratch = mkdtempSync(join(tmpdir(), 'mmbus-start-'));
const children = new Set();
function cleanup() {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(scratch, { recursive: true, force: true });
  if (!args.keep) {
    try {
      unlinkChannel(CHANNEL, dir);
    } catch {
      // not created (it failed early), or removed already
    }
  }
}
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    cleanup();
    process.exit(130);
  });
}

/** A '${CHANNEL}' channel left by an earlier run (--keep) is removed; anything else there is refused. */
function clearPreviousRun() {
  if (!existsSync(join(dir, `${CHANNEL}.db`))) return;
  let ins;
  try {
    ins = inspectChannel(CHANNEL, dir);
  } catch (err) {
    console.error(red(`npm start: ${dir}/${CHANNEL}.db is in the way: ${err.message} [${err.code}]; remove it (npx mmbus rm --force ${CHANNEL}) or pass --dir`));
    process.exit(1);
  }
  const s = ins.stats();
  const schema = ins.info.schemaName;
  ins.close();
  if (schema !== 'mmbus.PointUpdate') {
    console.error(red(`npm start: ${dir} has a channel '${CHANNEL}' of ${schema || 'no schema'}, not the demo's: pass --dir`));
    process.exit(1);
  }
  if (s.publishersAlive + s.subscribersActive > 0) {
    console.error(red(`npm start: the channel '${CHANNEL}' in ${dir} is in use (${s.publishersAlive} publishers, ${s.subscribersActive} subscribers alive): is another demo running? Pass --dir`));
    process.exit(1);
  }
  unlinkChannel(CHANNEL, dir);
  console.log(dim(`removed the channel '${CHANNEL}' an earlier run left in ${dir}`));
}

function start(cmd, argv, stderr = 'inherit') {
  const proc = spawn(cmd, argv, { cwd: root, stdio: ['pipe', 'pipe', stderr] });
  children.add(proc);
  const lines = [];
  const waiters = [];
  createInterface({ input: proc.stdout }).on('line', (l) => {
    lines.push(l);
    for (const w of waiters.splice(0)) if (!w(l)) waiters.push(w);
  });
  const exited = new Promise((res) => proc.on('exit', (code, signal) => res({ code, signal, lines })));
  const line = (text) =>
    new Promise((res, rej) => {
      const found = lines.find((l) => l.includes(text));
      if (found) return res(found);
      waiters.push((l) => (l.includes(text) ? (res(l), true) : false));
      exited.then((e) => rej(new Error(`${cmd} exited (${e.code ?? e.signal}) before '${text}'`)));
    });
  return { proc, exited, line };
}

function lastJson(lines) {
  for (let i = lines.length - 1; i >= 0; i--) {
    if (lines[i].startsWith('{')) return JSON.parse(lines[i]);
  }
  return null;
}

let ok = false;
try {
  console.log(bold(`mmbus: ${fmt(points)} points (${devices} devices x ${fmt(perDevice)}), burst then ${fmt(rate)} changes/s for ${duration} s, ring of ${fmt(capacity)} records (block)`));
  const shape = ['--devices', String(devices), '--points-per-device', String(perDevice)];
  console.log(`channel directory: ${bold(dir)}${args.keep ? ' (the channel file is kept)' : ''}`);
  const tsValues = join(scratch, 'backend-values.bin');
  const libValues = join(scratch, 'collector-values.bin');
  const backend = start(process.execPath, [
    '--import', 'tsx', join(root, 'examples-cpp', 'ts', 'web-backend.ts'),
    '--dir', dir, ...shape, '--capacity', String(capacity), '--policy', 'block', '--dump', tsValues, '--progress',
  ]);
  await backend.line('ready');
  const host = start(join(buildDir, 'collector-host'), [
    '--dir', dir, ...shape, '--capacity', String(capacity), '--policy', 'block',
    '--rate', String(rate), '--duration', String(duration), '--dump-values', libValues, '--quiet',
  ]);
  const hint = args.dir === undefined ? '' : ` --dir ${dir}`;
  console.log(`collector publishing: look into it now with npx mmbus ls${hint}, npx mmbus stat ${CHANNEL}${hint}, npx mmbus watch${hint}`);
  let gateway = null;
  if (args.web) {
    const { startGateway } = await import('@mmbus/web');
    while (!existsSync(join(dir, `${CHANNEL}.db`))) await new Promise((r) => setTimeout(r, 20));
    gateway = await startGateway({ dir, port: webPort }); // the collector's channel describes its records
    console.log(bold(`live page: ${gateway.url}?channel=${CHANNEL}&keys=0-19,105000-105009,209990-209999`) + dim(` (the demo runs ${duration} s; Ctrl-C stops it)`));
  }
  const h = await host.exited;
  await gateway?.close();
  const hs = lastJson(h.lines);
  if (h.code !== 0 || !hs || !hs.ok) throw new Error(`collector-host failed (${h.code ?? h.signal}): ${hs?.error ?? 'no summary'}`);
  backend.proc.stdin.write(`stop ${hs.published}\n`);
  const guard = setTimeout(() => backend.proc.kill('SIGKILL'), 30_000);
  const b = await backend.exited;
  clearTimeout(guard);
  const bs = lastJson(b.lines);
  if (b.code !== 0 || !bs) throw new Error(`the web back end failed (${b.code ?? b.signal})`);

  // every point's final value, as the back end holds it, against what the library published
  const mine = new Float64Array(readFileSync(tsValues).buffer.slice(0));
  const theirs = new Float64Array(readFileSync(libValues).buffer.slice(0));
  let mismatched = 0;
  for (let i = 0; i < points; i++) if (!Object.is(mine[i], theirs[i])) mismatched++;

  // a late subscriber: joins now, after everything, and gets every point's current value at once
  const late = start(process.execPath, [
    '--import', 'tsx', join(root, 'examples-cpp', 'ts', 'late-viewer.ts'),
    '--dir', dir, '--points', String(points), '--values', libValues,
  ]);
  const l = await late.exited;
  const ls = lastJson(l.lines);
  if (l.code !== 0 || !ls) throw new Error(`the late subscriber failed (${l.code ?? l.signal})`);

  ok = mine.length === points && theirs.length === points && mismatched === 0 && bs.received === hs.published && bs.lost === 0 && bs.bad === 0 && bs.distinctPoints === points && ls.equal && ls.values === points;
  console.log('');
  console.log(bold('start-up burst'));
  console.log(`  collector published ${fmt(hs.burst)} updates in ${hs.burstMs.toFixed(1)} ms (${fmt(hs.burstMsgsPerSec)} msg/s)`);
  console.log(`  web back end had every point after ${bs.burstMs.toFixed(1)} ms (${fmt(bs.burstMsgsPerSec)} msg/s)`);
  console.log(bold('steady changes'));
  console.log(`  ${fmt(hs.changes)} changes in ${duration} s (${fmt(duration > 0 ? hs.changes / duration : 0)}/s)`);
  console.log(bold('late subscriber (keyed channel: joins after the collector stopped)'));
  console.log(`  ${fmt(ls.values)} current values in ${ls.snapshotMs} ms; equal to the collector's: ${fmt(points - ls.mismatched)}/${fmt(points)}`);
  console.log(bold('summary'));
  console.log(`  published ${fmt(hs.published)}, received ${fmt(bs.received)}, lost ${fmt(bs.lost)}, malformed ${fmt(bs.bad)}`);
  console.log(`  points with a value: ${fmt(bs.distinctPoints)}/${fmt(points)}; final values equal to the collector's: ${fmt(points - mismatched)}/${fmt(points)}`);
  console.log(`  sum of final values: back end ${bs.valueSum}, collector ${hs.valueSum}`);
  console.log(ok ? green(bold('OK: nothing lost, every point ends with the value the collector published, and a late subscriber gets them all')) : red(bold('FAILED: the back end does not hold what the collector published')));
  if (args.keep) console.log(`kept ${join(dir, `${CHANNEL}.db`)}: npx mmbus stat ${CHANNEL}${args.dir === undefined ? '' : ` --dir ${dir}`}`);
} catch (err) {
  console.error(red(`npm start: ${err.message}`));
} finally {
  cleanup();
}
process.exit(ok ? 0 : 1);
