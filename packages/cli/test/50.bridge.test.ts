// `mmbus bridge run|stat`: the flags of @mmbus/bridge-nats, end to end against a real nats-server.
import { openChannel } from '@mmbus/core';
import { Person } from '@mmbus/messages';
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
});
