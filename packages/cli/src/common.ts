// Shared pieces of every command: errors, exit codes and formatting (light: `mmbus --help` loads only
// this and commander; the channel directory and arguments, which need @mmbus/core, are in commands/open.ts).
import { readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';

import { MmbusError } from '@mmbus/runtime';
import type Table from 'cli-table3';
import { InvalidArgumentError } from 'commander';
import pc from 'picocolors';

/** Exit codes (README): 0 ok, 1 problem found / operation failed, 2 bad usage. */
export const EXIT_OK = 0;
export const EXIT_FAIL = 1;
export const EXIT_USAGE = 2;

/** An error the user sees as one line on stderr; `exitCode` 1 (failure) or 2 (bad usage). */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = EXIT_FAIL) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

export interface DirOption {
  dir?: string;
}

/** The channel names of a directory: every `*.db` file, sorted. */
export function listChannelFiles(dir: string): string[] {
  let st;
  try {
    st = statSync(dir);
  } catch {
    throw new CliError(`directory ${dir} does not exist (set --dir or MMBUS_DIR)`);
  }
  if (!st.isDirectory()) throw new CliError(`${dir} is not a directory`);
  return readdirSync(dir)
    .filter((f) => f.endsWith('.db') && f.length > 3)
    .map((f) => f.slice(0, -3))
    .sort();
}

/** One line for any error: MmbusError message with its code, no stack trace. */
export function describeError(err: unknown): string {
  if (err instanceof MmbusError) return `${err.message} [${err.code}]`;
  if (err instanceof Error) return err.message;
  return String(err);
}

/** Plain words for an open failure, by code. */
export function explainOpenError(err: unknown): string {
  if (!(err instanceof MmbusError)) return describeError(err);
  const why: Partial<Record<string, string>> = {
    MMBUS_E_BADFILE: 'not a valid mmbus channel file (foreign, truncated or corrupt)',
    MMBUS_E_VERSION: 'written by another version of the mmbus file format',
    MMBUS_E_NOENT: 'no such channel',
    MMBUS_E_PERM: 'permission denied',
  };
  const plain = why[err.code];
  const detail = err.message.replace(/^opening channel '[^']*' in [^:]*: /, '');
  return plain ? `${plain}: ${detail} [${err.code}]` : `${detail} [${err.code}]`;
}

export function parseIntOption(_name: string, min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`expected an integer >= ${min}.`);
    return n;
  };
}

/** A borderless table (columns aligned with spaces): readable in a terminal, easy to grep or awk. */
const require = createRequire(import.meta.url);
let TableClass: typeof Table | undefined;

export function table(head: string[], colWidths?: number[]): Table.Table {
  // loaded when a table is printed: the module and its dependencies take a while to load
  TableClass ??= require('cli-table3') as typeof Table;
  return new TableClass({
    head: head.map((h) => pc.bold(h)),
    ...(colWidths ? { colWidths } : {}),
    chars: {
      top: '', 'top-mid': '', 'top-left': '', 'top-right': '',
      bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '',
      left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '', middle: '  ',
    },
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0, compact: true },
  });
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

export function formatAge(ms: number): string {
  if (ms < 0) return '-';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 7_200_000) return `${Math.round(ms / 60_000)} min`;
  return `${Math.round(ms / 3_600_000)} h`;
}

export const hex64 = (v: bigint): string => `0x${v.toString(16).padStart(16, '0')}`;

export function stateColor(state: string): string {
  if (state === 'active') return pc.green('alive');
  if (state === 'dead') return pc.red('dead');
  return pc.yellow(state);
}

/** A 64-bit counter (sequence number, head, cursor, lag, lost) for JSON: printed as an exact number. */
export class Exact {
  readonly value: bigint;
  constructor(value: bigint) {
    this.value = value;
  }
  toJSON(): string {
    return `\u0000exact:${this.value}`;
  }
}

/** Counters of a stats object as exact JSON numbers. */
export function exactCounters<T>(value: T): T {
  return JSON.parse(JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `\u0000exact:${v}` : v))) as T;
}

/**
 * JSON, stable: record values of 64-bit integer fields as strings (a JSON number would lose digits in
 * JavaScript); counters (`Exact`, exactCounters) as numbers with every digit, even beyond 2^53.
 */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)).replace(
    /"\\u0000exact:(\d+)"/g,
    '$1',
  );
}

/** Resolves after ms, or at once when the signal aborts. Never spins. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** An AbortSignal that fires on SIGINT or SIGTERM (for -f / watch loops, which then exit cleanly). */
export function stopSignal(): { signal: AbortSignal; dispose: () => void } {
  const ac = new AbortController();
  const stop = (): void => ac.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return {
    signal: ac.signal,
    dispose: () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    },
  };
}

/** A table's text without the padding at the ends of lines. */
export function render(t: Table.Table): string {
  return t
    .toString()
    .split('\n')
    .map((l) => l.trimEnd())
    .join('\n');
}
