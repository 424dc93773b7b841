// A real nats-server for the tests and the benchmark: on a loopback port, JetStream in a temp dir,
// stopped (and its store removed) by stop(). Not used by the bridge itself.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

import { BridgeError } from './errors.js';

/** Where Debian's package puts it (apt-get install nats-server), then the usual places. */
const CANDIDATES = ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'];
const START_TIMEOUT_MS = 15_000;
const STOP_GRACE_MS = 5_000;
/** setpriv (util-linux) asks the kernel to kill the server when its parent dies: never left behind. */
const SETPRIV = '/usr/bin/setpriv';

/** The nats-server binary (Debian's place, else on `path`), or a BRIDGE_E_SERVER error that says how to install it. */
export function findNatsServer(candidates: readonly string[] = CANDIDATES, path = process.env['PATH'] ?? ''): string {
  for (const p of [...candidates, ...path.split(delimiter).filter(Boolean).map((d) => join(d, 'nats-server'))]) if (existsSync(p)) return p;
  throw new BridgeError(
    'BRIDGE_E_SERVER',
    'nats-server is not installed: install it with `apt-get install nats-server` (Debian package; .ci/run installs it)',
  );
}

export interface NatsServerOptions {
  /** Enable JetStream (file storage in a temp dir). Default true. */
  jetstream?: boolean;
}

export class NatsServer {
  readonly bin: string;
  readonly storeDir: string;
  readonly jetstream: boolean;
  /** Fixed once the first start chose it: a restart listens on the same port. */
  port = -1;
  private proc: ChildProcess | null = null;
  private log = '';

  private constructor(bin: string, opts: NatsServerOptions) {
    this.bin = bin;
    this.jetstream = opts.jetstream ?? true;
    this.storeDir = mkdtempSync(join(tmpdir(), 'mmbus-nats-'));
  }

  /** Starts a server on a free loopback port; resolves once it accepts clients. */
  static async start(opts: NatsServerOptions = {}): Promise<NatsServer> {
    const s = new NatsServer(findNatsServer(), opts);
    try {
      await s.launch();
    } catch (err) {
      await s.stop();
      throw err;
    }
    return s;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  get running(): boolean {
    return this.proc !== null && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** The server's log so far (for failure messages). */
  output(): string {
    return this.log;
  }

  private launch(): Promise<void> {
    // -p -1: the server picks a free port and logs it; later starts reuse it
    const args = ['-a', '127.0.0.1', '-p', String(this.port), ...(this.jetstream ? ['-js', '-sd', this.storeDir] : [])];
    const [cmd, argv] = existsSync(SETPRIV) ? [SETPRIV, ['--pdeathsig', 'SIGKILL', this.bin, ...args]] : [this.bin, args];
    const proc = spawn(cmd, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.proc = proc;
    this.log = '';
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(`did not become ready within ${START_TIMEOUT_MS} ms`), START_TIMEOUT_MS);
      const fail = (why: string): void => {
        clearTimeout(timer);
        reject(new BridgeError('BRIDGE_E_SERVER', `nats-server ${why}: ${this.log.trim().split('\n').slice(-5).join(' | ')}`));
      };
      proc.on('error', (err) => fail(`could not be started (${err.message})`));
      proc.on('exit', (code, signal) => fail(`exited (${signal ?? code})`));
      proc.stderr!.setEncoding('utf8').on('data', (d: string) => {
        this.log += d;
        const m = /Listening for client connections on [^\s]*:(\d+)/.exec(this.log);
        if (m && this.port < 0) this.port = Number(m[1]);
        if (this.log.includes('Server is ready')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  }

  /** Stops the server (SIGTERM: a clean shutdown; SIGKILL: a crash), keeping its store. */
  async halt(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill(signal);
    const t = setTimeout(() => p.kill('SIGKILL'), STOP_GRACE_MS);
    await exited;
    clearTimeout(t);
  }

  /** Starts it again on the same port with the same JetStream store. */
  async restart(): Promise<void> {
    await this.halt();
    await this.launch();
  }

  /** Kills the server, waits for it to exit and removes its store. Safe to call more than once. */
  async stop(): Promise<void> {
    await this.halt('SIGKILL');
    this.proc = null;
    rmSync(this.storeDir, { recursive: true, force: true });
  }
}
