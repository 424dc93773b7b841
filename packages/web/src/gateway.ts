// The gateway: serves a channel directory to browsers over HTTP (the page, the client library) and
// WebSocket (the protocol of docs/web.md, with `ws`). One Hub per channel in use, shared by clients;
// every 1000/fps ms each client gets the latest value of every key it watches that changed (or was
// newly asked) since its last frame, read from the key table as the frame is built. A client whose
// socket has more than highWaterBytes unsent skips frames: its pending keys stay pending (a set: one
// entry per key, whatever the number of changes), so memory per client is bounded and it gets fewer,
// fresher frames; the bus and the other clients never wait for it.
import { timingSafeEqual } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

import { checkChannelName, inspectChannel } from '@mmbus/core';
import { MmbusError, recordDecoder } from '@mmbus/runtime';
import { WebSocketServer, type WebSocket } from 'ws';

import {
  CLOSE,
  FRAME,
  HEADER_BYTES,
  OVERVIEW_BITMAP,
  PROTOCOL_VERSION,
  TAIL_BACKFILL,
  WIRE_FORMATS,
  WS_PATH,
  type ChannelSummary,
  type ErrorMessage,
  type HelloMessage,
  type Request,
  type RequestId,
  type ServerMessage,
  type StatsMessage,
  type WireFormat,
} from './browser/protocol.js';
import { Hub } from './hub.js';
import { keySpecRanges } from './keyspec.js';
import { hex64, TypeRegistry, type GeneratedType, type ServedType } from './types.js';

export interface GatewayOptions {
  /** The channel directory served (nothing outside it is reachable). */
  dir: string;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 8377; 0 picks a free port. */
  port?: number;
  /** Clients must give this token (`?token=` of the page and WebSocket URLs). Default: none. */
  token?: string;
  /** Generated message classes served (e.g. MESSAGE_TYPES of @mmbus/messages). */
  types?: readonly GeneratedType[];
  /** Schema files whose structs are served. */
  schemas?: readonly string[];
  /** Value frames per second per client and channel, at most. Default 20. */
  fps?: number;
  /** Overview frames per second, at most. Default 4. */
  overviewFps?: number;
  /** Tail records per frame at most (newer ones win). Default 100. */
  tailMax?: number;
  /** A client with more than this many bytes unsent gets no new frame until it drains. Default 1 MiB. */
  highWaterBytes?: number;
  /** Largest data frame, bytes. Default 256 KiB. */
  maxFrameBytes?: number;
  /** Most clients at once. Default 1000. */
  maxClients?: number;
  /** How often stats go out, ms. Default 500. */
  statsIntervalMs?: number;
  /**
   * How often each client is pinged, ms; one that has not answered the previous ping by the next is
   * ended (a peer gone without closing: its slot under maxClients and its subscriptions are freed).
   * Default 30,000.
   */
  pingIntervalMs?: number;
}

const MAX_REQUEST_BYTES = 64 * 1024;
/** The most records a tail's backfill may ask for (`last`): the largest ring (docs/format.md). */
const TAIL_LAST_MAX = 2 ** 32;
/** A client subscription watching more keys than this is matched against the changed keys instead of being listed per key. */
const BROAD_KEYS = 4096;
const ASKED = 1;
const PENDING = 2;
const REQUEST_ID_MAX = 64;
const STATIC_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
};

const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** @mmbus/runtime's dist/: the browser client decodes records with its recordDecoder (the page's import map points here). */
const runtimeDist = dirname(createRequire(import.meta.url).resolve('@mmbus/runtime'));

const fail = (code: string, message: string): MmbusError => new MmbusError(code as MmbusError['code'], message);

/** One client's use of one channel. */
class Watch {
  readonly sid: number;
  readonly hub: Hub;
  readonly served: Served;
  /** keyed: ASKED | PENDING per key, from the first ask on (a watch for stats or a tail never has it:
   * a byte per key of a large channel for each such client added up to hundreds of MiB) */
  private stateBytes: Uint8Array | null = null;
  asked = 0;
  /** keyed: keys whose value is to go out, in the order they changed: pending[pendingFrom..] (a read
   * index, so that a frame taken from a long list does not copy the rest: a client asking every one of
   * 1 M keys had cost seconds of the event loop) */
  private pending: number[] = [];
  private pendingFrom = 0;
  broad = false;
  /** tails: the hub position sent up to; -1 when not tailing */
  tailFrom = -1;
  /** tails: records before this sequence number are the backfill's, not the live tail's */
  liveFrom = 0;
  /** backfill (tail with `last`): the next sequence number to send, and where it ends (-1: no backfill) */
  backfillNext = 0;
  backfillEnd = -1;
  /** overviews: changed keys not yet sent (a bit per key) */
  overview: Uint8Array | null = null;
  overviewAny = false;
  stats = false;
  opened = false;
  constructor(sid: number, served: Served) {
    this.sid = sid;
    this.served = served;
    this.hub = served.hub;
  }
  get state(): Uint8Array {
    return (this.stateBytes ??= new Uint8Array(this.hub.keyCount));
  }
  markPending(k: number): void {
    const s = this.state[k]!;
    if (s & PENDING) return;
    this.state[k] = s | PENDING;
    this.pending.push(k);
  }
  get pendingCount(): number {
    return this.pending.length - this.pendingFrom;
  }
  /** The next pending key (pendingCount > 0), no longer pending. */
  takePending(): number {
    const k = this.pending[this.pendingFrom++]!;
    if (this.pendingFrom === this.pending.length) {
      this.pending = [];
      this.pendingFrom = 0;
    }
    this.state[k]! &= ~PENDING;
    return k;
  }
}

/** A hub and who watches what of it. */
class Served {
  readonly hub: Hub;
  /** keyed: the watches listing each key (watches with few keys) */
  readonly watchers: (Watch[] | undefined)[] = [];
  /** keyed: watches with many keys, matched against the changed keys */
  readonly broad = new Set<Watch>();
  readonly overview = new Set<Watch>();
  readonly watches = new Set<Watch>();
  constructor(hub: Hub) {
    this.hub = hub;
  }
  list(w: Watch, k: number): void {
    (this.watchers[k] ??= []).push(w);
  }
  unlist(w: Watch, k: number): void {
    const l = this.watchers[k];
    if (!l) return;
    const i = l.indexOf(w);
    if (i < 0) return;
    l[i] = l[l.length - 1]!;
    l.pop();
    if (l.length === 0) this.watchers[k] = undefined;
  }
}

class Connection {
  readonly ws: WebSocket;
  readonly format: WireFormat;
  readonly watches = new Map<string, Watch>();
  nextSid = 1;
  /** frames not sent because the client had not drained */
  skippedFrames = 0;
  /** answered the last ping (or has not been pinged yet) */
  alive = true;
  constructor(ws: WebSocket, format: WireFormat) {
    this.ws = ws;
    this.format = format;
  }
}

export interface GatewayStats {
  clients: number;
  channels: number;
  /** Frames not sent (all clients, since start) because a client had not drained its socket. */
  skippedFrames: number;
  /** Bytes queued in clients' sockets now, in total. */
  bufferedBytes: number;
  /** Keys pending (changed or asked, not sent yet), all clients. */
  pendingKeys: number;
}

/** A client whose unsent replies pass this many times highWaterBytes (plus a frame) is dropped (CLOSE.NOT_READING)... */
const NOT_READING_FACTOR = 4;
/** ...and its socket ended this long after the close frame was queued. */
const NOT_READING_GRACE_MS = 1000;
/** Error messages are cut to this many characters (they may quote a request of up to 64 KiB). */
const MAX_ERROR_CHARS = 300;

/** The request's URL, or null when it cannot be parsed (`GET http://[`: a thrown TypeError would end the process). */
function requestUrl(req: IncomingMessage): URL | null {
  try {
    return new URL(req.url ?? '/', 'http://gateway');
  } catch {
    return null;
  }
}

export class Gateway {
  readonly dir: string;
  readonly host: string;
  private readonly requestedPort: number;
  private readonly token: Buffer | null;
  private readonly registry = new TypeRegistry();
  private readonly fps: number;
  private readonly overviewFps: number;
  private readonly tailMax: number;
  private readonly highWater: number;
  private readonly maxFrameBytes: number;
  private readonly maxClients: number;
  private readonly statsIntervalMs: number;
  private readonly http: Server;
  private readonly wss: WebSocketServer;
  private readonly connections = new Set<Connection>();
  private readonly served = new Map<string, Served>();
  private readonly schemaFiles: readonly string[];
  private tickTimer: NodeJS.Timeout | null = null;
  private statsTimer: NodeJS.Timeout | null = null;
  private pingTimer: NodeJS.Timeout | null = null;
  private readonly pingIntervalMs: number;
  private ticks = 0;
  private skippedTotal = 0;
  private readonly decoders = new Map<ServedType, (v: DataView, o: number) => Record<string, unknown>>();

  constructor(options: GatewayOptions) {
    if (!options || typeof options.dir !== 'string') throw fail('MMBUS_E_INVAL', 'the gateway needs the option dir (the channel directory)');
    let st;
    try {
      st = statSync(options.dir);
    } catch {
      throw fail('MMBUS_E_DIR', `channel directory ${options.dir} does not exist`);
    }
    if (!st.isDirectory()) throw fail('MMBUS_E_DIR', `${options.dir} is not a directory`);
    this.dir = resolve(options.dir);
    this.host = options.host ?? '127.0.0.1';
    this.requestedPort = intOption(options.port, 'port', 0, 65535) ?? 8377;
    if (options.token !== undefined && (typeof options.token !== 'string' || options.token.length === 0)) {
      throw fail('MMBUS_E_INVAL', 'option token must be a non-empty string');
    }
    this.token = options.token ? Buffer.from(options.token) : null;
    this.fps = intOption(options.fps, 'fps', 1, 1000) ?? 20;
    this.overviewFps = intOption(options.overviewFps, 'overviewFps', 1, this.fps) ?? Math.min(4, this.fps);
    this.tailMax = intOption(options.tailMax, 'tailMax', 1, 100_000) ?? 100;
    this.highWater = intOption(options.highWaterBytes, 'highWaterBytes', 1024, 2 ** 31) ?? 1 << 20;
    this.maxFrameBytes = intOption(options.maxFrameBytes, 'maxFrameBytes', 1024, 64 << 20) ?? 256 << 10;
    this.maxClients = intOption(options.maxClients, 'maxClients', 1, 100_000) ?? 1000;
    this.statsIntervalMs = intOption(options.statsIntervalMs, 'statsIntervalMs', 50, 60_000) ?? 500;
    this.pingIntervalMs = intOption(options.pingIntervalMs, 'pingIntervalMs', 50, 3_600_000) ?? 30_000;
    if (options.types) this.registry.addGenerated(options.types, '@mmbus/messages');
    this.schemaFiles = options.schemas ?? [];
    this.http = createServer((req, res) => this.serveHttp(req, res));
    this.wss = new WebSocketServer({ noServer: true, maxPayload: MAX_REQUEST_BYTES * 4 });
    this.http.on('upgrade', (req, socket, head) => {
      const url = requestUrl(req);
      if (!url) {
        socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
        return;
      }
      if (url.pathname !== WS_PATH) {
        socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, req, url));
    });
  }

  /** Starts listening; resolves with the page's URL. */
  async listen(): Promise<string> {
    await this.registry.addSchemaFiles(this.schemaFiles);
    await new Promise<void>((ok, ko) => {
      this.http.once('error', ko);
      this.http.listen(this.requestedPort, this.host, () => {
        this.http.off('error', ko);
        ok();
      });
    });
    this.tickTimer = setInterval(() => this.tick(), Math.max(1, Math.round(1000 / this.fps)));
    this.statsTimer = setInterval(() => this.sendStats(), this.statsIntervalMs);
    this.pingTimer = setInterval(() => this.pingAll(), this.pingIntervalMs);
    return this.url;
  }

  get port(): number {
    return (this.http.address() as AddressInfo | null)?.port ?? this.requestedPort;
  }

  /** The page's URL (with the token, when there is one). */
  get url(): string {
    const host = this.host.includes(':') ? `[${this.host}]` : this.host;
    const q = this.token ? `?token=${encodeURIComponent(this.token.toString())}` : '';
    return `http://${host}:${this.port}/${q}`;
  }

  stats(): GatewayStats {
    let buffered = 0;
    let pending = 0;
    for (const c of this.connections) {
      buffered += c.ws.bufferedAmount;
      for (const w of c.watches.values()) pending += w.pendingCount;
    }
    return { clients: this.connections.size, channels: this.served.size, skippedFrames: this.skippedTotal, bufferedBytes: buffered, pendingKeys: pending };
  }

  async close(): Promise<void> {
    if (this.tickTimer) clearInterval(this.tickTimer);
    if (this.statsTimer) clearInterval(this.statsTimer);
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.tickTimer = this.statsTimer = this.pingTimer = null;
    for (const c of this.connections) {
      this.release(c);
      c.ws.close(CLOSE.GOING_AWAY, 'the gateway is shutting down');
    }
    this.connections.clear();
    const hubs = [...this.served.values()].map((s) => s.hub);
    for (const h of hubs) h.close();
    await Promise.all(hubs.map((h) => h.done));
    this.served.clear();
    await new Promise<void>((ok) => {
      this.wss.close(() => ok());
    });
    this.http.closeAllConnections();
    await new Promise<void>((ok) => this.http.close(() => ok()));
  }

  // ---- HTTP ---------------------------------------------------------------------------------------

  private serveHttp(req: IncomingMessage, res: ServerResponse): void {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end();
      return;
    }
    const url = requestUrl(req);
    if (!url) {
      res.writeHead(400).end();
      return;
    }
    const path = url.pathname;
    // a fixed set of files: the page (static/) and the browser modules (dist/browser/)
    let file: string | null = null;
    if (path === '/' || path === '/index.html') file = join(packageRoot, 'static', 'index.html');
    else if (/^\/[a-z0-9-]+\.css$/.test(path)) file = join(packageRoot, 'static', path.slice(1));
    else if (/^\/lib\/[a-z0-9-]+\.js$/.test(path)) file = join(packageRoot, 'dist', 'browser', path.slice('/lib/'.length));
    else if (/^\/lib\/runtime\/(schema\/)?[a-z0-9-]+\.js$/.test(path)) file = join(runtimeDist, path.slice('/lib/runtime/'.length));
    let body: Buffer | null = null;
    if (file) {
      try {
        body = readFileSync(file);
      } catch {
        body = null;
      }
    }
    if (!body || !file) {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('not found\n');
      return;
    }
    res.writeHead(200, {
      'Content-Type': STATIC_TYPES[extname(file)] ?? 'application/octet-stream',
      'Content-Length': body.length,
      'Cache-Control': 'no-cache',
      'X-Content-Type-Options': 'nosniff',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  // ---- connections --------------------------------------------------------------------------------

  private tokenOk(given: string | null): boolean {
    if (!this.token) return true;
    if (given === null) return false;
    const g = Buffer.from(given);
    return g.length === this.token.length && timingSafeEqual(g, this.token);
  }

  private accept(ws: WebSocket, req: IncomingMessage, url: URL): void {
    if (!this.tokenOk(url.searchParams.get('token'))) {
      ws.close(CLOSE.UNAUTHORIZED, this.token && url.searchParams.has('token') ? 'wrong token' : 'a token is required (?token=)');
      return;
    }
    // a page of another site may not use the gateway (its Origin differs from the Host it connects to);
    // on loopback, a Host that is no loopback name is a DNS-rebinding page (evil.example resolving to 127.0.0.1)
    const hostName = hostnameOf(req.headers.host ?? '');
    if (LOOPBACK.has(this.host) && !LOOPBACK.has(hostName)) {
      ws.close(CLOSE.FORBIDDEN, `host ${req.headers.host ?? ''} is not this gateway's (it listens on ${this.host})`);
      return;
    }
    const origin = req.headers.origin;
    if (origin !== undefined) {
      let originHost = '';
      try {
        originHost = new URL(origin).host;
      } catch {
        originHost = '';
      }
      if (originHost !== req.headers.host) {
        ws.close(CLOSE.FORBIDDEN, `origin ${origin} is not this gateway's`);
        return;
      }
    }
    const format = (url.searchParams.get('format') ?? 'binary') as WireFormat;
    if (!WIRE_FORMATS.includes(format)) {
      ws.close(CLOSE.BAD_REQUEST, `format must be ${WIRE_FORMATS.join(' or ')}`);
      return;
    }
    if (this.connections.size >= this.maxClients) {
      ws.close(CLOSE.TOO_MANY_CLIENTS, `the gateway serves ${this.maxClients} clients at most`);
      return;
    }
    const c = new Connection(ws, format);
    this.connections.add(c);
    const hello: HelloMessage = {
      op: 'hello',
      version: PROTOCOL_VERSION,
      format,
      fps: this.fps,
      tailMax: this.tailMax,
      overviewFps: this.overviewFps,
      statsIntervalMs: this.statsIntervalMs,
      maxRequestBytes: MAX_REQUEST_BYTES,
    };
    this.send(c, hello);
    ws.on('message', (data, isBinary) => this.onMessage(c, data as Buffer, isBinary));
    ws.on('pong', () => (c.alive = true));
    ws.on('close', () => {
      this.release(c);
      this.connections.delete(c);
    });
    ws.on('error', () => ws.terminate());
  }

  /** Ends the clients that did not answer the previous ping, pings the others (ws's keep-alive). */
  private pingAll(): void {
    for (const c of this.connections) {
      if (!c.alive) {
        c.ws.terminate();
        continue;
      }
      c.alive = false;
      c.ws.ping();
    }
  }

  private send(c: Connection, m: ServerMessage): void {
    if (c.ws.readyState !== c.ws.OPEN) return;
    c.ws.send(JSON.stringify(m, jsonSafe));
    // replies to requests are not held back like frames (room()): a client that keeps asking and never
    // reads would make its unsent bytes grow without bound
    if (c.ws.bufferedAmount > NOT_READING_FACTOR * this.highWater + this.maxFrameBytes) {
      c.ws.close(CLOSE.NOT_READING, 'the client does not read what it asked for');
      setTimeout(() => c.ws.terminate(), NOT_READING_GRACE_MS).unref(); // its close frame waits behind the rest
    }
  }

  private sendError(c: Connection, err: unknown, id: RequestId | undefined, channel?: string): void {
    const e = err instanceof MmbusError ? err : fail('MMBUS_E_IO', err instanceof Error ? err.message : String(err));
    // a message may quote the request: at most a few hundred characters of it go back
    const local = this.local(e.message);
    const message = local.length > MAX_ERROR_CHARS ? `${local.slice(0, MAX_ERROR_CHARS)}…` : local;
    const m: ErrorMessage = { op: 'error', code: e.code, message };
    if (id !== undefined) m.id = id;
    if (channel !== undefined) m.channel = channel;
    this.send(c, m);
  }

  private onMessage(c: Connection, data: Buffer, isBinary: boolean): void {
    if (c.ws.readyState !== c.ws.OPEN) return; // dropped (NOT_READING): nothing more is answered
    let id: RequestId | undefined;
    let channel: string | undefined;
    try {
      if (isBinary) throw fail('MMBUS_E_INVAL', 'requests are JSON text frames, not binary');
      if (data.length > MAX_REQUEST_BYTES) throw fail('MMBUS_E_INVAL', `a request is at most ${MAX_REQUEST_BYTES} bytes, not ${data.length}`);
      let req: unknown;
      try {
        req = JSON.parse(data.toString('utf8'));
      } catch {
        throw fail('MMBUS_E_INVAL', 'a request must be a JSON object');
      }
      if (typeof req !== 'object' || req === null || Array.isArray(req)) throw fail('MMBUS_E_INVAL', 'a request must be a JSON object');
      const r = req as Record<string, unknown>;
      const rid = r['id'];
      if (rid !== undefined) {
        if ((typeof rid === 'number' && Number.isFinite(rid)) || (typeof rid === 'string' && rid.length <= REQUEST_ID_MAX)) id = rid;
        else throw fail('MMBUS_E_INVAL', `id must be a number or a string of at most ${REQUEST_ID_MAX} characters`);
      }
      if (typeof r['channel'] === 'string') channel = r['channel'];
      this.handle(c, r as unknown as Request, id);
    } catch (err) {
      this.sendError(c, err, id, channel);
    }
  }

  private handle(c: Connection, r: Request, id: RequestId | undefined): void {
    const ok = (extra: { channel?: string; asked?: number } = {}): void => {
      this.send(c, { op: 'ok', ...(id !== undefined ? { id } : {}), request: r.op, ...extra });
    };
    const allowed: Record<Request['op'], readonly string[]> = {
      list: [],
      ask: ['channel', 'keys'],
      unask: ['channel', 'keys'],
      tail: ['channel', 'last'],
      untail: ['channel'],
      overview: ['channel', 'on'],
      stats: ['channel', 'on'],
      close: ['channel'],
    };
    const fields = allowed[r.op as Request['op']];
    if (!Object.hasOwn(allowed, String(r.op)) || !fields) {
      throw fail('MMBUS_E_INVAL', `unknown op ${JSON.stringify(r.op)} (ops: ${Object.keys(allowed).join(', ')})`);
    }
    for (const k of Object.keys(r)) {
      if (k !== 'op' && k !== 'id' && !fields.includes(k)) throw fail('MMBUS_E_INVAL', `${r.op}: unknown field '${k}'`);
    }
    if (r.op === 'list') {
      this.send(c, { op: 'channels', ...(id !== undefined ? { id } : {}), channels: this.listChannels() });
      return;
    }
    const name = r.channel;
    if (typeof name !== 'string') throw fail('MMBUS_E_INVAL', `${r.op}: channel must be a channel name`);
    if (r.op === 'close') {
      const w = c.watches.get(name);
      if (w) this.unwatchAll(c, w);
      ok({ channel: name });
      return;
    }
    if (r.op === 'overview' || r.op === 'stats') {
      if (typeof r.on !== 'boolean') throw fail('MMBUS_E_INVAL', `${r.op}: on must be true or false`);
    }
    // turning something off never opens a channel
    const existing = c.watches.get(name);
    if ((r.op === 'unask' || r.op === 'untail' || ((r.op === 'overview' || r.op === 'stats') && !r.on)) && !existing) {
      if (r.op === 'unask') keySpecRanges(r.keys, Number.MAX_SAFE_INTEGER); // still a malformed request if it is one
      ok({ channel: name, ...(r.op === 'unask' ? { asked: 0 } : {}) });
      return;
    }
    // the whole request is checked before anything is opened: a bad one changes nothing
    const target = existing ? { type: existing.hub.type, keyCount: existing.hub.keyCount } : this.resolveChannel(name);
    let ranges: [number, number][] = [];
    if (r.op === 'ask' || r.op === 'unask') {
      if (!target.keyCount) throw fail('MMBUS_E_STATE', `'${name}' is not a keyed channel: tail it instead`);
      ranges = keySpecRanges(r.keys, target.keyCount);
    }
    if (r.op === 'overview' && !target.keyCount) throw fail('MMBUS_E_STATE', `'${name}' is not a keyed channel: no overview`);
    if (r.op === 'tail' && r.last !== undefined) {
      if (typeof r.last !== 'number' || !Number.isInteger(r.last) || r.last < 0 || r.last > TAIL_LAST_MAX) {
        throw fail('MMBUS_E_INVAL', `tail: last must be an integer in 0 .. ${TAIL_LAST_MAX}, not ${JSON.stringify(r.last) ?? String(r.last)}`);
      }
      if (existing && existing.tailFrom >= 0) throw fail('MMBUS_E_STATE', `already tailing '${name}': untail first to get a backfill`);
    }
    const w = existing ?? this.openWatch(c, name, target.type);
    const hub = w.hub;
    switch (r.op) {
      case 'ask':
      case 'unask': {
        if (r.op === 'ask') this.ask(w, ranges);
        else this.unask(w, ranges);
        ok({ channel: name, asked: w.asked });
        break;
      }
      case 'tail': {
        let backfill: number | undefined;
        if (w.tailFrom < 0) {
          // the live tail: the records published from now on (the subscription gets every one from
          // here: asks take effect before its next poll); the backfill: the `last` ones before them
          const head = hub.channel.head();
          w.tailFrom = hub.seen;
          hub.needEverything(true);
          if (r.last !== undefined) {
            w.liveFrom = head;
            w.backfillNext = Math.max(0, head - r.last, head - hub.channel.info.capacity);
            w.backfillEnd = head;
            backfill = head - w.backfillNext;
          }
        }
        this.send(c, { op: 'ok', ...(id !== undefined ? { id } : {}), request: r.op, channel: name, ...(backfill !== undefined ? { backfill } : {}) });
        break;
      }
      case 'untail':
        if (w.tailFrom >= 0) {
          w.tailFrom = -1;
          w.liveFrom = 0;
          w.backfillEnd = -1;
          hub.needEverything(false);
        }
        ok({ channel: name });
        break;
      case 'overview':
        if (r.on && !w.overview) {
          w.overview = new Uint8Array(Math.ceil(hub.keyCount / 8));
          w.served.overview.add(w);
          hub.needEverything(true);
        } else if (!r.on && w.overview) {
          w.overview = null;
          w.served.overview.delete(w);
          hub.needEverything(false);
        }
        ok({ channel: name });
        break;
      case 'stats':
        w.stats = r.on;
        ok({ channel: name });
        if (r.on) this.sendStatsOf(c, w);
        break;
    }
    if (!w.asked && w.tailFrom < 0 && !w.overview && !w.stats) this.unwatchAll(c, w);
  }

  /** The channel `name` of the served directory, checked: its type and key count (read-only, nothing opened for good). */
  private resolveChannel(name: string): { type: ServedType; keyCount: number } {
    checkChannelName(name); // MMBUS_E_NAME for '..', '/', NUL...: only names of files in the directory
    const file = join(this.dir, `${name}.db`);
    let st;
    try {
      st = lstatSync(file);
    } catch {
      throw fail('MMBUS_E_NOENT', `no channel '${name}' in the served directory`);
    }
    // a link could point outside the directory: not served
    if (!st.isFile()) throw fail('MMBUS_E_NOENT', `'${name}' is not a channel file of the served directory (a link or not a file)`);
    const open = this.served.get(name);
    if (open && !open.hub.closed) return { type: open.hub.type, keyCount: open.hub.keyCount };
    return this.typeOf(name);
  }

  /** A client's Watch of a channel resolveChannel() checked (opening the hub when no client has it open). */
  private openWatch(c: Connection, name: string, type: ServedType): Watch {
    // before a hub is opened for it: a refused watch must not leave one behind (with a subscriber slot)
    if (c.nextSid > 0xffff) throw fail('MMBUS_E_STATE', 'this connection opened 65535 channels: reconnect');
    let served = this.served.get(name);
    if (served && served.hub.closed) {
      this.served.delete(name);
      served = undefined;
    }
    if (!served) {
      const hub = new Hub(name, this.dir, type, this.tailMax);
      served = new Served(hub);
      const s = served;
      hub.addListener({ dropped: (err) => this.dropHub(s, err) });
      this.served.set(name, served);
    }
    const w = new Watch(c.nextSid++, served);
    c.watches.set(name, w);
    served.watches.add(w);
    const t = served.hub.type;
    this.send(c, {
      op: 'open',
      channel: name,
      sid: w.sid,
      schema: t.name,
      fingerprint: hex64(t.fingerprint),
      keyCount: served.hub.keyCount,
      layout: t.layout,
      recordBytes: t.recordBytes,
    });
    w.opened = true;
    return w;
  }

  private typeOf(name: string): { type: ServedType; keyCount: number } {
    const insp = inspectChannel(name, this.dir);
    try {
      const described = insp.layout; // self-describing channel: its file says how to read its records
      if (described) return { type: this.registry.described(described, insp.info.fingerprint), keyCount: insp.info.keyCount };
      const t = this.registry.find(insp.info.schemaName, insp.info.fingerprint);
      if (!t) throw fail('MMBUS_E_SCHEMA', `channel '${name}' holds ${insp.info.schemaName} (${hex64(insp.info.fingerprint)}): ${this.registry.describe(insp.info.schemaName)}`);
      return { type: t, keyCount: insp.info.keyCount };
    } finally {
      insp.close();
    }
  }

  /** A message for a client: the served directory's path stays here (its files are named as in it). */
  private local(text: string): string {
    return text.split(`${this.dir}${sep}`).join('').split(this.dir).join('.');
  }

  private listChannels(): ChannelSummary[] {
    let names: string[];
    try {
      names = readdirSync(this.dir).filter((f) => f.endsWith('.db')).map((f) => f.slice(0, -3)).sort();
    } catch (err) {
      throw fail('MMBUS_E_DIR', `reading ${this.dir}: ${(err as Error).message}`);
    }
    const out: ChannelSummary[] = [];
    for (const name of names) {
      try {
        checkChannelName(name);
        if (!lstatSync(join(this.dir, `${name}.db`)).isFile()) continue;
        const insp = inspectChannel(name, this.dir);
        try {
          const i = insp.info;
          out.push({
            name,
            schema: i.schemaName,
            fingerprint: hex64(i.fingerprint),
            recordSize: i.recordSize,
            capacity: i.capacity,
            policy: i.policy,
            keyCount: i.keyCount,
            known: insp.layout !== undefined || this.registry.find(i.schemaName, i.fingerprint) !== undefined,
          });
        } finally {
          insp.close();
        }
      } catch (err) {
        out.push({ name, schema: '', fingerprint: '', recordSize: 0, capacity: 0, policy: '', keyCount: 0, known: false, error: this.local(err instanceof Error ? err.message : String(err)) });
      }
    }
    return out;
  }

  private ask(w: Watch, ranges: [number, number][]): void {
    const fresh: [number, number][] = [];
    const s = w.served;
    for (const [first, count] of ranges) {
      let runStart = -1;
      for (let k = first; k <= first + count; k++) {
        const isNew = k < first + count && (w.state[k]! & ASKED) === 0;
        if (isNew) {
          w.state[k]! |= ASKED;
          w.markPending(k); // its current value goes out in the next frame
          if (runStart < 0) runStart = k;
        } else if (runStart >= 0) {
          fresh.push([runStart, k - runStart]);
          runStart = -1;
        }
      }
    }
    let n = 0;
    for (const [, count] of fresh) n += count;
    if (n === 0) return;
    w.asked += n;
    w.hub.watch(fresh);
    if (w.broad) return;
    if (w.asked > BROAD_KEYS) {
      // many keys: no longer listed per key (undo the lists of the keys asked before)
      for (let k = 0; k < w.state.length; k++) if (w.state[k]! & ASKED) s.unlist(w, k);
      w.broad = true;
      s.broad.add(w);
      return;
    }
    for (const [first, count] of fresh) for (let k = first; k < first + count; k++) s.list(w, k);
  }

  private unask(w: Watch, ranges: [number, number][]): void {
    if (w.asked === 0) return; // nothing to give back (and no state to allocate for it)
    const gone: [number, number][] = [];
    for (const [first, count] of ranges) {
      let runStart = -1;
      for (let k = first; k <= first + count; k++) {
        const was = k < first + count && (w.state[k]! & ASKED) !== 0;
        if (was) {
          w.state[k]! &= ~ASKED; // a pending entry left behind is skipped when frames are built
          if (!w.broad) w.served.unlist(w, k);
          if (runStart < 0) runStart = k;
        } else if (runStart >= 0) {
          gone.push([runStart, k - runStart]);
          runStart = -1;
        }
      }
    }
    let n = 0;
    for (const [, count] of gone) n += count;
    if (n === 0) return;
    w.asked -= n;
    w.hub.unwatch(gone);
    if (w.asked === 0 && w.broad) {
      w.broad = false;
      w.served.broad.delete(w);
    }
  }

  /** Ends a client's use of a channel; the hub closes when its last client goes. */
  private unwatchAll(c: Connection, w: Watch): void {
    if (c.watches.get(w.hub.name) !== w) return;
    c.watches.delete(w.hub.name);
    const s = w.served;
    if (!w.hub.closed) {
      if (w.asked) this.unask(w, [[0, w.hub.keyCount]]);
      if (w.tailFrom >= 0) w.hub.needEverything(false);
      if (w.overview) w.hub.needEverything(false);
    }
    s.overview.delete(w);
    s.broad.delete(w);
    s.watches.delete(w);
    if (s.watches.size === 0) {
      s.hub.close();
      if (this.served.get(s.hub.name) === s) this.served.delete(s.hub.name);
    }
  }

  private release(c: Connection): void {
    for (const w of [...c.watches.values()]) this.unwatchAll(c, w);
  }

  private dropHub(s: Served, err: MmbusError): void {
    if (this.served.get(s.hub.name) === s) this.served.delete(s.hub.name);
    for (const c of this.connections) {
      const w = c.watches.get(s.hub.name);
      if (!w || w.served !== s) continue;
      c.watches.delete(s.hub.name);
      this.send(c, { op: 'dropped', channel: s.hub.name, sid: w.sid, code: err.code, message: err.message });
    }
    s.watches.clear();
  }

  // ---- frames -------------------------------------------------------------------------------------

  private tick(): void {
    this.ticks++;
    const overviewTick = this.ticks % Math.max(1, Math.round(this.fps / this.overviewFps)) === 0;
    for (const s of this.served.values()) {
      if (s.hub.closed) continue;
      const changed = s.hub.takeChanged();
      for (const k of changed) {
        const l = s.watchers[k];
        if (l) for (const w of l) w.markPending(k);
      }
      for (const w of s.broad) for (const k of changed) if (w.state[k]! & ASKED) w.markPending(k);
      for (const w of s.overview) {
        const bits = w.overview!;
        for (const k of changed) bits[k >> 3]! |= 1 << (k & 7);
        if (changed.length) w.overviewAny = true;
      }
    }
    const now = Date.now();
    for (const c of this.connections) {
      if (c.ws.readyState !== c.ws.OPEN) continue;
      for (const w of c.watches.values()) {
        if (w.hub.closed) continue;
        if (!this.room(c, w)) continue;
        if (w.pendingCount) this.sendValues(c, w, now);
        if (w.backfillEnd >= 0 && this.room(c, w)) this.sendBackfill(c, w, now);
        if (w.backfillEnd < 0 && w.tailFrom >= 0 && w.tailFrom < w.hub.seen && this.room(c, w)) this.sendTail(c, w, now);
        if (overviewTick && w.overviewAny && this.room(c, w)) this.sendOverview(c, w, now);
      }
    }
  }

  /** Whether a frame may go to this client now; counts the frame it skips otherwise. */
  private room(c: Connection, w: Watch): boolean {
    if (c.ws.bufferedAmount < this.highWater) return true;
    if (w.pendingCount || (w.tailFrom >= 0 && w.tailFrom < w.hub.seen) || w.backfillEnd >= 0 || w.overviewAny) {
      c.skippedFrames++;
      this.skippedTotal++;
    }
    return false;
  }

  private header(buf: Uint8Array, kind: number, flags: number, sid: number, count: number, time: number, skipped: number): void {
    const v = new DataView(buf.buffer, buf.byteOffset, HEADER_BYTES);
    v.setUint8(0, kind);
    v.setUint8(1, flags);
    v.setUint16(2, sid, true);
    v.setUint32(4, count, true);
    v.setFloat64(8, time, true);
    v.setUint32(16, Math.min(skipped, 0xffffffff), true);
    v.setUint32(20, 0, true);
  }

  private decoder(t: ServedType): (v: DataView, o: number) => Record<string, unknown> {
    let d = this.decoders.get(t);
    if (!d) {
      d = recordDecoder(t.layout, { int64: 'json' });
      this.decoders.set(t, d);
    }
    return d;
  }

  /** Value frames from the client's pending keys, while it has room: at most maxFrameBytes each. */
  private sendValues(c: Connection, w: Watch, now: number): void {
    const rb = w.hub.type.recordBytes;
    const perFrame = Math.max(1, Math.floor((this.maxFrameBytes - HEADER_BYTES) / rb));
    while (w.pendingCount && c.ws.bufferedAmount < this.highWater) {
      const keys: number[] = [];
      while (w.pendingCount && keys.length < perFrame) {
        const k = w.takePending();
        if (w.state[k]! & ASKED) keys.push(k);
      }
      if (keys.length === 0) continue;
      keys.sort((a, b) => a - b); // values in key order within a frame (docs/web.md)
      if (c.format === 'json') {
        const decode = this.decoder(w.hub.type);
        const records: Record<string, unknown>[] = [];
        for (const k of keys) {
          const r = w.hub.readLatest(k, decode);
          if (r) records.push(r);
        }
        if (records.length) this.send(c, { op: 'values', sid: w.sid, time: now, records });
        continue;
      }
      const frame = new Uint8Array(HEADER_BYTES + keys.length * rb);
      let n = 0;
      let at = HEADER_BYTES;
      const copy = (view: DataView, offset: number): boolean => {
        frame.set(new Uint8Array(view.buffer, view.byteOffset + offset, rb), at);
        return true;
      };
      for (const k of keys) {
        if (w.hub.readLatest(k, copy)) {
          n++;
          at += rb;
        }
      }
      if (n === 0) continue; // none has a value yet: they come when published
      this.header(frame, FRAME.VALUES, 0, w.sid, n, now, 0);
      c.ws.send(frame.subarray(0, HEADER_BYTES + n * rb));
    }
  }

  private sendTail(c: Connection, w: Watch, now: number): void {
    const hub = w.hub;
    const frame = new Uint8Array(HEADER_BYTES + hub.tailMax * hub.type.recordBytes);
    const { count, skipped } = hub.tailSince(w.tailFrom, frame.subarray(HEADER_BYTES), w.liveFrom);
    w.tailFrom = hub.seen;
    if (count === 0 && skipped === 0) return;
    this.sendTailFrame(c, w, frame, count, skipped, 0, now);
  }

  /** The backfill, oldest first, in frames of at most maxFrameBytes while the client has room; then the live tail. */
  private sendBackfill(c: Connection, w: Watch, now: number): void {
    const hub = w.hub;
    const rb = hub.type.recordBytes;
    const perFrame = Math.max(1, Math.floor((this.maxFrameBytes - HEADER_BYTES) / rb));
    if (w.liveFrom < hub.allFrom || hub.allFrom < 0) {
      // keyed: until the ask for every record took effect, records of other keys were left out: those
      // come in the backfill too, so it ends where the subscription gets every record
      if (hub.allFrom < 0) return;
      w.liveFrom = w.backfillEnd = hub.allFrom;
    }
    while (w.backfillNext < w.backfillEnd && c.ws.bufferedAmount < this.highWater) {
      const frame = new Uint8Array(HEADER_BYTES + Math.min(perFrame, w.backfillEnd - w.backfillNext) * rb);
      const { next, count, skipped } = hub.readRing(w.backfillNext, w.backfillEnd, perFrame, frame.subarray(HEADER_BYTES));
      if (next === w.backfillNext) return; // the subscription has not passed these yet: next tick
      w.backfillNext = next;
      this.sendTailFrame(c, w, frame, count, skipped, TAIL_BACKFILL, now);
    }
    if (w.backfillNext >= w.backfillEnd) w.backfillEnd = -1;
  }

  private sendTailFrame(c: Connection, w: Watch, frame: Uint8Array, count: number, skipped: number, flags: number, now: number): void {
    const rb = w.hub.type.recordBytes;
    if (c.format === 'json') {
      const decode = this.decoder(w.hub.type);
      const view = new DataView(frame.buffer, HEADER_BYTES);
      const records: Record<string, unknown>[] = [];
      for (let i = 0; i < count; i++) records.push(decode(view, i * rb));
      this.send(c, { op: 'tail', sid: w.sid, time: now, skipped, ...(flags & TAIL_BACKFILL ? { backfill: true as const } : {}), records });
      return;
    }
    this.header(frame, FRAME.TAIL, flags, w.sid, count, now, skipped);
    c.ws.send(frame.subarray(0, HEADER_BYTES + count * rb));
  }

  private sendOverview(c: Connection, w: Watch, now: number): void {
    const bits = w.overview!;
    const keys: number[] = [];
    const listMax = bits.length / 4; // a list of u32 keys is smaller than the bitmap below this
    for (let i = 0; i < bits.length && keys.length <= listMax; i++) {
      const b = bits[i]!;
      if (b) for (let j = 0; j < 8; j++) if (b & (1 << j)) keys.push(i * 8 + j);
    }
    w.overviewAny = false;
    if (c.format === 'json') {
      if (keys.length > listMax) {
        keys.length = 0;
        for (let i = 0; i < bits.length; i++) if (bits[i]) for (let j = 0; j < 8; j++) if (bits[i]! & (1 << j)) keys.push(i * 8 + j);
      }
      bits.fill(0);
      this.send(c, { op: 'overview', sid: w.sid, time: now, keys });
      return;
    }
    let frame: Uint8Array;
    if (keys.length > listMax) {
      frame = new Uint8Array(HEADER_BYTES + bits.length);
      frame.set(bits, HEADER_BYTES);
      this.header(frame, FRAME.OVERVIEW, OVERVIEW_BITMAP, w.sid, w.hub.keyCount, now, 0);
    } else {
      frame = new Uint8Array(HEADER_BYTES + keys.length * 4);
      const v = new DataView(frame.buffer);
      keys.forEach((k, i) => v.setUint32(HEADER_BYTES + i * 4, k, true));
      this.header(frame, FRAME.OVERVIEW, 0, w.sid, keys.length, now, 0);
    }
    bits.fill(0);
    c.ws.send(frame);
  }

  private sendStats(): void {
    const cache = new Map<Hub, StatsMessage | MmbusError>(); // one stats() per channel, whatever the number of clients
    for (const c of this.connections) {
      if (c.ws.readyState !== c.ws.OPEN || c.ws.bufferedAmount >= this.highWater) continue;
      for (const w of c.watches.values()) if (w.stats) this.sendStatsOf(c, w, cache);
    }
  }

  private sendStatsOf(c: Connection, w: Watch, cache = new Map<Hub, StatsMessage | MmbusError>()): void {
    if (w.hub.closed) return;
    let m = cache.get(w.hub);
    if (!m) {
      m = this.statsOf(w.hub);
      cache.set(w.hub, m);
    }
    if (m instanceof MmbusError) this.sendError(c, m, undefined, w.hub.name);
    else this.send(c, { ...m, sid: w.sid });
  }

  private statsOf(hub: Hub): StatsMessage | MmbusError {
    let s;
    try {
      s = hub.channel.stats();
    } catch (err) {
      return err instanceof MmbusError ? err : fail('MMBUS_E_IO', String(err));
    }
    return {
      op: 'stats',
      channel: hub.name,
      sid: 0,
      time: Date.now(),
      head: s.head,
      publishersAlive: s.publishersAlive,
      subscribers: s.subscribers.map((x) => ({
        slot: x.slot,
        name: x.name || null,
        state: x.state,
        durable: x.durable,
        pid: x.pid,
        cursor: x.cursor,
        lag: x.lag,
        lost: x.lost,
        heartbeatAgeMs: x.heartbeatAgeMs,
      })),
    };
  }
}

/** NaN and ±Infinity (JSON has no such numbers: JSON.stringify would make them null) as strings. */
function jsonSafe(_key: string, v: unknown): unknown {
  return typeof v === 'number' && !Number.isFinite(v) ? String(v) : v;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/** The host name of a Host header ('127.0.0.1:8377' -> '127.0.0.1', '[::1]:80' -> '::1'). */
function hostnameOf(host: string): string {
  const m = /^\[([^\]]*)\](?::\d+)?$/.exec(host);
  if (m) return m[1]!.toLowerCase();
  return host.replace(/:\d+$/, '').toLowerCase();
}

function intOption(v: unknown, name: string, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw fail('MMBUS_E_INVAL', `option ${name} must be an integer in ${min} .. ${max}, not ${JSON.stringify(v) ?? String(v)}`);
  }
  return v;
}

/** Creates a gateway and starts listening; resolves once it listens. */
export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const g = new Gateway(options);
  await g.listen();
  return g;
}
