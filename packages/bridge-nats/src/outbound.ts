// mmbus → NATS: a durable subscriber of the channel; each batch is copied, published, and acknowledged
// in mmbus only once NATS has it (JetStream: every record's PubAck; core NATS: a flush). A batch that
// is not confirmed stays unacknowledged in mmbus, so a restarted bridge sends it again; JetStream
// drops the copies it already stored by their message ids.
//
// A `kv` route is the same path into a KV bucket's stream: a durable keyed subscriber (snapshot
// 'changed': a restart first puts the keys that changed while the bridge was away), each record put
// to $KV.<bucket>.<key>; a batch carries each key once (its last value in the batch), so records
// sent again after a partial acknowledgement can never put an older value over a newer one.
import { createInbox, type Msg, type NatsError, type Subscription as NatsSubscription } from 'nats';

import type { Batch, RecordView, Subscription } from '@mmbus/core';

import { openRouteChannel, type RecordChannel } from './channels.js';
import { BridgeError } from './errors.js';
import { kvPrefix, type BridgeConfig, type ForwardRouteConfig } from './config.js';
import type { GeneratedRecord, RecordClass } from './layout.js';
import type { NatsLink } from './link.js';
import type { OutRouteStats } from './stats.js';
import { OnceLog, pause } from './util.js';
import { messageId, RecordCodec } from './wire.js';

const RETRY_MIN_MS = 50;
const RETRY_MAX_MS = 2000;
const td = new TextDecoder();

/** Records of a channel copied out of the ring and encoded: record i is sequence seqs[i]. */
interface OutBatch {
  seqs: number[];
  /** kv: record i's subject ($KV.<bucket>.<key>); null: the route's subject. */
  subjects: string[] | null;
  payloads: Uint8Array[];
}

export class OutRoute {
  readonly cfg: ForwardRouteConfig;
  readonly label: string;
  private readonly bridge: BridgeConfig;
  private readonly link: NatsLink;
  private readonly log: (line: string) => void;
  private readonly once: OnceLog;
  private ch: RecordChannel | null = null;
  private sub: Subscription<GeneratedRecord & RecordView> | null = null;
  private codec!: RecordCodec;
  private incarnation = 0;
  private acks: NatsSubscription | null = null;
  private inbox = '';
  /** JetStream: the sequence numbers sent and not acknowledged yet, and who to tell when none are left. */
  private unacked = new Set<number>();
  private onAck: (() => void) | null = null;
  private ackError: string | null = null;
  /** Error answers in this attempt: when every record left has one, the attempt ends without waiting. */
  private failedAnswers = 0;
  private waiting = false;
  private stopping = false;
  /** A stop waits this long for the batch in flight; then `drainPassed` and `drainDeadline` resolves. */
  private drainPassed = false;
  private passDrain!: () => void;
  private readonly drainDeadline = new Promise<void>((r) => (this.passDrain = r));
  private drainTimer: NodeJS.Timeout | undefined;
  private readonly counters: Omit<OutRouteStats, 'direction' | 'channel' | 'subject' | 'encoding' | 'durable' | 'stream' | 'bucket' | 'waiting' | 'lag' | 'lost'> = {
    forwarded: 0,
    resent: 0,
    acked: 0,
    duplicates: 0,
    overwritten: 0,
    inFlight: 0,
    lastSeq: null,
    held: false,
  };

  constructor(cfg: ForwardRouteConfig, bridge: BridgeConfig, link: NatsLink, log: (line: string) => void) {
    this.cfg = cfg;
    this.bridge = bridge;
    this.link = link;
    this.label = cfg.direction === 'kv' ? `${cfg.channel} → KV ${cfg.bucket}` : `${cfg.channel} → ${cfg.subject}`;
    this.log = (line) => log(`route ${this.label}: ${line}`);
    this.once = new OnceLog(this.log);
  }

  /** JetStream (a stream, or a KV bucket's): every record acknowledged, ids for de-duplication. */
  private get acknowledged(): boolean {
    return this.cfg.direction === 'kv' || this.cfg.jetstream !== null;
  }

  /** Opens the channel and its durable subscriber, and (JetStream) the subscription acknowledgements come on. */
  open(types: RecordClass[]): void {
    const cfg = this.cfg;
    const create = cfg.direction === 'kv' && cfg.keys !== undefined ? { keys: cfg.keys } : {};
    const ch = openRouteChannel(this.bridge.dir, cfg.channel, cfg.type, types, create);
    this.ch = ch;
    if (cfg.direction === 'kv' && !ch.keyCount) {
      ch.close();
      throw new BridgeError('BRIDGE_E_CONFIG', `route ${this.label}: channel '${cfg.channel}' is not keyed (a bucket holds the latest value per key: forward it as a stream with an 'out' route)`);
    }
    this.codec = new RecordCodec(ch.type as unknown as RecordClass, cfg.encoding);
    this.incarnation = ch.info.createdAt.getTime();
    if (this.acknowledged) {
      this.inbox = createInbox();
      this.acks = this.link.nc.subscribe(`${this.inbox}.*`, { callback: (err, m) => this.ack(err, m) });
    }
    this.sub =
      cfg.direction === 'kv'
        ? ch.subscribe({ name: cfg.durable, keys: 'all', snapshot: 'changed', maxBatch: cfg.batch })
        : ch.subscribe({ name: cfg.durable, start: cfg.start, maxBatch: cfg.batch });
  }

  /** A stop left its batch unacknowledged (see run()). */
  get isHeld(): boolean {
    return this.counters.held;
  }

  stats(): OutRouteStats {
    let lag = 0;
    let lost = 0;
    if (this.ch && !this.ch.closed) {
      try {
        const me = this.ch.stats().subscribers.find((s) => s.durable && s.name === this.cfg.durable);
        lag = me?.lag ?? 0;
        lost = Math.max(me?.lost ?? 0, this.sub?.lost ?? 0);
      } catch {
        // a channel removed under the bridge has no stats: run() reports it
      }
    }
    const cfg = this.cfg;
    return {
      direction: cfg.direction,
      channel: cfg.channel,
      subject: cfg.subject,
      encoding: cfg.encoding,
      durable: cfg.durable,
      stream: cfg.direction === 'kv' ? `KV_${cfg.bucket}` : (cfg.jetstream?.stream ?? null),
      bucket: cfg.direction === 'kv' ? cfg.bucket : null,
      ...this.counters,
      waiting: this.waiting,
      lag,
      lost,
    };
  }

  /**
   * Forwards batches until stopped. A batch is acknowledged in mmbus (by taking the next one, or by
   * leaving the iteration) only after NATS confirmed all of it; if a stop comes first and the drain
   * time-out passes, the batch is left unacknowledged and the subscription open (`held`): the process
   * must then exit without closing it, and the next start forwards the batch again.
   */
  async run(): Promise<void> {
    const sub = this.sub!;
    const it = sub[Symbol.asyncIterator]();
    const type = this.ch!.type as unknown as RecordClass;
    const size = type.SIZE;
    const scratch = new type();
    const kv = this.cfg.direction === 'kv' ? `${kvPrefix(this.cfg.bucket)}.` : null;
    for (;;) {
      if (this.stopping) break;
      this.waiting = true;
      let r: IteratorResult<Batch<GeneratedRecord & RecordView>>;
      try {
        r = await it.next();
      } finally {
        this.waiting = false;
      }
      if (r.done) break;
      const b = r.value;
      // copy first, then ask which records were overwritten meanwhile (overwrite channels only)
      const n = b.length;
      const copy = new Uint8Array(n * size);
      for (let i = 0; i < n; i++) {
        const rec = b.get(i);
        copy.set(new Uint8Array(rec.view.buffer, rec.view.byteOffset + rec.offset, size), i * size);
      }
      const bad = b.overwritten();
      this.counters.overwritten += bad;
      const view = new DataView(copy.buffer);
      const batch: OutBatch = { seqs: [], subjects: kv ? [] : null, payloads: [] };
      // kv: each key once, with its last value in the batch (the one a bucket of history 1 keeps)
      const last = kv ? new Map<number, number>() : null;
      if (last) for (let i = bad; i < n; i++) last.set(b.keyOf(i), i);
      const picked = last ? [...last.values()].sort((x, y) => x - y) : Array.from({ length: n - bad }, (_, j) => bad + j);
      for (const i of picked) {
        scratch.wrap(view, i * size);
        batch.payloads.push(this.codec.payload(scratch, copy.subarray(i * size, (i + 1) * size)));
        batch.seqs.push(b.seqOf(i));
        if (kv) batch.subjects!.push(`${kv}${b.keyOf(i)}`);
      }
      const payloads = batch.payloads;
      this.counters.inFlight = payloads.length;
      const done = payloads.length === 0 || (await (this.acknowledged ? this.sendJetStream(batch) : this.sendCore(batch)));
      this.counters.inFlight = done ? 0 : payloads.length;
      if (!done) {
        this.counters.held = true;
        this.log(`stopped with ${payloads.length} records not confirmed by NATS: left unacknowledged in mmbus, forwarded again at the next start`);
        return;
      }
      for (const seq of batch.seqs) if (this.counters.lastSeq === null || seq > this.counters.lastSeq) this.counters.lastSeq = seq;
    }
    await it.return?.(); // acknowledges the last batch, which NATS confirmed
  }

  /** Asks run() to end: at once when it waits for records, else after the batch in flight (or the drain time-out). */
  stop(): void {
    if (this.stopping) return;
    this.stopping = true;
    this.drainTimer = setTimeout(() => {
      this.drainPassed = true;
      this.passDrain();
    }, this.bridge.drainTimeoutMs);
    if (this.waiting) this.close(); // holds no batch while it waits: nothing is acknowledged
  }

  /** Closes the subscription and channel (not after a held stop: see run()). Safe to call again. */
  close(): void {
    clearTimeout(this.drainTimer);
    this.acks?.unsubscribe();
    this.acks = null;
    if (this.counters.held) return;
    try {
      this.sub?.close();
      this.ch?.close();
    } catch {
      // a channel removed under the bridge cannot be closed cleanly: the failure was reported by run()
    }
  }

  // ---- publishing ----------------------------------------------------------------------------------

  /** Publishes the batch's records (JetStream: those not acknowledged yet, with ids and reply subjects). */
  private publishAll(batch: OutBatch, reply: boolean): void {
    const { nc } = this.link;
    const js = this.acknowledged;
    for (let i = 0; i < batch.payloads.length; i++) {
      const seq = batch.seqs[i]!;
      if (reply && !this.unacked.has(seq)) continue;
      const hdrs = this.codec.headers(this.cfg.channel, seq, js ? messageId(this.bridge.origin, this.cfg.channel, this.incarnation, seq) : undefined);
      nc.publish(batch.subjects?.[i] ?? this.cfg.subject, batch.payloads[i], reply ? { reply: `${this.inbox}.${seq}`, headers: hdrs } : { headers: hdrs });
    }
  }

  /** Core NATS: publishes the batch and flushes; on a failure, waits for the connection and sends it all again. */
  private async sendCore(batch: OutBatch): Promise<boolean> {
    const n = batch.payloads.length;
    let delay = RETRY_MIN_MS;
    for (let attempt = 0; ; attempt++) {
      if (!(await this.connected())) return false;
      try {
        this.publishAll(batch, false);
        if (attempt === 0) this.counters.forwarded += n;
        else this.counters.resent += n;
        const flushed = this.link.nc.flush();
        flushed.catch(() => {}); // raced below; a rejection after the drain time-out is nobody's
        await Promise.race([flushed, this.drainDeadline]);
        if (this.drainPassed) return false;
        this.counters.acked += n;
        this.once.forget('flush');
        return true;
      } catch (err) {
        this.once.say('flush', `publishing failed (${(err as Error).message}); sending the batch again once connected`);
      }
      await pause(delay, this.drainDeadline);
      if (this.drainPassed) return false;
      delay = Math.min(delay * 2, RETRY_MAX_MS);
    }
  }

  // ---- JetStream ---------------------------------------------------------------------------------

  /** A PubAck (or an error) for the record whose sequence number ends the reply subject. */
  private ack(err: NatsError | null, m: Msg): void {
    if (err) return;
    const seq = Number(m.subject.slice(this.inbox.length + 1));
    if (!this.unacked.has(seq)) return; // a late answer to a send already confirmed
    const failed = (why: string): void => {
      this.ackError = why;
      if (++this.failedAnswers >= this.unacked.size) this.onAck?.();
    };
    if (m.headers?.code === 503) return failed(`no JetStream stream captures ${this.cfg.subject} (503 no responders)`);
    let a: { error?: { code?: number; err_code?: number; description?: string }; duplicate?: boolean };
    try {
      a = JSON.parse(td.decode(m.data)) as typeof a;
    } catch {
      return failed(`an acknowledgement that is not JSON: ${td.decode(m.data).slice(0, 100)}`);
    }
    if (a.error) return failed(`JetStream refused a record: ${a.error.description ?? 'error'} (${a.error.err_code ?? a.error.code})`);
    this.unacked.delete(seq);
    this.counters.acked++;
    if (a.duplicate) this.counters.duplicates++;
    if (this.failedAnswers >= this.unacked.size) this.onAck?.();
  }

  /**
   * Publishes every record not acknowledged yet (with its message id, replies to this route's inbox),
   * and waits until all are acknowledged, the ack time-out passes, or the connection drops; then
   * sends what is left again, until everything is confirmed or a stop's drain time-out passes.
   */
  private async sendJetStream(batch: OutBatch): Promise<boolean> {
    const n = batch.payloads.length;
    this.unacked = new Set(batch.seqs);
    let delay = RETRY_MIN_MS;
    for (let attempt = 0; ; attempt++) {
      if (!(await this.connected())) return false;
      this.ackError = null;
      this.failedAnswers = 0;
      const all = new Promise<void>((r) => (this.onAck = r));
      let dropped!: () => void;
      const lost = new Promise<void>((r) => (dropped = r));
      const off = this.link.onDisconnect(dropped);
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<void>((r) => (timer = setTimeout(r, this.bridge.nats.ackTimeoutMs)));
      try {
        const sending = this.unacked.size;
        this.publishAll(batch, true);
        if (attempt === 0) this.counters.forwarded += n;
        else this.counters.resent += sending;
        await Promise.race([all, lost, timedOut, this.drainDeadline]);
      } catch (err) {
        this.ackError = `publishing failed (${(err as Error).message})`;
      } finally {
        clearTimeout(timer);
        off();
        this.onAck = null;
      }
      if (this.unacked.size === 0) {
        this.once.forget('ack');
        return true;
      }
      if (this.drainPassed) return false;
      this.once.say('ack', `${this.unacked.size} of ${n} records not acknowledged (${this.ackError ?? 'no answer in time, or the connection dropped'}); sending them again`);
      await pause(delay, this.drainDeadline);
      if (this.drainPassed) return false;
      delay = Math.min(delay * 2, RETRY_MAX_MS);
    }
  }

  /** Waits for the connection; false if a stop's drain time-out passes first. */
  private async connected(): Promise<boolean> {
    if (!this.link.connected) await this.link.whenConnected(this.drainDeadline);
    return !this.drainPassed && this.link.connected;
  }
}
