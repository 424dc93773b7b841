// A private redis-server for the benchmarks (the throughput bench and the web relay bench): found on the
// PATH or installed with apt-get as root, started on a free loopback port without persistence and
// without pub/sub output limits, and returned once it answers PING.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';

export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

function findRedis(): string | null {
  for (const p of ['/usr/bin/redis-server', '/usr/local/bin/redis-server', '/usr/sbin/redis-server']) if (existsSync(p)) return p;
  const w = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  return w.status === 0 && w.stdout.trim() ? w.stdout.trim() : null;
}

function installRedis(): string | null {
  if (process.getuid?.() !== 0) return null;
  console.log('bench: redis-server not found; installing it: apt-get install -y redis-server');
  const r = spawnSync('apt-get', ['install', '-y', 'redis-server'], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  return r.status === 0 ? findRedis() : null;
}

/** Starts redis-server with its working files in `dir`; `onStart` receives the process at once (so a
 * caller's clean-up can kill it even if it never answers). */
export async function startRedisServer(dir: string, onStart: (proc: ChildProcess) => void = () => {}): Promise<{ proc: ChildProcess; port: number; version: string }> {
  const bin = findRedis() ?? installRedis();
  if (!bin) throw new Error('redis-server is not installed and could not be installed (apt-get install -y redis-server, as root)');
  const version = execFileSync(bin, ['--version'], { encoding: 'utf8' }).match(/v=(\S+)/)?.[1] ?? '?';
  const port = await freePort();
  const proc = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'warning', '--client-output-buffer-limit', 'pubsub 0 0 0', '--dir', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  onStart(proc);
  const { Redis } = await import('ioredis');
  for (let i = 0; ; i++) {
    if (proc.exitCode !== null) throw new Error(`redis-server exited with ${proc.exitCode}`);
    const c = new Redis({ host: '127.0.0.1', port, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    c.on('error', () => {});
    try {
      await c.connect();
      await c.ping();
      c.disconnect();
      return { proc, port, version };
    } catch {
      c.disconnect();
      if (i > 100) throw new Error('redis-server did not answer within 5 s');
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
