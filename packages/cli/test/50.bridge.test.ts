// `mmbus bridge run|stat`: the flags of @mmbus/bridge-nats, end to end against a real nats-server.
import { openChannel } from '@mmbus/core';
import { Person, PointUpdate } from '@mmbus/messages';
import { NatsServer } from '@mmbus/bridge-nats/nats-server';
import { connect } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { cli, startCli, useScratchDir } from './helpers.js';

let dir: string;
useScratchDir((d) => (dir = d));
let server: NatsServer;
beforeAll(async () => {
  server = await NatsServer.start();
});
afterAll(async () => {
  await server?.stop();
});

describe('mmbus bridge', () => {
  it.each([
    [['bridge', 'run'], 'flags.routes: expected a non-empty list of routes [BRIDGE_E_CONFIG]'],
    [['bridge', 'run', '--out', 'points'], "--out: expected <channel>=<subject>, got 'points' [BRIDGE_E_CONFIG]"],
    [['bridge', 'run', '--in', 'cmds=a.b', '--encoding', 'xml'], "argument 'xml' is invalid. Allowed choices are raw, json"],
    [['bridge', 'run', '--out', 'points=a.*'], 'cannot have wildcards'],
    [['bridge', 'run', '--kv', 'points=a.b'], "flags.routes[0].bucket: 'a.b' is not a KV bucket name"],
    [['bridge', 'run', '--config', '/nonexistent/bridge.json'], 'cannot read /nonexistent/bridge.json'],
  ])('bad usage: %j', async (args, message) => {
    const r = await cli([...args, '-d', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stderr).toMatch(/^mmbus: /);
  });

  it('stat without a bridge: exit 1, saying where it looked', async () => {
    const r = await cli(['bridge', 'stat', 'edge', '-d', dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`no bridge stats at ${dir}/edge.bridge.json`);
    expect(r.stderr).toContain('[BRIDGE_E_STATS]');
  });

  it('run --out --stream: a channel into JetStream; stat while it runs and after it stopped', async () => {
    const bridge = startCli(['bridge', 'run', '-s', server.url, '--out', 'people=cli.people', '--stream', 'CLI', '--type', 'mmbus.Person', '-d', dir, '--stats-interval', '100']);
    await bridge.line('ready');
    const ch = openChannel('people', Person, { dir });
    const n = 1000;
    ch.publishBatch(n, (r, i) => r.assign({ index: BigInt(i), name: `person-${i}`, age: i % 100 }));
    const nc = await connect({ servers: server.url });
    try {
      const messages = await (await nc.jetstream().consumers.get('CLI')).consume();
      let i = 0;
      for await (const m of messages) {
        const p = new Person(new DataView(m.data.buffer, m.data.byteOffset, m.data.byteLength));
        if (p.index !== BigInt(i) || p.name !== `person-${i}` || m.headers?.get('Mmbus-Seq') !== String(i)) expect.fail(`message ${m.seq}: ${p.index} ${p.name}`);
        if (++i === n) break;
      }
    } finally {
      await nc.close();
    }
    let stat = await cli(['bridge', 'stat', '-d', dir, '--json']);
    for (let k = 0; k < 50 && JSON.parse(stat.stdout).routes[0].acked < n; k++) {
      await new Promise((r) => setTimeout(r, 100));
      stat = await cli(['bridge', 'stat', '-d', dir, '--json']);
    }
    expect(stat.code).toBe(0);
    expect(JSON.parse(stat.stdout)).toMatchObject({ name: 'bridge', state: 'running', routes: [{ channel: 'people', subject: 'cli.people', stream: 'CLI', forwarded: n, acked: n, lag: 0 }] });
    const text = await cli(['bridge', 'stat', '-d', dir]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/state\s+running/);
    expect(text.stdout).toMatch(/out\s+people\s+cli\.people\s+raw\s+JetStream CLI\s+1000\s+1000/);
    ch.close();

    bridge.proc.kill('SIGTERM');
    const e = await bridge.exited;
    expect(e.code, e.stderr).toBe(0);
    const after = await cli(['bridge', 'stat', '-d', dir]);
    expect(after.code).toBe(1);
    expect(after.stdout).toMatch(/state\s+stopped/);
  });

  it('run --kv: a keyed channel into a KV bucket, every key its latest value; stat shows the route', async () => {
    const keys = 500;
    const ch = openChannel('points', PointUpdate, { dir, keys });
    const put = (value: number): void => {
      ch.publishBatch(keys, (r, i) => r.assign({ pointId: i, deviceId: 0, value: value + i, timestampNs: 1n, quality: 0, tag: `p${i}` }));
    };
    put(0);
    const bridge = startCli(['bridge', 'run', '-s', server.url, '--kv', 'points=cli-points', '-d', dir, '--stats-interval', '100']);
    await bridge.line('ready');
    put(1000); // a change of every key after the snapshot
    const stats = async (): Promise<{ waiting: boolean; lag: number; acked: number }> => JSON.parse((await cli(['bridge', 'stat', '-d', dir, '--json'])).stdout).routes[0];
    for (let k = 0; k < 100; k++) {
      const r = await stats();
      if (r.waiting && r.lag === 0 && r.acked >= 2 * keys) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    expect(await stats()).toMatchObject({ direction: 'kv', bucket: 'cli-points', acked: 2 * keys, lag: 0 });
    const text = await cli(['bridge', 'stat', '-d', dir]);
    expect(text.stdout).toMatch(/kv\s+points\s+\$KV\.cli-points\.>\s+raw\s+KV cli-points\s+1000\s+1000/);
    const nc = await connect({ servers: server.url });
    try {
      const kv = await nc.jetstream().views.kv('cli-points', { bindOnly: true });
      for (let key = 0; key < keys; key++) {
        const e = await kv.get(String(key));
        const v = new PointUpdate(new DataView(e!.value.buffer, e!.value.byteOffset, e!.value.byteLength));
        if (v.pointId !== key || v.value !== 1000 + key || v.tag !== `p${key}`) expect.fail(`key ${key}: ${JSON.stringify(v.toObject(), (_k, x: unknown) => (typeof x === 'bigint' ? String(x) : x))}`);
      }
    } finally {
      await nc.close();
    }
    ch.close();
    bridge.proc.kill('SIGTERM');
    const e = await bridge.exited;
    expect(e.code, e.stderr).toBe(0);
  });
});
