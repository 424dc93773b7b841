// NATS → mmbus: every message of the subject is checked and decoded into a staging chunk as it
// arrives (a refused one is counted and never written); chunks are published with publishBatch,
// one claim per chunk, after each burst the client delivered, under the channel's own policy.
import { DeliverPolicy, type ConsumerMessages, type JsMsg, type MsgHdrs, type Msg, type Subscription as NatsSubscription } from 'nats';

import { openChannel } from '@mmbus/core';
import { MmbusError } from '@mmbus/runtime';

import { openRouteChannel, type RecordChannel } from './channels.js';
import { kvPrefix, type BridgeConfig, type InRouteConfig } from './config.js';
import { BridgeError } from './errors.js';
import type { GeneratedRecord, RecordClass } from './layout.js';
import type { NatsLink } from './link.js';
import { Refused, type RefusalKind } from './refused.js';
import type { InRouteStats } from './stats.js';
import { OnceLog, pause } from './util.js';
import { RecordCodec } from './wire.js';

const WAIT_MIN_MS = 1;
const WAIT_MAX_MS = 20;
/** Records that may wait for room in a full `block` channel (the larger of rings and batches): more are dropped (`backlog`). */
const BACKLOG_RINGS = 2;
const BACKLOG_BATCHES = 16;
/** How often the channel file is checked (removed or replaced under the bridge: MMBUS_E_STALE), like mmbus's own waits do. */
const CHECK_MS = 1000;

interface Chunk {
  bytes: Uint8Array;
  view: DataView;
  n: number;
}

export class InRoute {
  readonly cfg: InRouteConfig;
  readonly label: string;
  private readonly bridge: BridgeConfig;
  private readonly link: NatsLink;
  private readonly log: (line: string) => void;
  private readonly once: OnceLog;
  private ch: RecordChannel | null = null;
  private codec!: RecordCodec;
  private size = 0;
  private capacity = 0;
  private backlog = 0;
  private blockTimeoutMs = 0;
  private target!: GeneratedRecord;
  private sub: NatsSubscription | null = null;
  /** A bucket's route: an ordered consumer of its stream, each key's last value first. */
  private messages: ConsumerMessages | null = null;
  private reading: Promise<void> | null = null;
  private chunk: Chunk | null = null;
  private readonly queue: Chunk[] = [];
  private queued = 0;
  private pumping: Promise<void> | null = null;
  private scheduled = false;
  private checker: NodeJS.Timeout | undefined;
  private fail!: (err: Error) => void;
  /** Rejects when publishing into the channel fails (a channel removed under it, a broken file). */
  readonly failed = new Promise<never>((_, reject) => (this.fail = reject));
  private readonly counters: Omit<InRouteStats, 'direction' | 'channel' | 'subject' | 'bucket' | 'encoding' | 'lag' | 'queued'> = {
    received: 0,
    published: 0,
    refused: {},
    dropped: { full: 0, timeout: 0, backlog: 0 },
  };

  constructor(cfg: InRouteConfig, bridge: BridgeConfig, link: NatsLink, log: (line: string) => void) {
    this.failed.catch(() => {}); // observed by the bridge
    this.cfg = cfg;
    this.bridge = bridge;
    this.link = link;
    this.label = cfg.bucket !== undefined ? `KV ${cfg.bucket} → ${cfg.channel}` : `${cfg.subject} → ${cfg.channel}`;
    this.log = (line) => log(`route ${this.label}: ${line}`);
    this.once = new OnceLog(this.log);
  }

  /** Opens (or creates, with `type`) the channel; publishes never wait inside a call (see publishChunk). */
  open(types: RecordClass[]): void {
    const first = openRouteChannel(this.bridge.dir, this.cfg.channel, this.cfg.type, types, {
      ...(this.cfg.capacity !== undefined ? { capacity: this.cfg.capacity } : {}),
      ...(this.cfg.policy !== undefined ? { policy: this.cfg.policy } : {}),
      ...(this.cfg.keys !== undefined ? { keys: this.cfg.keys } : {}),
    });
    if (this.cfg.bucket !== undefined && !first.keyCount) {
      first.close();
      throw new BridgeError('BRIDGE_E_CONFIG', `route ${this.label}: channel '${this.cfg.channel}' is not keyed (a bucket's values go into a keyed channel, key = the key name)`);
    }
    // the file's block time-out is how long publishBatch would wait: the bridge waits that long itself,
    // on a second handle whose own time-out is 0 (a time-out given at creation would become the file's)
    this.blockTimeoutMs = first.info.blockTimeoutMs;
    const ch = openChannel(this.cfg.channel, first.type, { dir: this.bridge.dir, create: false, timeoutMs: 0 });
    first.close();
    this.ch = ch;
    const type = ch.type as unknown as RecordClass;
    this.codec = new RecordCodec(type, this.cfg.encoding);
    this.size = type.SIZE;
    this.capacity = ch.info.capacity;
    this.backlog = Math.max(BACKLOG_RINGS * this.capacity, BACKLOG_BATCHES * this.cfg.batch);
    this.target = new type();
  }

  async start(): Promise<void> {
    // a publisher never waits here, so nothing else would notice the file going away
    this.checker = setInterval(() => {
      try {
        this.ch?.check();
      } catch (err) {
        clearInterval(this.checker);
        this.fail(err as Error);
      }
    }, CHECK_MS);
    this.checker.unref();
    if (this.cfg.bucket !== undefined) {
      // an ordered consumer: re-created by the client after a gap or a reconnect, from where it was
      const consumer = await this.link.nc.jetstream().consumers.get(`KV_${this.cfg.bucket}`, {
        filterSubjects: `${kvPrefix(this.cfg.bucket)}.>`, // one filter: nats-server 2.9 has no filter_subjects
        deliver_policy: DeliverPolicy.LastPerSubject,
      });
      const messages = await consumer.consume();
      this.messages = messages;
      this.reading = (async () => {
        for await (const m of messages) this.takeEntry(m);
      })().catch((err: unknown) => this.fail(err instanceof Error ? err : new Error(String(err))));
      return;
    }
    this.sub = this.link.nc.subscribe(this.cfg.subject, {
      ...(this.cfg.queue ? { queue: this.cfg.queue } : {}),
      callback: (err, m) => {
        if (!err) this.take(m);
      },
    });
  }

  stats(): InRouteStats {
    return {
      direction: 'in',
      channel: this.cfg.channel,
      subject: this.cfg.subject,
      encoding: this.cfg.encoding,
      ...this.counters,
      refused: { ...this.counters.refused },
      dropped: { ...this.counters.dropped },
      queued: this.queued + (this.chunk?.n ?? 0),
      lag: this.sub && !this.sub.isClosed() ? this.sub.getPending() : (this.messages?.getPending() ?? 0),
      bucket: this.cfg.bucket ?? null,
    };
  }

  private newChunk(): Chunk {
    const bytes = new Uint8Array(this.cfg.batch * this.size);
    return { bytes, view: new DataView(bytes.buffer), n: 0 };
  }

  /** A bucket's entry: a put of a key of the channel, whose record carries that key; deletes refused. */
  private takeEntry(m: JsMsg): void {
    const op = m.headers?.get('KV-Operation');
    if (op === 'DEL' || op === 'PURGE') {
      this.counters.received++;
      return this.refuse('kv-delete', `${op} of key '${m.subject.slice(this.cfg.subject.length - 1)}': keyed channels have no deletions`);
    }
    const name = m.subject.slice(this.cfg.subject.length - 1); // after '$KV.<bucket>.'
    const key = /^(0|[1-9][0-9]{0,8})$/.test(name) ? Number(name) : -1;
    const ch = this.ch!;
    if (key < 0 || key >= ch.keyCount) {
      this.counters.received++;
      return this.refuse('kv-key', `key '${name}' is not one of the keys 0 .. ${ch.keyCount - 1} of '${this.cfg.channel}' (decimal)`);
    }
    this.take(m, (record) => {
      const own = ch.keyOf(record as unknown as Parameters<typeof ch.keyOf>[0]);
      return own === key ? null : `key '${name}' holds a record of key ${own}`;
    });
  }

  /**
   * One NATS message: checked and decoded into the staging chunk now, published after the burst.
   * `check` looks at the decoded record: a reason to refuse it (kind kv-key), or null.
   */
  private take(m: Msg | JsMsg, check?: (record: GeneratedRecord) => string | null): void {
    this.counters.received++;
    if (this.queued + (this.chunk?.n ?? 0) >= this.backlog) {
      this.counters.dropped.backlog++;
      this.once.say('backlog', `${this.backlog} records wait for room in the channel: dropping new ones (counted as dropped.backlog)`);
      return;
    }
    const c = (this.chunk ??= this.newChunk());
    this.target.wrap(c.view, c.n * this.size);
    try {
      this.codec.decode(m.data, m.headers as MsgHdrs | undefined, this.target);
      const why = check?.(this.target);
      if (why) throw new Refused('kv-key', why);
    } catch (err) {
      c.bytes.fill(0, c.n * this.size, (c.n + 1) * this.size);
      if (err instanceof Refused) this.refuse(err.kind, err.message);
      else this.log(`a message could not be decoded (a bug: ${(err as Error).stack ?? String(err)}); not published`);
      return;
    }
    if (++c.n === this.cfg.batch) {
      this.queue.push(c);
      this.queued += c.n;
      this.chunk = null;
    }
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.pump().catch((err: unknown) => this.fail(err instanceof Error ? err : new Error(String(err))));
      });
    }
  }

  private refuse(kind: RefusalKind, why: string): void {
    this.counters.refused[kind] = (this.counters.refused[kind] ?? 0) + 1;
    this.once.say(`refused:${kind}`, `refused a message (${kind}): ${why}; more of this kind are counted, not logged`);
  }

  /** Publishes every waiting chunk, in order; one pump at a time. */
  private pump(): Promise<void> {
    this.pumping ??= (async () => {
      try {
        for (;;) {
          if (this.queue.length === 0 && this.chunk && this.chunk.n > 0) {
            this.queue.push(this.chunk);
            this.queued += this.chunk.n;
            this.chunk = null;
          }
          const c = this.queue[0];
          if (!c) break;
          await this.publishChunk(c);
          this.queue.shift();
          this.queued -= c.n;
        }
      } finally {
        this.pumping = null;
      }
    })();
    return this.pumping;
  }

  /**
   * publishBatch in claims of at most a ring. The channel's policy decides a full ring: `reject`
   * publishes what fits (halving the claim) and drops the rest of the chunk (dropped.full); `block`
   * waits without blocking the event loop, up to the file's block time-out, then drops the claim
   * (dropped.timeout); `overwrite` is never full.
   */
  private async publishChunk(c: Chunk): Promise<void> {
    const ch = this.ch!;
    const size = this.size;
    let off = 0;
    let k = Math.min(c.n, this.capacity);
    let deadline = Date.now() + this.blockTimeoutMs;
    let wait = WAIT_MIN_MS;
    while (off < c.n) {
      k = Math.min(k, c.n - off);
      const from = off;
      const fill = (r: GeneratedRecord, i: number): void => {
        new Uint8Array(r.view.buffer, r.view.byteOffset + r.offset, size).set(c.bytes.subarray((from + i) * size, (from + i + 1) * size));
      };
      let outcome: 'published' | 'full' | 'timeout';
      try {
        outcome = ch.publishBatch(k, fill, k) === k ? 'published' : 'full'; // one claim: all of it or none
      } catch (err) {
        if (!(err instanceof MmbusError) || err.code !== 'MMBUS_E_TIMEOUT') throw err;
        if (Date.now() < deadline) {
          await pause(wait);
          wait = Math.min(wait * 2, WAIT_MAX_MS);
          continue;
        }
        outcome = 'timeout';
      }
      if (outcome === 'full') {
        if (k > 1) {
          k = Math.ceil(k / 2);
          continue;
        }
        const rest = c.n - off;
        this.counters.dropped.full += rest;
        this.once.say('full', `the channel (policy reject) was full: dropped ${rest} records (counted as dropped.full)`);
        return;
      }
      if (outcome === 'published') {
        this.counters.published += k;
      } else {
        this.counters.dropped.timeout += k;
        this.once.say('timeout', `the channel (policy block) stayed full for ${this.blockTimeoutMs} ms: dropped ${k} records (counted as dropped.timeout)`);
      }
      off += k;
      deadline = Date.now() + this.blockTimeoutMs;
      wait = WAIT_MIN_MS;
    }
  }

  /** Stops taking messages, publishes what was already taken (waiting for room as above), closes the channel. */
  async stop(): Promise<void> {
    if (this.messages) {
      // what the client already holds is taken before the iteration ends
      this.messages.stop();
      await pause(this.bridge.drainTimeoutMs, this.reading ?? undefined);
    }
    if (this.sub && !this.sub.isClosed()) {
      // messages the client already holds are delivered to take() before drain() resolves; a
      // drain needs the server, which may be gone: wait for it at most the drain time-out
      const drained = this.sub.drain().catch(() => {});
      await pause(this.bridge.drainTimeoutMs, drained);
      if (!this.sub.isClosed()) this.sub.unsubscribe();
    }
    await this.pump().catch(() => {}); // a failure was reported by `failed`
    clearInterval(this.checker);
    this.ch?.close();
  }
}
