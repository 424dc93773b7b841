// The wire format of one record on NATS (docs/bridge.md, "Wire encodings"): the payload is the
// record's bytes (raw) or its toObject() as JSON (json); headers say what it is and where it comes from.
import { headers as natsHeaders, type MsgHdrs } from 'nats';

import { jsonToInput, recordToJson, shapeOf, type GeneratedRecord, type RecordClass, type Shape } from './layout.js';
import { Refused } from './refused.js';

export const ENCODINGS = ['raw', 'json'] as const;
export type Encoding = (typeof ENCODINGS)[number];

/** Header names, once. */
export const HEADER = {
  schema: 'Mmbus-Schema',
  fingerprint: 'Mmbus-Fingerprint',
  recordSize: 'Mmbus-Record-Size',
  channel: 'Mmbus-Channel',
  seq: 'Mmbus-Seq',
  encoding: 'Mmbus-Encoding',
  /** JetStream de-duplicates on it within the stream's duplicate window. */
  msgId: 'Nats-Msg-Id',
} as const;

/** A fingerprint as written in Mmbus-Fingerprint: 0x and 16 lower-case hex digits (as `mmbus stat` prints it). */
export function hex64(v: bigint): string {
  return `0x${v.toString(16).padStart(16, '0')}`;
}

const HEX64 = /^0x[0-9a-fA-F]{16}$/;
const DECIMAL = /^(0|[1-9][0-9]*)$/;

/**
 * The JetStream message id of a record: unique per host (`origin`), channel, incarnation of the
 * channel file (its creation time, ms: a re-created channel starts again at sequence 0) and sequence.
 */
export function messageId(origin: string, channel: string, incarnation: number, seq: number): string {
  return `${origin}/${channel}/${incarnation}/${seq}`;
}

/** Encodes a channel's records for NATS and decodes (checking) records coming from NATS. */
export class RecordCodec {
  readonly type: RecordClass;
  readonly encoding: Encoding;
  private readonly shape: Shape | null;
  private readonly fingerprint: string;
  private readonly size: string;
  private readonly enc = new TextEncoder();

  constructor(type: RecordClass, encoding: Encoding) {
    this.type = type;
    this.encoding = encoding;
    this.shape = encoding === 'json' ? shapeOf(type) : null;
    this.fingerprint = hex64(type.FINGERPRINT);
    this.size = String(type.SIZE);
  }

  /** The headers of record `seq` of `channel`; with `msgId` for JetStream. */
  headers(channel: string, seq: number, msgId?: string): MsgHdrs {
    const h = natsHeaders();
    h.set(HEADER.schema, this.type.NAME);
    h.set(HEADER.fingerprint, this.fingerprint);
    h.set(HEADER.recordSize, this.size);
    h.set(HEADER.channel, channel);
    h.set(HEADER.seq, String(seq));
    h.set(HEADER.encoding, this.encoding);
    if (msgId !== undefined) h.set(HEADER.msgId, msgId);
    return h;
  }

  /** The payload of a record: `bytes` (a copy the caller owns) for raw, JSON text for json. */
  payload(record: GeneratedRecord, bytes: Uint8Array): Uint8Array {
    return this.encoding === 'raw' ? bytes : this.enc.encode(recordToJson(record));
  }

  /**
   * Checks an inbound message and writes its record into `target` (a zeroed record of the channel's
   * type, re-pointed by the caller). Throws Refused, having written nothing, if it does not fit.
   */
  decode(data: Uint8Array, hdrs: MsgHdrs | undefined, target: GeneratedRecord): void {
    const get = (k: string): string => (hdrs ? hdrs.get(k) : '');
    const encoding = get(HEADER.encoding);
    if (encoding !== '' && encoding !== this.encoding) {
      throw new Refused('encoding', `${HEADER.encoding} is '${encoding}', the route takes ${this.encoding}`);
    }
    const schema = get(HEADER.schema);
    if (schema !== '' && schema !== this.type.NAME) throw new Refused('schema', `${HEADER.schema} is '${schema}', the channel holds ${this.type.NAME}`);
    const fp = get(HEADER.fingerprint);
    const size = get(HEADER.recordSize);
    if (this.encoding === 'raw') {
      // a raw record is only bytes: without its layout's name it cannot be trusted
      if (fp === '' || size === '') throw new Refused('header', `a raw record needs ${HEADER.fingerprint} and ${HEADER.recordSize}`);
    }
    if (fp !== '') {
      if (!HEX64.test(fp)) throw new Refused('header', `${HEADER.fingerprint} '${fp}' is not 0x and 16 hex digits`);
      if (BigInt(fp) !== this.type.FINGERPRINT) {
        throw new Refused('fingerprint', `${HEADER.fingerprint} ${fp} is another layout than ${this.type.NAME}'s ${this.fingerprint}`);
      }
    }
    if (size !== '') {
      if (!DECIMAL.test(size)) throw new Refused('header', `${HEADER.recordSize} '${size}' is not a number`);
      if (size !== this.size) throw new Refused('size', `${HEADER.recordSize} is ${size}, the channel's records are ${this.size} bytes`);
    }
    if (this.encoding === 'raw') {
      if (data.length !== this.type.SIZE) throw new Refused('size', `the payload is ${data.length} bytes, the channel's records are ${this.size}`);
      new Uint8Array(target.view.buffer, target.view.byteOffset + target.offset, this.type.SIZE).set(data);
      return;
    }
    const input = jsonToInput(this.shape!, data);
    target.assign(input);
  }
}
