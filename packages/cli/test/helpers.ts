import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const BIN = join(here, '..', 'bin', 'mmbus.mjs');
export const SCHEMAS = join(here, '..', '..', '..', 'schemas');

export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'mmbus-cli-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

const children = new Set<ChildProcess>();
/** Kills every child still running (afterEach): no process is left behind. */
export function killChildren(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  children.clear();
}

export interface Running {
  proc: ChildProcess;
  stdout(): string;
  /** Resolves when stdout contains `text` (rejects if the child exits first). */
  waitFor(text: string | RegExp): Promise<string>;
  exited: Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }>;
}

function track(proc: ChildProcess): Running {
  children.add(proc);
  let stdout = '';
  let stderr = '';
  const waiters: { test: (s: string) => boolean; resolve: (s: string) => void }[] = [];
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
    for (const w of [...waiters]) {
      if (w.test(stdout)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(stdout);
      }
    }
  });
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }>((resolve) =>
    proc.on('exit', (code, signal) => {
      children.delete(proc);
      // let the pipes drain
      setImmediate(() => resolve({ code, signal, stdout, stderr }));
    }),
  );
  return {
    proc,
    exited,
    stdout: () => stdout,
    waitFor: (text) =>
      new Promise((resolve, reject) => {
        const test = (s: string): boolean => (typeof text === 'string' ? s.includes(text) : text.test(s));
        if (test(stdout)) return resolve(stdout);
        waiters.push({ test, resolve });
        void exited.then((e) => reject(new Error(`child exited (${e.code ?? e.signal}) before printing ${String(text)}: ${e.stderr}`)));
      }),
  };
}

const baseEnv = (): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  delete env.FORCE_COLOR;
  delete env.MMBUS_DIR;
  return env;
};

/** Starts `node bin/mmbus.mjs ...args`. */
export function startCli(args: string[], env: NodeJS.ProcessEnv = {}): Running {
  const proc = spawn(process.execPath, [BIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...baseEnv(), ...env } });
  return track(proc);
}

/** Runs the CLI to its end (killed after 30 s), with optional stdin. */
export async function cli(args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const r = startCli(args, opts.env);
  r.proc.stdin!.end(opts.input ?? '');
  const timer = setTimeout(() => r.proc.kill('SIGKILL'), 30_000);
  const e = await r.exited;
  clearTimeout(timer);
  return { code: e.code, stdout: e.stdout, stderr: e.stderr };
}

/** Runs test/fixtures/<name>.ts in a child Node process (through tsx). */
export function runFixture(name: string, args: string[]): Running {
  const proc = spawn(process.execPath, ['--import', 'tsx', join(here, 'fixtures', `${name}.ts`), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: baseEnv(),
  });
  return track(proc);
}
