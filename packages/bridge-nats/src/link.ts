// The bridge's NATS connection: the `nats` client's own reconnect (forever, every reconnectWaitMs),
// plus what the routes need to know of it: whether it is up now, and a wake-up when it comes back.
import { connect, type NatsConnection } from 'nats';

import type { NatsOptions } from './config.js';
import { BridgeError } from './errors.js';

/** A lost server is noticed within about PING_INTERVAL_MS × (MAX_PINGS_OUT + 1) when its socket does not close. */
const PING_INTERVAL_MS = 5000;
const MAX_PINGS_OUT = 2;

/** A server URL without its user and password (they go to logs and the stats file otherwise). */
export function redact(url: string): string {
  return url.replace(/\/\/[^/@]*@/, '//***@');
}

export interface LinkStats {
  servers: string[];
  connected: boolean;
  /** The server connected to now (host:port), or the last one. */
  server: string | null;
  disconnects: number;
  reconnects: number;
}

export class NatsLink {
  readonly nc: NatsConnection;
  private up = true;
  private waiters: (() => void)[] = [];
  private downListeners = new Set<() => void>();
  private readonly counters: LinkStats;

  private constructor(nc: NatsConnection, servers: string[], log: (line: string) => void) {
    this.nc = nc;
    const counters: LinkStats = { servers: servers.map(redact), connected: true, server: nc.getServer(), disconnects: 0, reconnects: 0 };
    this.counters = counters;
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'disconnect') {
          this.up = false;
          counters.connected = false;
          counters.disconnects++;
          log(`nats: disconnected from ${String(s.data)}; reconnecting`);
          for (const f of [...this.downListeners]) f();
        } else if (s.type === 'reconnect') {
          this.up = true;
          counters.connected = true;
          counters.reconnects++;
          counters.server = String(s.data);
          log(`nats: reconnected to ${String(s.data)}`);
          for (const w of this.waiters.splice(0)) w();
        } else if (s.type === 'error') {
          log(`nats: ${String(s.data)}`);
        }
      }
    })();
  }

  static async open(opts: NatsOptions, name: string, log: (line: string) => void): Promise<NatsLink> {
    const shown = opts.servers.map(redact).join(', ');
    log(`nats: connecting to ${shown}`);
    try {
      const nc = await connect({
        servers: opts.servers,
        name: `mmbus-bridge-${name}`,
        ...(opts.user === undefined ? {} : { user: opts.user }),
        ...(opts.pass === undefined ? {} : { pass: opts.pass }),
        ...(opts.token === undefined ? {} : { token: opts.token }),
        reconnect: true,
        maxReconnectAttempts: -1,
        reconnectTimeWait: opts.reconnectWaitMs,
        // a bridge started before its server waits for it instead of failing
        waitOnFirstConnect: true,
        pingInterval: PING_INTERVAL_MS,
        maxPingOut: MAX_PINGS_OUT,
      });
      log(`nats: connected to ${nc.getServer()}`);
      return new NatsLink(nc, opts.servers, log);
    } catch (err) {
      throw new BridgeError('BRIDGE_E_NATS', `cannot connect to ${shown}: ${(err as Error).message}`, { cause: err });
    }
  }

  get connected(): boolean {
    return this.up && !this.nc.isClosed();
  }

  /** Resolves once connected (at once if it is), or when `stop` resolves first. */
  whenConnected(stop: Promise<void>): Promise<void> {
    if (this.connected) return Promise.resolve();
    return Promise.race([new Promise<void>((r) => this.waiters.push(r)), stop]);
  }

  /** Calls `f` on every disconnect until the returned function is called. */
  onDisconnect(f: () => void): () => void {
    this.downListeners.add(f);
    return () => this.downListeners.delete(f);
  }

  stats(): LinkStats {
    return { ...this.counters, servers: [...this.counters.servers] };
  }

  async close(): Promise<void> {
    if (this.nc.isClosed()) return;
    await this.nc.close();
    for (const w of this.waiters.splice(0)) w();
  }
}
