// The bridge's configuration: a small JSON file or command-line flags, checked strictly (an unknown
// key, a wrong type or a bad name is a BRIDGE_E_CONFIG error naming it). See docs/bridge.md.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';

import { checkChannelName, defaultDir, type Policy } from '@mmbus/core';
import { MmbusError } from '@mmbus/runtime';

import { BridgeError } from './errors.js';
import { ENCODINGS, type Encoding } from './wire.js';

export const DEFAULTS = {
  name: 'bridge',
  servers: ['nats://127.0.0.1:4222'],
  reconnectWaitMs: 250,
  /** How long a JetStream publish may stay unacknowledged before the bridge sends it again. */
  ackTimeoutMs: 5000,
  /** NATS's own default: a resent record is recognised as a duplicate for 2 minutes. */
  duplicateWindowMs: 120_000,
  batch: 1024,
  start: 'oldest',
  statsIntervalMs: 1000,
  /** How long a stop waits for the batch in flight to be acknowledged by NATS. */
  drainTimeoutMs: 5000,
} as const;

const BATCH_MAX = 65536;
/** A bridge name: part of durable subscriber names (63 bytes at most) and of file names. */
const BRIDGE_NAME = /^[A-Za-z0-9_-]{1,40}$/;
const SUB_NAME_MAX = 63;
/** JetStream stream names: no '.', '*', '>', whitespace or path separators. */
const STREAM_NAME = /^[A-Za-z0-9_-]{1,255}$/;
/** KV bucket names (the nats client's rule); the bucket's stream is KV_<bucket>. */
const BUCKET_NAME = /^[A-Za-z0-9_-]{1,252}$/;
/** The most keys a keyed channel has (KEY_COUNT_MAX of @mmbus/core: 2^24). */
const KEYS_MAX = 2 ** 24;

/** The subjects of a KV bucket's keys: `$KV.<bucket>.<key>`. */
export function kvPrefix(bucket: string): string {
  return `$KV.${bucket}`;
}

export interface NatsOptions {
  servers: string[];
  user?: string;
  pass?: string;
  token?: string;
  reconnectWaitMs: number;
  ackTimeoutMs: number;
}

export interface JetStreamOptions {
  /** The stream that captures the route's subject. */
  stream: string;
  /** Create the stream (file storage, the route's subject) when it does not exist. */
  create: boolean;
  /** Its duplicate window, when the bridge creates it. */
  duplicateWindowMs: number;
}

interface RouteBase {
  channel: string;
  subject: string;
  encoding: Encoding;
  /** Message type (schema name in @mmbus/messages); default: the channel file's schema. */
  type?: string;
  /** out: most records per mmbus batch (and per NATS flush); in: most records per publishBatch. */
  batch: number;
}

/** mmbus → NATS: a durable subscriber of `channel` publishing to `subject`. */
export interface OutRouteConfig extends RouteBase {
  direction: 'out';
  /** The durable subscriber's name (default `nats.<bridge name>`): its cursor is where a restart resumes. */
  durable: string;
  /** Where a durable subscriber seen for the first time starts. */
  start: 'oldest' | 'newest';
  /** Publish to JetStream (acknowledged, de-duplicated); null: core NATS. */
  jetstream: JetStreamOptions | null;
}

/**
 * NATS → mmbus: a subscription of `subject` (wildcards allowed) publishing into `channel`; or, with
 * `bucket`, a KV bucket's values (each key's latest, then every put) into a keyed channel, `subject`
 * then being `$KV.<bucket>.>`.
 */
export interface InRouteConfig extends RouteBase {
  direction: 'in';
  /** Read this KV bucket (key names: the decimal key of the keyed channel) instead of a subject. */
  bucket?: string;
  /** With `bucket`: create the bucket when missing (history 1, file storage). */
  create?: boolean;
  /** When the bridge creates the channel (with `type`; a bucket's needs a keyed channel): its number of keys. */
  keys?: number;
  /** A NATS queue group: bridges sharing it split the messages. */
  queue?: string;
  /** When the bridge creates the channel (it needs `type` then). */
  capacity?: number;
  policy?: Policy;
}

/**
 * mmbus → a JetStream KV bucket: a durable keyed subscriber of `channel` (a keyed channel) putting each
 * key's latest value to `$KV.<bucket>.<key>` (the key in decimal); `subject` is `$KV.<bucket>.>`.
 */
export interface KvRouteConfig extends RouteBase {
  direction: 'kv';
  bucket: string;
  /** The durable subscriber's name (default `kv.<bridge name>`). */
  durable: string;
  /** Create the bucket (history 1, file storage) when it does not exist. */
  create: boolean;
  /** When the bridge creates the channel (it needs `type` then): its number of keys. */
  keys?: number;
}

/** The routes that read a channel and publish to NATS (a stream or a bucket). */
export type ForwardRouteConfig = OutRouteConfig | KvRouteConfig;

export type RouteConfig = OutRouteConfig | InRouteConfig | KvRouteConfig;

export interface BridgeConfig {
  name: string;
  /** Channel directory. */
  dir: string;
  /** This host in JetStream message ids (default: the host name). */
  origin: string;
  nats: NatsOptions;
  routes: RouteConfig[];
  /** Where the running bridge keeps its stats (for `mmbus bridge stat`); default <dir>/<name>.bridge.json. */
  statsFile: string;
  statsIntervalMs: number;
  drainTimeoutMs: number;
}

/** Where a bridge keeps its stats unless told otherwise: next to its channels. */
export function defaultStatsFile(dir: string, name: string): string {
  return join(dir, `${name}.bridge.json`);
}

// ---- checking --------------------------------------------------------------------------------------

type Obj = Record<string, unknown>;

function fail(where: string, why: string): never {
  throw new BridgeError('BRIDGE_E_CONFIG', `${where}: ${why}`);
}

function object(v: unknown, where: string, keys: readonly string[]): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(where, `expected an object, got ${JSON.stringify(v)}`);
  for (const k of Object.keys(v)) if (!keys.includes(k)) fail(where, `unknown key '${k}' (keys: ${keys.join(', ')})`);
  return v as Obj;
}

function str(o: Obj, k: string, where: string): string | undefined {
  const v = o[k];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v === '') fail(`${where}.${k}`, `expected a non-empty string, got ${JSON.stringify(v)}`);
  return v;
}

function int(o: Obj, k: string, where: string, min: number, max: number): number | undefined {
  const v = o[k];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) fail(`${where}.${k}`, `expected an integer in ${min}..${max}, got ${JSON.stringify(v)}`);
  return v;
}

function bool(o: Obj, k: string, where: string): boolean | undefined {
  const v = o[k];
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') fail(`${where}.${k}`, `expected true or false, got ${JSON.stringify(v)}`);
  return v;
}

function oneOf<T extends string>(o: Obj, k: string, where: string, values: readonly T[]): T | undefined {
  const v = o[k];
  if (v === undefined) return undefined;
  if (!values.includes(v as T)) fail(`${where}.${k}`, `expected one of ${values.join(', ')}, got ${JSON.stringify(v)}`);
  return v as T;
}

/** A NATS subject: dot-separated non-empty tokens without whitespace; wildcards only where allowed. */
export function checkSubject(subject: string, where: string, wildcards: boolean): void {
  const tokens = subject.split('.');
  tokens.forEach((t, i) => {
    if (t === '' || /\s/.test(t)) fail(where, `'${subject}' is not a NATS subject (empty token or whitespace)`);
    const wild = t === '*' || t === '>';
    if (!wild && (t.includes('*') || t.includes('>'))) fail(where, `'${subject}': a wildcard must be a whole token`);
    if (wild && !wildcards) fail(where, `'${subject}': a subject the bridge publishes to cannot have wildcards`);
    if (t === '>' && i !== tokens.length - 1) fail(where, `'${subject}': '>' must be the last token`);
  });
}

function channelName(o: Obj, where: string): string {
  const name = str(o, 'channel', where) ?? fail(where, "'channel' is required");
  try {
    checkChannelName(name);
  } catch (err) {
    if (err instanceof MmbusError) fail(`${where}.channel`, `'${name}' is not a channel name (${err.message})`);
    throw err;
  }
  return name;
}

const ROUTE_KEYS = ['direction', 'channel', 'subject', 'encoding', 'type', 'batch'];
const OUT_KEYS = [...ROUTE_KEYS, 'durable', 'start', 'jetstream'];
const IN_KEYS = [...ROUTE_KEYS, 'queue', 'capacity', 'policy', 'bucket', 'create', 'keys'];
const KV_KEYS = ['direction', 'channel', 'bucket', 'encoding', 'type', 'batch', 'durable', 'create', 'keys'];

function kvRoute(o: Obj, where: string, bridgeName: string): KvRouteConfig {
  const channel = channelName(o, where);
  const bucket = str(o, 'bucket', where) ?? fail(where, "'bucket' is required");
  if (!BUCKET_NAME.test(bucket)) fail(`${where}.bucket`, `'${bucket}' is not a KV bucket name (letters, digits, _ and -)`);
  const type = str(o, 'type', where);
  const keys = int(o, 'keys', where, 1, KEYS_MAX);
  const durable = str(o, 'durable', where) ?? `kv.${bridgeName}`;
  if (Buffer.byteLength(durable) > SUB_NAME_MAX) fail(`${where}.durable`, `'${durable}' is longer than ${SUB_NAME_MAX} bytes`);
  return {
    direction: 'kv',
    channel,
    subject: `${kvPrefix(bucket)}.>`,
    encoding: oneOf(o, 'encoding', where, ENCODINGS) ?? 'raw',
    ...(type === undefined ? {} : { type }),
    batch: int(o, 'batch', where, 1, BATCH_MAX) ?? DEFAULTS.batch,
    bucket,
    durable,
    create: bool(o, 'create', where) ?? true,
    ...(keys === undefined ? {} : { keys }),
  };
}

function route(v: unknown, where: string, bridgeName: string): RouteConfig {
  const peek = object(v, where, [...new Set([...OUT_KEYS, ...IN_KEYS, ...KV_KEYS])]);
  const direction = peek['direction'];
  if (direction === 'kv') return kvRoute(object(v, where, KV_KEYS), where, bridgeName);
  if (direction !== 'out' && direction !== 'in') {
    fail(`${where}.direction`, `expected 'out' (mmbus → NATS), 'in' (NATS → mmbus) or 'kv' (a keyed channel → a KV bucket), got ${JSON.stringify(direction)}`);
  }
  const o = object(v, where, direction === 'out' ? OUT_KEYS : IN_KEYS);
  const channel = channelName(o, where);
  const bucket = direction === 'in' ? str(o, 'bucket', where) : undefined;
  if (bucket !== undefined) {
    if (!BUCKET_NAME.test(bucket)) fail(`${where}.bucket`, `'${bucket}' is not a KV bucket name (letters, digits, _ and -)`);
    for (const k of ['subject', 'queue']) if (o[k] !== undefined) fail(`${where}.${k}`, `a route that reads a bucket has no '${k}' (its subjects are ${kvPrefix(bucket)}.<key>)`);
  } else {
    for (const k of ['create', 'keys']) if (o[k] !== undefined) fail(`${where}.${k}`, `'${k}' belongs to a route that reads a bucket ('bucket')`);
  }
  const subject = bucket !== undefined ? `${kvPrefix(bucket)}.>` : (str(o, 'subject', where) ?? fail(where, direction === 'in' ? "'subject' (or 'bucket') is required" : "'subject' is required"));
  checkSubject(subject, `${where}.subject`, direction === 'in');
  const type = str(o, 'type', where);
  const base: RouteBase = {
    channel,
    subject,
    encoding: oneOf(o, 'encoding', where, ENCODINGS) ?? 'raw',
    ...(type === undefined ? {} : { type }),
    batch: int(o, 'batch', where, 1, BATCH_MAX) ?? DEFAULTS.batch,
  };
  if (direction === 'in') {
    const queue = str(o, 'queue', where);
    if (queue !== undefined) checkSubject(queue, `${where}.queue`, false);
    const capacity = int(o, 'capacity', where, 2, 2 ** 32);
    if (capacity !== undefined && !Number.isInteger(Math.log2(capacity))) fail(`${where}.capacity`, `${capacity} is not a power of two`);
    const policy = oneOf(o, 'policy', where, ['block', 'reject', 'overwrite'] as const);
    const create = bool(o, 'create', where);
    const keys = int(o, 'keys', where, 1, KEYS_MAX);
    return {
      direction,
      ...base,
      ...(bucket === undefined ? {} : { bucket, create: create ?? true }),
      ...(keys === undefined ? {} : { keys }),
      ...(queue === undefined ? {} : { queue }),
      ...(capacity === undefined ? {} : { capacity }),
      ...(policy === undefined ? {} : { policy }),
    };
  }
  const durable = str(o, 'durable', where) ?? `nats.${bridgeName}`;
  if (Buffer.byteLength(durable) > SUB_NAME_MAX) fail(`${where}.durable`, `'${durable}' is longer than ${SUB_NAME_MAX} bytes`);
  let jetstream: JetStreamOptions | null = null;
  if (o['jetstream'] !== undefined && o['jetstream'] !== false) {
    const j = object(o['jetstream'], `${where}.jetstream`, ['stream', 'create', 'duplicateWindowMs']);
    const stream = str(j, 'stream', `${where}.jetstream`) ?? fail(`${where}.jetstream`, "'stream' is required");
    if (!STREAM_NAME.test(stream)) fail(`${where}.jetstream.stream`, `'${stream}' is not a stream name (letters, digits, _ and -)`);
    jetstream = {
      stream,
      create: bool(j, 'create', `${where}.jetstream`) ?? true,
      duplicateWindowMs: int(j, 'duplicateWindowMs', `${where}.jetstream`, 1000, 2 ** 40) ?? DEFAULTS.duplicateWindowMs,
    };
  }
  return { direction, ...base, durable, start: oneOf(o, 'start', where, ['oldest', 'newest'] as const) ?? DEFAULTS.start, jetstream };
}

const TOP_KEYS = ['name', 'dir', 'origin', 'nats', 'routes', 'statsFile', 'statsIntervalMs', 'drainTimeoutMs'];
const NATS_KEYS = ['servers', 'user', 'pass', 'token', 'reconnectWaitMs', 'ackTimeoutMs'];

/** Checks a configuration (the parsed JSON file, or what the flags make); `source` names it in errors. */
export function parseConfig(v: unknown, source = 'config'): BridgeConfig {
  const o = object(v, source, TOP_KEYS);
  const name = str(o, 'name', source) ?? DEFAULTS.name;
  if (!BRIDGE_NAME.test(name)) fail(`${source}.name`, `'${name}' is not a bridge name (1..40 of A-Z a-z 0-9 _ -)`);
  const dir = resolve(str(o, 'dir', source) ?? defaultDir());
  const n = object(o['nats'] ?? {}, `${source}.nats`, NATS_KEYS);
  let servers: string[] = [...DEFAULTS.servers];
  if (n['servers'] !== undefined) {
    const s = typeof n['servers'] === 'string' ? [n['servers']] : n['servers'];
    if (!Array.isArray(s) || s.length === 0 || !s.every((x) => typeof x === 'string' && x !== '')) {
      fail(`${source}.nats.servers`, `expected a URL or a non-empty list of URLs, got ${JSON.stringify(n['servers'])}`);
    }
    servers = s as string[];
  }
  const credentials: Pick<NatsOptions, 'user' | 'pass' | 'token'> = {};
  for (const k of ['user', 'pass', 'token'] as const) {
    const v = str(n, k, `${source}.nats`);
    if (v !== undefined) credentials[k] = v;
  }
  const nats: NatsOptions = {
    servers,
    ...credentials,
    reconnectWaitMs: int(n, 'reconnectWaitMs', `${source}.nats`, 10, 600_000) ?? DEFAULTS.reconnectWaitMs,
    ackTimeoutMs: int(n, 'ackTimeoutMs', `${source}.nats`, 100, 600_000) ?? DEFAULTS.ackTimeoutMs,
  };
  const routeList = o['routes'];
  if (!Array.isArray(routeList) || routeList.length === 0) fail(`${source}.routes`, 'expected a non-empty list of routes');
  const routes = routeList.map((r, i) => route(r, `${source}.routes[${i}]`, name));
  const durables = new Set<string>();
  for (const r of routes) {
    if (r.direction === 'in') continue;
    const k = `${r.channel}\u0000${r.durable}`;
    if (durables.has(k)) fail(`${source}.routes`, `two routes forward channel '${r.channel}' with durable subscriber '${r.durable}': give each its own 'durable'`);
    durables.add(k);
  }
  return {
    name,
    dir,
    origin: str(o, 'origin', source) ?? hostname(),
    nats,
    routes,
    statsFile: resolve(str(o, 'statsFile', source) ?? defaultStatsFile(dir, name)),
    statsIntervalMs: int(o, 'statsIntervalMs', source, 100, 3_600_000) ?? DEFAULTS.statsIntervalMs,
    drainTimeoutMs: int(o, 'drainTimeoutMs', source, 0, 600_000) ?? DEFAULTS.drainTimeoutMs,
  };
}

function readJson(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new BridgeError('BRIDGE_E_CONFIG', `cannot read ${file}: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new BridgeError('BRIDGE_E_CONFIG', `${file} is not JSON: ${(err as Error).message}`);
  }
  return json;
}

/** Reads and checks a JSON configuration file. */
export function loadConfig(file: string): BridgeConfig {
  return parseConfig(readJson(file), file);
}

/** What `mmbus bridge run` takes on its command line (see packages/cli/src/commands/bridge.ts). */
export interface BridgeFlags {
  config?: string;
  server?: string[];
  out?: string[];
  in?: string[];
  kv?: string[];
  kvIn?: string[];
  encoding?: string;
  stream?: string;
  type?: string;
  name?: string;
  dir?: string;
  origin?: string;
  statsFile?: string;
  statsInterval?: number;
}

/** `channel=subject` of --out and --in (`channel=bucket` of --kv). */
function routeFlag(flag: '--out' | '--in' | '--kv' | '--kv-in', value: string): { channel: string; subject: string } {
  const eq = value.indexOf('=');
  if (eq <= 0 || eq === value.length - 1) fail(flag, `expected <channel>=<${flag.startsWith('--kv') ? 'bucket' : 'subject'}>, got '${value}'`);
  return { channel: value.slice(0, eq), subject: value.slice(eq + 1) };
}

/**
 * The configuration of the flags: the --config file if given, its name, dir, origin, servers and
 * stats file overridden by the flags, and one route per --out / --in / --kv (with --encoding, --type;
 * --stream for --out).
 */
export function configFromFlags(f: BridgeFlags): BridgeConfig {
  const base = (f.config ? readJson(f.config) : {}) as Obj;
  if (f.config) parseConfig(base, f.config); // its own errors first, naming the file
  const routes = [...((base['routes'] as unknown[] | undefined) ?? [])];
  const common = { ...(f.encoding ? { encoding: f.encoding } : {}), ...(f.type ? { type: f.type } : {}) };
  for (const v of f.out ?? []) routes.push({ direction: 'out', ...routeFlag('--out', v), ...common, ...(f.stream ? { jetstream: { stream: f.stream } } : {}) });
  for (const v of f.in ?? []) routes.push({ direction: 'in', ...routeFlag('--in', v), ...common });
  for (const v of f.kv ?? []) {
    const { channel, subject: bucket } = routeFlag('--kv', v);
    routes.push({ direction: 'kv', channel, bucket, ...common });
  }
  for (const v of f.kvIn ?? []) {
    const { channel, subject: bucket } = routeFlag('--kv-in', v);
    routes.push({ direction: 'in', channel, bucket, ...common });
  }
  if (f.stream && !(f.out ?? []).length) fail('--stream', 'applies to --out routes; give at least one');
  const merged: Obj = {
    ...base,
    ...(f.name ? { name: f.name } : {}),
    ...(f.dir ? { dir: f.dir } : {}),
    ...(f.origin ? { origin: f.origin } : {}),
    ...(f.statsFile ? { statsFile: f.statsFile } : {}),
    ...(f.statsInterval !== undefined ? { statsIntervalMs: f.statsInterval } : {}),
    nats: { ...((base['nats'] as Obj | undefined) ?? {}), ...(f.server?.length ? { servers: f.server } : {}) },
    routes,
  };
  return parseConfig(merged, f.config ? `${f.config} and the flags` : 'flags');
}
