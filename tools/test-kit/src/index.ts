// Shared helpers of the multi-process tests: every child is tracked and killed by killChildren()
// (call it in afterEach), every temp dir removed by its cleanup().
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';

/** A fresh private directory and the function that removes it. */
export function tempDir(prefix = 'mmbus-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * The environment for child processes: without the test runner's FORCE_COLOR (Node warns about it
 * when NO_COLOR is set too) unless `extra` sets it;
 * `extra` adds variables, and removes those it sets to undefined.
 */
export function childEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  if (!('FORCE_COLOR' in extra)) delete env['FORCE_COLOR'];
  for (const [k, v] of Object.entries(extra)) if (v === undefined) delete env[k];
  return env;
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
  /** Everything the child printed on stdout so far. */
  stdout(): string;
  /** Everything the child printed on stderr so far. */
  stderr(): string;
  /** Resolves with the first stdout line containing `text`; rejects if the child exits first. */
  line(text: string): Promise<string>;
  /** Resolves with all of stdout once it contains `text` (or matches it); rejects if the child exits first. */
  waitFor(text: string | RegExp): Promise<string>;
  /** Resolves with the exit code (or signal) and everything printed. */
  exited: Promise<Exit>;
  /** Writes a line to the child's stdin. */
  send(line: string): void;
}

/** Starts a tracked child process. */
export function spawnChild(command: string, args: string[], env: NodeJS.ProcessEnv = {}): Child {
  const proc = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], env: childEnv(env) });
  children.add(proc);
  let stdout = '';
  let stderr = '';
  const waiters: { test: (out: string) => boolean; resolve: (out: string) => void }[] = [];
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
  proc.stdin!.on('error', () => {}); // a child that exited early: EPIPE is not the test's failure
  const exited = new Promise<Exit>((resolve) =>
    proc.on('exit', (code, signal) => {
      children.delete(proc);
      setImmediate(() => resolve({ code, signal, stdout, stderr })); // let the pipes drain
    }),
  );
  const waitFor = (text: string | RegExp): Promise<string> =>
    new Promise((resolve, reject) => {
      const test = (out: string): boolean => (typeof text === 'string' ? out.includes(text) : text.test(out));
      if (test(stdout)) return resolve(stdout);
      waiters.push({ test, resolve });
      void exited.then((e) => reject(new Error(`${command} exited (${e.code ?? e.signal}) before printing ${String(text)}: ${e.stderr}`)));
    });
  return {
    proc,
    exited,
    stdout: () => stdout,
    stderr: () => stderr,
    send: (line) => void proc.stdin!.write(`${line}\n`),
    waitFor,
    line: async (text) => {
      const out = await waitFor(text);
      return out.split('\n').find((x) => x.includes(text))!;
    },
  };
}

/** Runs a TypeScript file in a child Node process (through tsx), optionally under a wrapper
 * command such as `unshare --pid --fork` (`prefix`). */
export function runTs(file: string, args: string[], env: NodeJS.ProcessEnv = {}, prefix: string[] = []): Child {
  const command = [...prefix, process.execPath, '--import', 'tsx', file, ...args];
  return spawnChild(command[0]!, command.slice(1), env);
}

/** The original demo's checksum for n records: +0 -1 +2 -3 ... */
export function expectedChecksum(n: number): number {
  return n % 2 === 0 ? -(n / 2) : (n - 1) / 2;
}

/** The last line of a child's output, parsed as JSON. */
export function lastJson<T>(stdout: string): T {
  const lines = stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!) as T;
}

/**
 * Registers the usual hooks of a multi-process test file: a fresh temp dir for each test (`perFile`:
 * one for the whole file), handed to `onDir`; after each test every child is killed; the dir is removed.
 */
export function useScratchDir(onDir: (dir: string) => void, opts: { perFile?: boolean; prefix?: string } = {}): void {
  let current: { dir: string; cleanup: () => void } | undefined;
  const make = (): void => {
    current = tempDir(opts.prefix);
    onDir(current.dir);
  };
  const remove = (): void => current?.cleanup();
  if (opts.perFile) {
    beforeAll(make);
    afterAll(remove);
    afterEach(killChildren);
  } else {
    beforeEach(make);
    afterEach(() => {
      killChildren();
      remove();
    });
  }
}

/**
 * Whether a paced stream (`recordsPerPace` records, then a sleep) at `head` of `count` may still have
 * a durable subscriber killed: only while 10 paces are to come. Killed once it had taken the last
 * record, its restarted successor would wait for that record for ever.
 */
export function killableMidStream(head: number, count: number, recordsPerPace: number): boolean {
  return head <= count - 10 * recordsPerPace;
}

/**
 * Reads a durable subscriber's batch log (one "first last" index pair per batch, written before the
 * batch was acknowledged) and says which of [0, count) were never delivered and how many deliveries
 * were repeats (batches in flight when the subscriber was killed).
 */
export function batchLogCoverage(logText: string, count: number): { missing: number; redelivered: number } {
  const seen = new Uint8Array(count);
  let redelivered = 0;
  for (const line of logText.trim().split('\n')) {
    const [first, last] = line.split(' ').map(Number) as [number, number];
    for (let i = first; i <= last; i++) {
      if (seen[i]) redelivered++;
      seen[i] = 1;
    }
  }
  let missing = 0;
  for (let i = 0; i < count; i++) if (!seen[i]) missing++;
  return { missing, redelivered };
}

/** What a child is doing, for a test's failure message: exit status, or each thread's state and the
 * kernel function it sleeps in (Linux /proc), and the tail of its stderr. */
export function describeChild(name: string, child: Child): string {
  const { pid, exitCode, signalCode } = child.proc;
  let state = exitCode !== null || signalCode !== null ? `exited ${exitCode ?? signalCode}` : 'running';
  if (state === 'running' && pid !== undefined) {
    try {
      const threads = readdirSync(`/proc/${pid}/task`).map((t) => {
        const at = (f: string): string => readFileSync(`/proc/${pid}/task/${t}/${f}`, 'utf8').trim();
        return `${at('comm')}:${at('stat').split(') ')[1]?.[0] ?? '?'}:${at('wchan')}`;
      });
      state += `, threads ${threads.join(' ')}`;
    } catch {
      state += ' (no /proc)';
    }
  }
  return `${name} (pid ${pid}) ${state}; stderr: ${child.stderr().slice(-600)}`;
}

/** `work`, or a rejection saying what `describe()` finds if it has not settled within `ms`: a hang
 * fails with the state of things instead of the runner's bare time-out. */
export async function within<T>(ms: number, work: Promise<T>, describe: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not done within ${ms} ms: ${describe()}`)), ms);
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}
