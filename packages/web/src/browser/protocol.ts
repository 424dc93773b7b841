// The mmbus web protocol (docs/web.md): what a client and the gateway say to each other over one
// WebSocket. Requests and replies are JSON text frames; data comes in binary frames (records as they
// lie in the channel, the layout sent once) or, for clients that ask for it, JSON text frames.
// Shared by the gateway (Node) and the browser client: no Node or DOM API here.
import type { RecordLayout } from '@mmbus/runtime';

/** Bumped on any change a client could notice. */
export const PROTOCOL_VERSION = 1;

/** The WebSocket endpoint of a gateway. */
export const WS_PATH = '/ws';

/** Close codes the gateway uses when it refuses or ends a connection (4000-4999: application codes). */
export const CLOSE = {
  /** No token, or the wrong one. */
  UNAUTHORIZED: 4401,
  /** The page's origin, or the Host the client used, is not allowed (another site, DNS rebinding). */
  FORBIDDEN: 4403,
  /** The gateway serves its maximum number of clients. */
  TOO_MANY_CLIENTS: 4429,
  /** Not a known protocol version or format (the query of the WebSocket URL). */
  BAD_REQUEST: 4400,
  /** The client kept sending requests without reading the replies (more than 4 × highWaterBytes unsent). */
  NOT_READING: 4408,
  /** The gateway is shutting down (the standard "going away"). */
  GOING_AWAY: 1001,
} as const;

/** Binary data frames: a fixed header, then `count` items. */
export const FRAME = {
  /** Keyed channels: the latest values of asked keys (records of RECORD_BYTES each). */
  VALUES: 1,
  /** Any channel: records as published, the newest ones, rate-limited (records of RECORD_BYTES each). */
  TAIL: 2,
  /** Keyed channels: which keys changed since the previous overview frame. */
  OVERVIEW: 3,
} as const;
export type FrameKind = (typeof FRAME)[keyof typeof FRAME];

/**
 * Header of every binary frame, little-endian:
 *   u8 kind | u8 flags | u16 sid | u32 count | f64 time (ms since the epoch, when the gateway built it)
 *   | u32 skipped | u32 reserved (0)
 */
export const HEADER_BYTES = 24;
/** OVERVIEW flags: 0 = `count` u32 keys follow; OVERVIEW_BITMAP = a bitmap of keyCount bits (bit k of byte k >> 3) follows. */
export const OVERVIEW_BITMAP = 1;
/** TAIL flags: TAIL_BACKFILL = records published before the tail request (`last`), oldest first; `skipped` counts those overwritten before they could be read. */
export const TAIL_BACKFILL = 1;

/** The wire encodings a client may ask for in the WebSocket URL (`?format=json`); binary is the default. */
export type WireFormat = 'binary' | 'json';
export const WIRE_FORMATS: readonly WireFormat[] = ['binary', 'json'];

/** Which keys: every one, a key, a range `from` .. `to - 1`, or a list of keys and ranges. */
export type KeySpec = 'all' | number | KeyRange | readonly (number | KeyRange)[];
export interface KeyRange {
  from: number;
  to: number;
}

// ---- client -> gateway ---------------------------------------------------------------------------

/** Every request may carry an `id` (a number, or a string of at most 64 characters), echoed in its reply. */
export type RequestId = number | string;

export type Request =
  | { op: 'list'; id?: RequestId }
  | { op: 'ask'; id?: RequestId; channel: string; keys: KeySpec }
  | { op: 'unask'; id?: RequestId; channel: string; keys: KeySpec }
  /** `last`: first the newest `last` records published before the request (as many as the ring still holds), then the live tail. */
  | { op: 'tail'; id?: RequestId; channel: string; last?: number }
  | { op: 'untail'; id?: RequestId; channel: string }
  | { op: 'overview'; id?: RequestId; channel: string; on: boolean }
  | { op: 'stats'; id?: RequestId; channel: string; on: boolean }
  | { op: 'close'; id?: RequestId; channel: string };

// ---- gateway -> client ---------------------------------------------------------------------------

export interface HelloMessage {
  op: 'hello';
  version: number;
  format: WireFormat;
  /** Value updates per second at most (per channel a client watches). */
  fps: number;
  /** Tail records per frame at most; older ones are skipped (counted). */
  tailMax: number;
  /** Overview frames per second at most. */
  overviewFps: number;
  /** Stats messages come this often. */
  statsIntervalMs: number;
  /** The longest request the gateway takes, in bytes. */
  maxRequestBytes: number;
}

export interface ChannelSummary {
  name: string;
  /** The header's schema name, e.g. 'mmbus.PointUpdate'. */
  schema: string;
  /** The layout fingerprint as 0x + 16 hex digits. */
  fingerprint: string;
  recordSize: number;
  capacity: number;
  policy: string;
  /** 0 for a channel that is not keyed. */
  keyCount: number;
  /** The gateway knows the channel's record layout (it can serve it). */
  known: boolean;
  /** Why the file could not be opened (then the other fields are empty). */
  error?: string;
}

/** Sent once per channel and connection, before the channel's first data frame. */
export interface OpenMessage {
  op: 'open';
  channel: string;
  /** The channel's number in this connection's data frames. */
  sid: number;
  schema: string;
  fingerprint: string;
  keyCount: number;
  /** Field names, offsets and types: how to read a record. */
  layout: RecordLayout;
  /** Bytes of each record in data frames: the record up to the end of its last field (the padding after it is not sent). */
  recordBytes: number;
}

export interface OkMessage {
  op: 'ok';
  id?: RequestId;
  /** The request's op. */
  request: Request['op'];
  channel?: string;
  /** ask / unask: how many keys of the channel this client asks for now. */
  asked?: number;
  /** tail with `last`: how many records the backfill covers (sequence numbers; those overwritten before they are read are counted as skipped). */
  backfill?: number;
}

export interface ErrorMessage {
  op: 'error';
  id?: RequestId;
  /** A stable code: one of MmbusError's (MMBUS_E_INVAL for a malformed request, MMBUS_E_NOENT for a missing channel...). */
  code: string;
  message: string;
  channel?: string;
}

export interface ChannelsMessage {
  op: 'channels';
  id?: RequestId;
  channels: ChannelSummary[];
}

export interface SubscriberStats {
  slot: number;
  name: string | null;
  state: string;
  durable: boolean;
  pid: number;
  cursor: number;
  lag: number;
  lost: number;
  heartbeatAgeMs: number;
}

export interface StatsMessage {
  op: 'stats';
  channel: string;
  sid: number;
  /** When the gateway read them, ms since the epoch. */
  time: number;
  /** Records published so far (the next record's sequence number). */
  head: number;
  publishersAlive: number;
  subscribers: SubscriberStats[];
}

/** A channel the gateway stopped serving to this client (removed or replaced under it, an error): ask again to resume. */
export interface DroppedMessage {
  op: 'dropped';
  channel: string;
  sid: number;
  code: string;
  message: string;
}

/** JSON format: the data frames as text. Records are objects (64-bit integers as numbers when exact, else strings of digits). */
export interface JsonValuesMessage {
  op: 'values';
  sid: number;
  time: number;
  records: Record<string, unknown>[];
}
export interface JsonTailMessage {
  op: 'tail';
  sid: number;
  time: number;
  skipped: number;
  /** Records of the backfill (published before the tail request), not the live tail. */
  backfill?: true;
  records: Record<string, unknown>[];
}
export interface JsonOverviewMessage {
  op: 'overview';
  sid: number;
  time: number;
  keys: number[];
}

export type ServerMessage =
  | HelloMessage
  | ChannelsMessage
  | OpenMessage
  | OkMessage
  | ErrorMessage
  | StatsMessage
  | DroppedMessage
  | JsonValuesMessage
  | JsonTailMessage
  | JsonOverviewMessage;
