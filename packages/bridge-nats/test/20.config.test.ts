// The configuration: the file and the flags make the same checked config; every mistake is a
// BRIDGE_E_CONFIG error naming the key or flag; the kv direction is refused with what it needs.
import { writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

import { useScratchDir } from '@mmbus/test-kit';
import { describe, expect, it } from 'vitest';

import { BridgeError, configFromFlags, DEFAULTS, loadConfig, parseConfig, subjectMatches } from '../src/index.js';
import { findNatsServer } from '../src/nats-server.js';

let dir: string;
useScratchDir((d) => (dir = d));

const out = { direction: 'out', channel: 'points', subject: 'mmbus.points' };
const error = (f: () => unknown): BridgeError => {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(BridgeError);
    return err as BridgeError;
  }
  throw new Error('expected a BridgeError');
};

describe('configuration', () => {
  it('defaults: raw, core NATS, durable nats.<name>, oldest, stats file in the channel directory', () => {
    const c = parseConfig({ dir, routes: [out, { direction: 'in', channel: 'cmds', subject: 'mmbus.cmds.>' }] });
    expect(c).toMatchObject({
      name: 'bridge',
      dir,
      origin: hostname(),
      statsFile: join(dir, 'bridge.bridge.json'),
      statsIntervalMs: DEFAULTS.statsIntervalMs,
      nats: { servers: ['nats://127.0.0.1:4222'], reconnectWaitMs: DEFAULTS.reconnectWaitMs, ackTimeoutMs: DEFAULTS.ackTimeoutMs },
    });
    expect(c.routes[0]).toEqual({ ...out, encoding: 'raw', type: undefined, batch: DEFAULTS.batch, durable: 'nats.bridge', start: 'oldest', jetstream: null });
    expect(c.routes[1]).toMatchObject({ direction: 'in', channel: 'cmds', subject: 'mmbus.cmds.>', encoding: 'raw', batch: DEFAULTS.batch });
  });

  it('JetStream: stream, create and duplicate window', () => {
    const c = parseConfig({ dir, routes: [{ ...out, jetstream: { stream: 'POINTS' } }] });
    expect(c.routes[0]).toMatchObject({ jetstream: { stream: 'POINTS', create: true, duplicateWindowMs: 120_000 } });
    const d = parseConfig({ dir, routes: [{ ...out, jetstream: { stream: 'P', create: false, duplicateWindowMs: 5000 } }] });
    expect(d.routes[0]).toMatchObject({ jetstream: { stream: 'P', create: false, duplicateWindowMs: 5000 } });
  });

  it.each([
    [{ routes: [] }, 'routes: expected a non-empty list'],
    [{ routes: [out], colour: 'blue' }, "unknown key 'colour'"],
    [{ routes: [{ ...out, direction: 'sideways' }] }, "routes[0].direction: expected 'out'"],
    [{ routes: [{ ...out, channel: '../etc/passwd' }] }, "routes[0].channel: '../etc/passwd' is not a channel name"],
    [{ routes: [{ ...out, subject: 'mmbus.*' }] }, 'cannot have wildcards'],
    [{ routes: [{ ...out, subject: 'a..b' }] }, 'is not a NATS subject'],
    [{ routes: [{ ...out, subject: 'a b' }] }, 'is not a NATS subject'],
    [{ routes: [{ ...out, direction: 'in', subject: 'a.>.b' }] }, "'>' must be the last token"],
    [{ routes: [{ ...out, direction: 'in', subject: 'a.b*' }] }, 'a wildcard must be a whole token'],
    [{ routes: [{ ...out, encoding: 'xml' }] }, 'routes[0].encoding: expected one of raw, json'],
    [{ routes: [{ ...out, batch: 0 }] }, 'routes[0].batch: expected an integer in 1..65536'],
    [{ routes: [{ ...out, batch: 1.5 }] }, 'routes[0].batch'],
    [{ routes: [{ ...out, jetstream: { stream: 'a.b' } }] }, 'is not a stream name'],
    [{ routes: [{ ...out, jetstream: {} }] }, "'stream' is required"],
    [{ routes: [{ ...out, queue: 'q' }] }, "unknown key 'queue'"],
    [{ routes: [{ ...out, direction: 'in', durable: 'd' }] }, "unknown key 'durable'"],
    [{ routes: [{ ...out, direction: 'in', capacity: 1000 }] }, 'is not a power of two'],
    [{ routes: [{ ...out, durable: 'x'.repeat(64) }] }, 'longer than 63 bytes'],
    [{ routes: [out, { ...out, subject: 'other' }] }, "give each its own 'durable'"],
    [{ name: 'my bridge', routes: [out] }, 'is not a bridge name'],
    [{ nats: { servers: [] }, routes: [out] }, 'nats.servers'],
    [{ nats: { ackTimeoutMs: 5 }, routes: [out] }, 'nats.ackTimeoutMs'],
  ])('refused: %j', (config, message) => {
    const e = error(() => parseConfig({ dir, ...config }, 'bridge.json'));
    expect(e.code).toBe('BRIDGE_E_CONFIG');
    expect(e.message).toContain(message);
    expect(e.message).toMatch(/^bridge\.json/);
  });

  it("a 'kv' route: a keyed channel to a bucket, its defaults, and what is refused", () => {
    const c = parseConfig({ dir, routes: [{ direction: 'kv', channel: 'points', bucket: 'points' }, { ...out, direction: 'out' }] });
    expect(c.routes[0]).toEqual({ direction: 'kv', channel: 'points', bucket: 'points', subject: '$KV.points.>', encoding: 'raw', batch: DEFAULTS.batch, durable: 'kv.bridge', create: true });
    // its own durable by default: it may share a channel with a stream route
    expect(c.routes[1]).toMatchObject({ direction: 'out', durable: 'nats.bridge' });
    expect(parseConfig({ dir, routes: [{ direction: 'kv', channel: 'p', bucket: 'b', type: 'PointUpdate', keys: 1000, create: false, encoding: 'json' }] }).routes[0]).toMatchObject({ keys: 1000, create: false, encoding: 'json' });
    for (const [route, message] of [
      [{ direction: 'kv', channel: 'points' }, "'bucket' is required"],
      [{ direction: 'kv', channel: 'points', bucket: 'a.b' }, 'is not a KV bucket name'],
      [{ direction: 'kv', channel: 'points', bucket: 'b', subject: 'x' }, "unknown key 'subject'"],
      [{ direction: 'kv', channel: 'points', bucket: 'b', jetstream: { stream: 'S' } }, "unknown key 'jetstream'"],
      [{ direction: 'kv', channel: 'points', bucket: 'b', keys: 0 }, 'routes[0].keys: expected an integer in 1..16777216'],
      [{ direction: 'kv', channel: 'points', bucket: 'b', keys: 2 ** 24 + 1 }, 'routes[0].keys'],
      [{ direction: 'kv', channel: 'points', bucket: 'b', create: 'yes' }, 'routes[0].create: expected true or false'],
      [{ direction: 'sideways', channel: 'points' }, "expected 'out' (mmbus → NATS), 'in' (NATS → mmbus) or 'kv'"],
    ] as const) {
      const e = error(() => parseConfig({ dir, routes: [route] }));
      expect(e.code, message).toBe('BRIDGE_E_CONFIG');
      expect(e.message).toContain(message);
    }
    const twice = error(() => parseConfig({ dir, routes: [{ direction: 'kv', channel: 'p', bucket: 'a' }, { direction: 'kv', channel: 'p', bucket: 'b' }] }));
    expect(twice.message).toContain("give each its own 'durable'");
    expect(configFromFlags({ dir, kv: ['points=POINTS'], type: 'PointUpdate' }).routes).toEqual(parseConfig({ dir, routes: [{ direction: 'kv', channel: 'points', bucket: 'POINTS', type: 'PointUpdate' }] }).routes);
    expect(error(() => configFromFlags({ dir, kv: ['points'] })).message).toContain('--kv: expected <channel>=<bucket>');
  });

  it("an 'in' route reading a bucket instead of a subject", () => {
    const c = parseConfig({ dir, routes: [{ direction: 'in', channel: 'replica', bucket: 'points', type: 'PointUpdate', keys: 10 }] });
    expect(c.routes[0]).toEqual({ direction: 'in', channel: 'replica', bucket: 'points', create: true, keys: 10, subject: '$KV.points.>', encoding: 'raw', type: 'PointUpdate', batch: DEFAULTS.batch });
    for (const [route, message] of [
      [{ direction: 'in', channel: 'r', bucket: 'points', subject: 'a' }, "routes[0].subject: a route that reads a bucket has no 'subject'"],
      [{ direction: 'in', channel: 'r', bucket: 'points', queue: 'q' }, "routes[0].queue: a route that reads a bucket has no 'queue'"],
      [{ direction: 'in', channel: 'r', subject: 'a', keys: 10 }, "routes[0].keys: 'keys' belongs to a route that reads a bucket"],
      [{ direction: 'in', channel: 'r', subject: 'a', create: true }, "routes[0].create: 'create' belongs to a route that reads a bucket"],
      [{ direction: 'in', channel: 'r' }, "'subject' (or 'bucket') is required"],
      [{ direction: 'in', channel: 'r', bucket: '$x' }, 'is not a KV bucket name'],
    ] as const) {
      const e = error(() => parseConfig({ dir, routes: [route] }));
      expect(e.code, message).toBe('BRIDGE_E_CONFIG');
      expect(e.message).toContain(message);
    }
    expect(configFromFlags({ dir, kvIn: ['replica=points'] }).routes).toEqual(parseConfig({ dir, routes: [{ direction: 'in', channel: 'replica', bucket: 'points' }] }).routes);
  });

  it('a file: read, parsed and checked, errors name the file', () => {
    const file = join(dir, 'b.json');
    writeFileSync(file, JSON.stringify({ name: 'edge', dir, routes: [out] }));
    expect(loadConfig(file)).toMatchObject({ name: 'edge', routes: [{ channel: 'points' }] });
    writeFileSync(file, '{ not json');
    expect(error(() => loadConfig(file)).message).toContain(`${file} is not JSON`);
    expect(error(() => loadConfig(join(dir, 'missing.json'))).message).toContain('cannot read');
  });

  it('flags make the same configuration; they add routes to a file and override its servers and name', () => {
    const f = configFromFlags({ dir, out: ['points=mmbus.points'], in: ['cmds=mmbus.cmds.*'], encoding: 'json', stream: 'POINTS', server: ['nats://10.0.0.1:4222'], type: 'PointUpdate' });
    expect(f).toEqual(
      parseConfig({
        dir,
        nats: { servers: ['nats://10.0.0.1:4222'] },
        routes: [
          { direction: 'out', channel: 'points', subject: 'mmbus.points', encoding: 'json', type: 'PointUpdate', jetstream: { stream: 'POINTS' } },
          { direction: 'in', channel: 'cmds', subject: 'mmbus.cmds.*', encoding: 'json', type: 'PointUpdate' },
        ],
      }),
    );
    const file = join(dir, 'b.json');
    writeFileSync(file, JSON.stringify({ name: 'edge', dir, nats: { servers: 'nats://a:1', ackTimeoutMs: 1000 }, routes: [out] }));
    const g = configFromFlags({ config: file, name: 'other', server: ['nats://b:2'], in: ['c=s'] });
    expect(g).toMatchObject({ name: 'other', nats: { servers: ['nats://b:2'], ackTimeoutMs: 1000 } });
    expect(g.routes.map((r) => `${r.direction} ${r.channel}=${r.subject}`)).toEqual(['out points=mmbus.points', 'in c=s']);
  });

  it.each([
    [{ out: ['points'] }, '--out: expected <channel>=<subject>'],
    [{ out: ['=x'] }, '--out: expected <channel>=<subject>'],
    [{ in: ['c='] }, '--in: expected <channel>=<subject>'],
    [{ in: ['c=s'], stream: 'S' }, '--stream: applies to --out routes'],
    [{}, 'flags.routes: expected a non-empty list'],
  ])('flags refused: %j', (flags, message) => {
    const e = error(() => configFromFlags({ dir, ...flags }));
    expect(e.code).toBe('BRIDGE_E_CONFIG');
    expect(e.message).toContain(message);
  });
});

describe('subjects', () => {
  it.each([
    ['a.b', 'a.b', true],
    ['a.*', 'a.b', true],
    ['a.*', 'a.b.c', false],
    ['a.>', 'a.b.c', true],
    ['a.>', 'a', false],
    ['>', 'a', true],
    ['a.b', 'a.c', false],
    ['a.b.c', 'a.b', false],
  ])('%s matches %s: %s', (filter, subject, yes) => {
    expect(subjectMatches(filter, subject)).toBe(yes);
  });
});

describe('the nats-server of the tests', () => {
  it('missing: a BRIDGE_E_SERVER error that says to install the Debian package', () => {
    const e = error(() => findNatsServer([join(dir, 'nats-server')], dir));
    expect(e.code).toBe('BRIDGE_E_SERVER');
    expect(e.message).toContain('apt-get install nats-server');
    expect(findNatsServer()).toMatch(/\/nats-server$/);
  });
});
