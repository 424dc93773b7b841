// Who gets in and what a client can reach: tokens, origins, the served directory only, malformed requests.
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';

import { openChannel } from '@mmbus/core';
import { PointUpdate } from '@mmbus/messages';
import WebSocket from 'ws';
import { describe, expect, it } from 'vitest';

import { CLOSE, type Gateway } from '../src/index.ts';
import { connect, gateway, until, useGatewayTests, wsUrl } from './helpers.ts';

let dir = '';
useGatewayTests((d) => (dir = d));
let g: Gateway | null = null;

/** A raw socket that records every message it gets (text parsed, binary as byte counts) and how it closed. */
function raw(url: string, headers: Record<string, string> = {}) {
  const ws = new WebSocket(url, { headers });
  const messages: unknown[] = [];
  let closed: { code: number; reason: string } | null = null;
  ws.on('message', (d, isBinary) => messages.push(isBinary ? { binary: (d as Buffer).length } : JSON.parse(d.toString())));
  ws.on('close', (code, reason) => (closed = { code, reason: reason.toString() }));
  ws.on('error', () => {});
  const opened = new Promise<void>((ok) => ws.on('open', () => ok()));
  return { ws, messages, opened, closed: () => closed };
}

/** The client reads nothing from now on (its socket paused): the gateway's replies, pings and all, wait unread. */
const stopReading = (ws: WebSocket): void => (ws as unknown as { _socket: { pause(): void } })._socket.pause();

describe('access', () => {
  it('with a token: none or a wrong one is refused with close code 4401; the right one is let in', async () => {
    g = await gateway(dir, { token: 's3cret' });
    expect(g.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=s3cret$/);
    for (const q of ['', '?token=nope', '?token=s3cre', '?token=s3cret2']) {
      const c = raw(wsUrl(g) + q);
      await until(() => c.closed() !== null, 'the refusal');
      expect(c.closed()!.code).toBe(CLOSE.UNAUTHORIZED);
      expect(c.messages).toEqual([]); // not even hello
    }
    const client = await connect(g, { token: 's3cret' });
    expect(client.hello?.version).toBe(1);
    expect(await client.list()).toEqual([]);
    client.close();
  });

  it("a page of another site is refused (4403); the gateway's own origin is let in", async () => {
    g = await gateway(dir);
    const evil = raw(wsUrl(g), { Origin: 'http://evil.example' });
    await until(() => evil.closed() !== null, 'the refusal');
    expect(evil.closed()!.code).toBe(CLOSE.FORBIDDEN);
    const own = raw(wsUrl(g), { Origin: `http://127.0.0.1:${g.port}` });
    await until(() => own.messages.length > 0, 'hello');
    expect(own.messages[0]).toMatchObject({ op: 'hello' });
    own.ws.close();
  });

  it('on loopback, a Host that is not a loopback name (DNS rebinding) is refused (4403)', async () => {
    g = await gateway(dir);
    const rebound = raw(wsUrl(g), { Host: `evil.example:${g.port}`, Origin: `http://evil.example:${g.port}` });
    await until(() => rebound.closed() !== null, 'the refusal');
    expect(rebound.closed()!.code).toBe(CLOSE.FORBIDDEN);
    const local = raw(wsUrl(g), { Host: `localhost:${g.port}`, Origin: `http://localhost:${g.port}` });
    await until(() => local.messages.length > 0, 'hello');
    expect(local.messages[0]).toMatchObject({ op: 'hello' });
    local.ws.close();
  });

  it('binds to 127.0.0.1 by default', async () => {
    g = await gateway(dir);
    expect(g.host).toBe('127.0.0.1');
    expect(g.url.startsWith('http://127.0.0.1:')).toBe(true);
  });

  it('a request whose target is no URL (GET http://[) gets 400, plain or as an upgrade, and the gateway goes on', async () => {
    g = await gateway(dir);
    const ask = (lines: string[]): Promise<string> =>
      new Promise((resolve, reject) => {
        const s = createConnection({ host: '127.0.0.1', port: g!.port });
        let got = '';
        s.on('data', (d) => (got += d.toString()));
        s.on('end', () => resolve(got));
        s.on('error', reject);
        s.write(`${lines.join('\r\n')}\r\n\r\n`);
      });
    const host = `Host: 127.0.0.1:${g.port}`;
    expect(await ask(['GET http://[ HTTP/1.1', host, 'Connection: close'])).toMatch(/^HTTP\/1\.1 400/);
    const upgrade = ['GET http://[ HTTP/1.1', host, 'Upgrade: websocket', 'Connection: Upgrade', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version: 13'];
    expect(await ask(upgrade)).toMatch(/^HTTP\/1\.1 400/);
    const c = await connect(g); // still serving
    expect(c.closed).toBe(false);
    c.close();
  });

  it('a client that keeps asking and never reads is dropped (4408) before its replies pile up; error messages are cut short', async () => {
    for (let i = 0; i < 40; i++) openChannel(`channel-with-a-long-name-${i}`, PointUpdate, { dir, capacity: 16 }).close();
    g = await gateway(dir, { highWaterBytes: 1024, maxFrameBytes: 1024 });
    const other = await connect(g);
    const greedy = raw(wsUrl(g));
    await greedy.opened;
    const long = raw(wsUrl(g));
    await long.opened;
    long.ws.send(JSON.stringify({ op: 'x'.repeat(60_000) }));
    await until(() => long.messages.length > 1, 'the error'); // after hello
    expect(long.messages[1]).toMatchObject({ op: 'error', code: 'MMBUS_E_INVAL' });
    expect((long.messages[1] as { message: string }).message.length).toBeLessThanOrEqual(301);
    long.ws.close();
    stopReading(greedy.ws);
    for (let i = 0; i < 5000; i++) greedy.ws.send('{"op":"list"}'); // ~5 KB of channels each: 25 MB of replies
    await until(() => g!.stats().clients === 1, 'the gateway dropping the client that does not read');
    expect(other.closed).toBe(false); // the others are served on
    expect((await other.list()).length).toBe(40);
    other.close();
    greedy.ws.terminate();
  });

  it('a client that stops answering pings is ended; one that answers stays', async () => {
    g = await gateway(dir, { pingIntervalMs: 100 });
    const live = await connect(g);
    const gone = raw(wsUrl(g));
    await gone.opened;
    await until(() => g!.stats().clients === 2, 'both connected');
    stopReading(gone.ws); // a peer gone without closing: no pong
    await until(() => g!.stats().clients === 1, 'the gateway ending the silent client');
    await new Promise((r) => setTimeout(r, 350)); // more pings go by
    expect(live.closed).toBe(false);
    expect(g.stats().clients).toBe(1);
    live.close();
    gone.ws.terminate();
  });

  it('refuses the client above maxClients with 4429', async () => {
    g = await gateway(dir, { maxClients: 2 });
    const a = await connect(g);
    const b = await connect(g);
    await expect(connect(g)).rejects.toMatchObject({ closeCode: CLOSE.TOO_MANY_CLIENTS });
    a.close();
    b.close();
  });
});

describe('requests', () => {
  it('a channel outside the directory, or a bad request, gets one error frame and nothing else happens', async () => {
    const outside = join(dir, 'outside');
    mkdirSync(outside);
    openChannel('secret', PointUpdate, { dir: outside, keys: 10 }).close();
    symlinkSync(join(outside, 'secret.db'), join(dir, 'linked.db'));
    const served = join(dir, 'served');
    mkdirSync(served);
    openChannel('points', PointUpdate, { dir: served, keys: 10 }).close();
    symlinkSync(join(outside, 'secret.db'), join(served, 'linked.db'));
    writeFileSync(join(served, 'junk.db'), Buffer.alloc(4096, 7));
    g = await gateway(served);
    const c = raw(wsUrl(g));
    await c.opened;
    const cases: [unknown, string][] = [
      [{ op: 'ask', id: 1, channel: '../outside/secret', keys: 'all' }, 'MMBUS_E_NAME'],
      [{ op: 'ask', id: 2, channel: 'outside/secret', keys: 'all' }, 'MMBUS_E_NAME'],
      [{ op: 'ask', id: 3, channel: '/etc/passwd', keys: 'all' }, 'MMBUS_E_NAME'],
      [{ op: 'ask', id: 4, channel: 'linked', keys: 'all' }, 'MMBUS_E_NOENT'],
      [{ op: 'ask', id: 5, channel: 'nothere', keys: 'all' }, 'MMBUS_E_NOENT'],
      [{ op: 'ask', id: 6, channel: 'points', keys: [10] }, 'MMBUS_E_INVAL'],
      [{ op: 'ask', id: 7, channel: 'points', keys: { from: 5, to: 2 } }, 'MMBUS_E_INVAL'],
      [{ op: 'ask', id: 8, channel: 'points', keys: ['1'] }, 'MMBUS_E_INVAL'],
      [{ op: 'ask', id: 9, channel: 'points' }, 'MMBUS_E_INVAL'],
      [{ op: 'ask', id: 10, channel: 'points', keys: 1, extra: true }, 'MMBUS_E_INVAL'],
      [{ op: 'explode', id: 11 }, 'MMBUS_E_INVAL'],
      [{ op: 'stats', id: 12, channel: 'points', on: 'yes' }, 'MMBUS_E_INVAL'],
      [{ op: 'ask', id: { x: 1 }, channel: 'points', keys: 1 }, 'MMBUS_E_INVAL'],
      [[1, 2], 'MMBUS_E_INVAL'],
      [{ op: 'ask', id: 13, channel: 'junk', keys: 'all' }, 'MMBUS_E_BADFILE'],
    ];
    for (const [req] of cases) c.ws.send(JSON.stringify(req));
    c.ws.send('{not json');
    c.ws.send(Buffer.from([1, 2, 3]));
    c.ws.send(JSON.stringify({ op: 'list', id: 99, pad: 'x'.repeat(70_000) }));
    await until(() => c.messages.length === 1 + cases.length + 3, 'every answer', 3000).catch((e: Error) => {
      throw new Error(`${e.message}: ${JSON.stringify(c.messages)} ${JSON.stringify(c.closed())}`);
    });
    expect(c.messages[0]).toMatchObject({ op: 'hello' });
    const errors = c.messages.slice(1) as { op: string; code: string; id?: unknown; message: string }[];
    cases.forEach(([req, code], i) => {
      expect(errors[i], JSON.stringify(req)).toMatchObject({ op: 'error', code });
      expect(errors[i]!.message).not.toContain(served); // where the gateway's files are is not the client's business
      const id = (req as { id?: unknown }).id;
      if (typeof id === 'number') expect(errors[i]!.id).toBe(id);
    });
    expect(errors.slice(cases.length).map((e) => [e.op, e.code])).toEqual([
      ['error', 'MMBUS_E_INVAL'],
      ['error', 'MMBUS_E_INVAL'],
      ['error', 'MMBUS_E_INVAL'],
    ]);
    // nothing was opened, the connection still works, and lists only the directory's own channel files
    expect(g.stats().channels).toBe(0);
    c.ws.send(JSON.stringify({ op: 'list', id: 100 }));
    await until(() => c.messages.length === 2 + cases.length + 3, 'the list');
    const list = c.messages[c.messages.length - 1] as { op: string; channels: { name: string }[] };
    expect(list.op).toBe('channels');
    expect(list.channels.map((x) => x.name)).toEqual(['junk', 'points']); // (junk: with its error)
    expect(JSON.stringify(list)).not.toContain(served);
    expect(c.closed()).toBe(null);
    // a frame past 4 x the request limit is not read at all: the connection is closed with 1009
    c.ws.send(JSON.stringify({ op: 'list', id: 101, pad: 'x'.repeat(4 * 64 * 1024) }));
    await until(() => c.closed() !== null, 'the close');
    expect(c.closed()!.code).toBe(1009);
    expect(c.messages.length).toBe(2 + cases.length + 3);
  });

  it('a channel that does not describe its records, of a schema the gateway was not given, is refused with MMBUS_E_SCHEMA naming it', async () => {
    openChannel('points', PointUpdate, { dir, keys: 10, describe: false }).close();
    g = await gateway(dir, { schemas: [] });
    const client = await connect(g);
    await expect(client.channel('points').ask(1)).rejects.toMatchObject({ code: 'MMBUS_E_SCHEMA', message: expect.stringContaining('mmbus.PointUpdate') });
    const list = await client.list();
    expect(list).toMatchObject([{ name: 'points', schema: 'mmbus.PointUpdate', keyCount: 10, known: false }]);
    client.close();
  });
});
