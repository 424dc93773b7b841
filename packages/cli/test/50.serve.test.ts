// mmbus serve: the web gateway from the command line (the protocol itself is tested in packages/web).
import { openChannel } from '@mmbus/core';
import { PointUpdate, Quality } from '@mmbus/messages';
import WebSocket from 'ws';
import { describe, expect, it } from 'vitest';

import { cli, startCli, useScratchDir } from './helpers.js';

let dir = '';
useScratchDir((d) => (dir = d));

describe('mmbus serve', () => {
  it('serves the directory on 127.0.0.1 with a token: prints the URL, answers asks with current values, stops on SIGTERM', async () => {
    const ch = openChannel('points', PointUpdate, { dir, keys: 100 });
    ch.publish({ pointId: 42, deviceId: 1, value: 2.5, quality: Quality.Bad, tag: 'x' });
    // no schema needed: the channel file describes its records
    const serve = startCli(['serve', dir, '--port', '0'], { MMBUS_WEB_TOKEN: 'tok' });
    const url = new URL((await serve.line('http://')).trim());
    expect(url.hostname).toBe('127.0.0.1');
    expect(url.searchParams.get('token')).toBe('tok');
    const page = await fetch(url);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<title>mmbus live</title>');

    const refused = new WebSocket(`ws://${url.host}/ws`);
    const code = await new Promise<number>((ok) => refused.on('close', (c) => ok(c)));
    expect(code).toBe(4401);

    const ws = new WebSocket(`ws://${url.host}/ws?token=tok&format=json`);
    const messages: { op: string; records?: unknown[] }[] = [];
    ws.on('message', (d) => messages.push(JSON.parse(d.toString())));
    await new Promise((ok) => ws.on('open', ok));
    ws.send(JSON.stringify({ op: 'ask', id: 1, channel: 'points', keys: [41, 42] }));
    const end = Date.now() + 10_000;
    while (!messages.some((m) => m.op === 'values') && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    expect(messages.find((m) => m.op === 'values')?.records).toEqual([
      { timestamp_ns: 0, value: 2.5, point_id: 42, device_id: 1, quality: 'Bad', tag: 'x' },
    ]);
    ws.close();
    serve.proc.kill('SIGTERM');
    const e = await serve.exited;
    expect(e.code).toBe(0);
    ch.close();
  });

  it('a missing directory is one clear line and exit 1', async () => {
    const r = await cli(['serve', `${dir}/nope`, '--port', '0']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^mmbus: error: serve: .*does not exist/);
  });
});
