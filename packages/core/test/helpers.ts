import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'mmbus-core-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

const children = new Set<ChildProcess>();
/** Kills every child still running (afterEach / afterAll): no process is left behind. */
export function killChildren(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  children.clear();
}

export interface Child {
  proc: ChildProcess;
  /** Resolves with the line when the child prints a line containing `text`. */
  line(text: string): Promise<string>;
  /** Resolves with the exit code (or the signal) and everything printed. */
  exited: Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }>;
}

/** Runs test/fixtures/<name>.ts in a child Node process (through tsx). */
/** The environment for child processes: without the test runner's FORCE_COLOR (Node warns about it). */
export function childEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.FORCE_COLOR;
  return env;
}

export function runFixture(name: string, args: string[], env: NodeJS.ProcessEnv = {}): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', join(here, 'fixtures', `${name}.ts`), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...childEnv(), ...env },
  });
  children.add(proc);
  let stdout = '';
  let stderr = '';
  const waiters: { text: string; resolve: (l: string) => void }[] = [];
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
    for (const w of [...waiters]) {
      const l = stdout.split('\n').find((x) => x.includes(w.text));
      if (l !== undefined) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(l);
      }
    }
  });
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }>((resolve) =>
    proc.on('exit', (code, signal) => {
      children.delete(proc);
      resolve({ code, signal, stdout, stderr });
    }),
  );
  return {
    proc,
    exited,
    line: (text) =>
      new Promise((resolve, reject) => {
        const l = stdout.split('\n').find((x) => x.includes(text));
        if (l !== undefined) return resolve(l);
        waiters.push({ text, resolve });
        void exited.then((e) => reject(new Error(`child exited (${e.code ?? e.signal}) before printing '${text}': ${e.stderr}`)));
      }),
  };
}

/** The original demo's checksum for n records: +0 -1 +2 -3 ... */
export function expectedChecksum(n: number): number {
  return n % 2 === 0 ? -(n / 2) : (n - 1) / 2;
}

export function lastJson<T>(stdout: string): T {
  const lines = stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!) as T;
}
