// Test helpers: C++ programs from build/ and TS programs from ts/ run as child processes; every child
// is killed in afterEach, every temp dir removed.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const buildDir = resolve(here, '..', 'build');
export const tsDir = resolve(here, '..', 'ts');

export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'mmbus-examples-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

const children = new Set<ChildProcess>();
/** Kills every child still running: no process is left behind. */
export function killChildren(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  children.clear();
}

export interface Exit {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

export interface Child {
  proc: ChildProcess;
  /** Resolves with the first stdout line containing `text`; rejects if the child exits first. */
  line(text: string): Promise<string>;
  exited: Promise<Exit>;
  /** Writes a line to the child's stdin. */
  send(line: string): void;
}

function run(command: string, args: string[]): Child {
  const proc = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
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
  proc.stdin!.on('error', () => {}); // a child that exited early: EPIPE is not the test's failure
  const exited = new Promise<Exit>((res) =>
    proc.on('exit', (code, signal) => {
      children.delete(proc);
      res({ code, signal, stdout, stderr });
    }),
  );
  return {
    proc,
    exited,
    send: (line) => void proc.stdin!.write(`${line}\n`),
    line: (text) =>
      new Promise((res, rej) => {
        const l = stdout.split('\n').find((x) => x.includes(text));
        if (l !== undefined) return res(l);
        waiters.push({ text, resolve: res });
        void exited.then((e) => rej(new Error(`${command} exited (${e.code ?? e.signal}) before printing '${text}': ${e.stderr}`)));
      }),
  };
}

/** Runs a C++ program of build/ (collector-host, person-publisher, person-subscriber). */
export function runCpp(name: string, args: string[]): Child {
  const path = join(buildDir, name);
  if (!existsSync(path)) throw new Error(`${path} is missing: build examples-cpp first (npx nx run examples-cpp:build)`);
  return run(path, args);
}

/** Runs ts/<name>.ts in a child Node process through tsx. */
export function runTs(name: string, args: string[]): Child {
  return run(process.execPath, ['--import', 'tsx', join(tsDir, `${name}.ts`), ...args]);
}

/** The original demo's checksum over indexes [0, n): +0 -1 +2 -3 ... */
export function expectedChecksum(n: number): number {
  return n % 2 === 0 ? -(n / 2) : (n - 1) / 2;
}

export function lastJson<T>(stdout: string): T {
  const lines = stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!) as T;
}

/** Waits for a child to exit 0 and returns its last JSON line. */
export async function resultOf<T>(child: Child): Promise<T> {
  const e = await child.exited;
  if (e.code !== 0) throw new Error(`child exited with ${e.code ?? e.signal}: ${e.stderr}`);
  return lastJson<T>(e.stdout);
}
