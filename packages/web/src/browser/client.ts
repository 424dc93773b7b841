// @mmbus/web/client: the browser side of the gateway's protocol (docs/web.md), ESM, no dependencies.
//
//   const client = await MmbusWebClient.connect('ws://127.0.0.1:8377/ws', { token });
//   const points = client.channel('points');
//   points.onValues = (records) => { for (const r of records) show(r.point_id, r.value); };
//   await points.ask([{ from: 0, to: 100 }, 4711]);
//
// Records arrive as plain objects with the schema's field names, decoded by @mmbus/runtime's recordDecoder. Runs in Node too
// (give the `ws` package's WebSocket as options.WebSocket where there is no global one).
import { recordDecoder, type RecordLayout } from '@mmbus/runtime';

import {
  FRAME,
  HEADER_BYTES,
  OVERVIEW_BITMAP,
  TAIL_BACKFILL,
  WS_PATH,
  type ChannelSummary,
  type HelloMessage,
  type KeySpec,
  type OpenMessage,
  type Request,
  type ServerMessage,
  type StatsMessage,
  type WireFormat,
} from './protocol.js';

export type { RecordLayout } from '@mmbus/runtime';

/** A decoded record: its fields by schema name (see recordDecoder of @mmbus/runtime). */
export type DecodedRecord = Record<string, unknown>;
export * from './protocol.js';

/** What the client needs of a WebSocket (the browser's, or the `ws` package's). */
interface SocketLike {
  binaryType: string;
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
}
type SocketConstructor = new (url: string) => SocketLike;

export interface ConnectOptions {
  token?: string;
  /** 'binary' (default): records as they lie in the channel, decoded here; 'json': decoded by the gateway. */
  format?: WireFormat;
  /** A WebSocket class (default: the global one). */
  WebSocket?: unknown;
}

/** An error the gateway answered a request with (code: a stable MMBUS_E_* code). */
export class GatewayError extends Error {
  readonly code: string;
  readonly channel: string | undefined;
  constructor(code: string, message: string, channel?: string) {
    super(message);
    this.name = 'GatewayError';
    this.code = code;
    this.channel = channel;
  }
}

/** Per data frame: when the gateway built it, and (tails) how many records it skipped. */
export interface FrameInfo {
  time: number;
  skipped: number;
  /** Bytes of the frame as received. */
  bytes: number;
  /** Tails: these records are the backfill (published before the tail request, oldest first), not the live tail. */
  backfill: boolean;
}

export interface TailOptions {
  /** First the newest `last` records published before the request (as many as the ring still holds), oldest first. */
  last?: number;
}

/** One channel as seen through the gateway. */
export class RemoteChannel {
  readonly name: string;
  private readonly client: MmbusWebClient;
  /** Set once the gateway sent the channel's description (before its first data). */
  info: OpenMessage | null = null;
  decode: ((view: DataView, offset: number) => DecodedRecord) | null = null;
  /** Latest values of asked keys (keyed channels), newly asked keys' current values first. */
  onValues: ((records: DecodedRecord[], frame: FrameInfo) => void) | null = null;
  /** The newest records (tails), rate-limited: frame.skipped were published in between. */
  onTail: ((records: DecodedRecord[], frame: FrameInfo) => void) | null = null;
  /** Keys that changed since the previous overview frame. */
  onOverview: ((keys: Iterable<number>, frame: FrameInfo) => void) | null = null;
  onStats: ((stats: StatsMessage) => void) | null = null;
  onOpen: ((info: OpenMessage) => void) | null = null;
  /** The gateway stopped serving the channel (removed, replaced...): ask again to resume. */
  onDropped: ((code: string, message: string) => void) | null = null;

  /** @internal */
  constructor(client: MmbusWebClient, name: string) {
    this.client = client;
    this.name = name;
  }

  /** Keyed channels: watch these keys too; resolves with how many keys are watched now. */
  async ask(keys: KeySpec): Promise<number> {
    return (await this.client.request({ op: 'ask', channel: this.name, keys })).asked ?? 0;
  }
  async unask(keys: KeySpec): Promise<number> {
    return (await this.client.request({ op: 'unask', channel: this.name, keys })).asked ?? 0;
  }
  /** Tails the channel: the backfill first (options.last), then the newest records as published, rate-limited; resolves with how many records the backfill covers. */
  async tail(options: TailOptions = {}): Promise<number> {
    const r = await this.client.request({ op: 'tail', channel: this.name, ...(options.last !== undefined ? { last: options.last } : {}) });
    return r.backfill ?? 0;
  }
  async untail(): Promise<void> {
    await this.client.request({ op: 'untail', channel: this.name });
  }
  async overview(on: boolean): Promise<void> {
    await this.client.request({ op: 'overview', channel: this.name, on });
  }
  async stats(on: boolean): Promise<void> {
    await this.client.request({ op: 'stats', channel: this.name, on });
  }
  /** Stops everything of this channel (asks, tail, overview, stats). */
  async close(): Promise<void> {
    await this.client.request({ op: 'close', channel: this.name });
  }
}

type OkReply = Extract<ServerMessage, { op: 'ok' }>;

export class MmbusWebClient {
  private readonly ws: SocketLike;
  hello: HelloMessage | null = null;
  private nextId = 1;
  private readonly waiting = new Map<number, { ok: (m: ServerMessage) => void; ko: (e: Error) => void }>();
  private readonly channels = new Map<string, RemoteChannel>();
  private readonly bySid = new Map<number, RemoteChannel>();
  /** Errors not tied to a request. */
  onError: ((err: GatewayError) => void) | null = null;
  onClose: ((code: number, reason: string) => void) | null = null;
  /** Bytes received so far (every frame). */
  bytesReceived = 0;
  framesReceived = 0;
  closed = false;

  private constructor(ws: SocketLike) {
    this.ws = ws;
  }

  /** The gateway's WebSocket URL for a page it serves (same host, `/ws`). */
  static urlFor(location: { protocol: string; host: string }): string {
    return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}${WS_PATH}`;
  }

  /** Connects; resolves once the gateway said hello, rejects when it refused (close code and reason). */
  static connect(url: string, options: ConnectOptions = {}): Promise<MmbusWebClient> {
    const u = new URL(url);
    if (options.token !== undefined) u.searchParams.set('token', options.token);
    if (options.format !== undefined) u.searchParams.set('format', options.format);
    const Ctor = (options.WebSocket ?? (globalThis as { WebSocket?: unknown }).WebSocket) as SocketConstructor | undefined;
    if (!Ctor) throw new Error('no WebSocket class: pass options.WebSocket (e.g. the ws package)');
    const ws = new Ctor(u.toString());
    ws.binaryType = 'arraybuffer';
    const client = new MmbusWebClient(ws);
    return new Promise((resolve, reject) => {
      let settled = false;
      ws.onmessage = (ev) => {
        client.receive(ev.data);
        if (!settled && client.hello) {
          settled = true;
          resolve(client);
        }
      };
      ws.onclose = (ev) => {
        client.closed = true;
        for (const w of client.waiting.values()) w.ko(new GatewayError('MMBUS_E_CLOSED', `connection closed (${ev.code} ${ev.reason})`));
        client.waiting.clear();
        if (!settled) {
          settled = true;
          reject(Object.assign(new GatewayError('MMBUS_E_CLOSED', `the gateway closed the connection: ${ev.code} ${ev.reason}`), { closeCode: ev.code }));
        }
        client.onClose?.(ev.code, ev.reason);
      };
      ws.onerror = () => {
        /* onclose follows with the code */
      };
    });
  }

  /** The channel `name` (nothing is sent until you ask, tail...). */
  channel(name: string): RemoteChannel {
    let c = this.channels.get(name);
    if (!c) {
      c = new RemoteChannel(this, name);
      this.channels.set(name, c);
    }
    return c;
  }

  async list(): Promise<ChannelSummary[]> {
    const m = await this.send({ op: 'list' });
    return m.op === 'channels' ? m.channels : [];
  }

  close(): void {
    this.ws.close(1000, 'bye');
  }

  /** @internal */
  async request(r: Request): Promise<OkReply> {
    const m = await this.send(r);
    if (m.op !== 'ok') throw new GatewayError('MMBUS_E_STATE', `unexpected reply ${m.op}`);
    return m;
  }

  private send(r: Request): Promise<ServerMessage> {
    if (this.closed) return Promise.reject(new GatewayError('MMBUS_E_CLOSED', 'the connection is closed'));
    const id = this.nextId++;
    return new Promise((ok, ko) => {
      this.waiting.set(id, { ok, ko });
      this.ws.send(JSON.stringify({ ...r, id }));
    });
  }

  private receive(data: unknown): void {
    this.framesReceived++;
    if (typeof data === 'string') {
      this.bytesReceived += data.length;
      this.message(JSON.parse(data) as ServerMessage);
      return;
    }
    const buf = data instanceof ArrayBuffer ? new Uint8Array(data) : (data as Uint8Array);
    this.bytesReceived += buf.byteLength;
    this.frame(buf);
  }

  private message(m: ServerMessage): void {
    const id = 'id' in m ? m.id : undefined;
    if (typeof id === 'number' && this.waiting.has(id)) {
      const w = this.waiting.get(id)!;
      this.waiting.delete(id);
      if (m.op === 'error') w.ko(new GatewayError(m.code, m.message, m.channel));
      else w.ok(m);
      return;
    }
    switch (m.op) {
      case 'hello':
        this.hello = m;
        return;
      case 'open': {
        const c = this.channel(m.channel);
        c.info = m;
        c.decode = recordDecoder(m.layout as RecordLayout);
        this.bySid.set(m.sid, c);
        c.onOpen?.(m);
        return;
      }
      case 'error':
        this.onError?.(new GatewayError(m.code, m.message, m.channel));
        return;
      case 'dropped': {
        const c = this.bySid.get(m.sid);
        this.bySid.delete(m.sid);
        if (c) {
          c.info = null;
          c.onDropped?.(m.code, m.message);
        }
        return;
      }
      case 'stats':
        this.bySid.get(m.sid)?.onStats?.(m);
        return;
      case 'values':
        this.bySid.get(m.sid)?.onValues?.(m.records as DecodedRecord[], { time: m.time, skipped: 0, bytes: 0, backfill: false });
        return;
      case 'tail':
        this.bySid.get(m.sid)?.onTail?.(m.records as DecodedRecord[], { time: m.time, skipped: m.skipped, bytes: 0, backfill: m.backfill === true });
        return;
      case 'overview':
        this.bySid.get(m.sid)?.onOverview?.(m.keys, { time: m.time, skipped: 0, bytes: 0, backfill: false });
        return;
      default:
        return;
    }
  }

  private frame(buf: Uint8Array): void {
    if (buf.byteLength < HEADER_BYTES) return;
    const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    const kind = v.getUint8(0);
    const flags = v.getUint8(1);
    const sid = v.getUint16(2, true);
    const count = v.getUint32(4, true);
    const info: FrameInfo = { time: v.getFloat64(8, true), skipped: v.getUint32(16, true), bytes: buf.byteLength, backfill: kind === FRAME.TAIL && (flags & TAIL_BACKFILL) !== 0 };
    const c = this.bySid.get(sid);
    if (!c || !c.info || !c.decode) return;
    if (kind === FRAME.OVERVIEW) {
      c.onOverview?.(flags & OVERVIEW_BITMAP ? bitmapKeys(buf.subarray(HEADER_BYTES), count) : new Uint32Array(buf.slice(HEADER_BYTES).buffer, 0, count), info);
      return;
    }
    const rb = c.info.recordBytes;
    if (buf.byteLength < HEADER_BYTES + count * rb) return;
    const records: DecodedRecord[] = new Array<DecodedRecord>(count);
    for (let i = 0; i < count; i++) records[i] = c.decode(v, HEADER_BYTES + i * rb);
    if (kind === FRAME.VALUES) c.onValues?.(records, info);
    else if (kind === FRAME.TAIL) c.onTail?.(records, info);
  }
}

function* bitmapKeys(bits: Uint8Array, keyCount: number): Iterable<number> {
  for (let i = 0; i < bits.length; i++) {
    const b = bits[i]!;
    if (!b) continue;
    for (let j = 0; j < 8; j++) if (b & (1 << j) && i * 8 + j < keyCount) yield i * 8 + j;
  }
}
