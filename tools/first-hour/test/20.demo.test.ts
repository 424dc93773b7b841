// npm start is inspectable: it says where its channel is, takes --dir and --keep, prints its usage
// with units on -h/--help, and the README's CLI walkthrough (the ```sh demo block) works as written
// against it while it runs.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { childEnv, spawnChild, useScratchDir, type Child, type Exit } from '@mmbus/test-kit';

import { REPO, repoPath } from './helpers.js';
import { codeBlocks, shellCommands } from './md.js';

let dir = '';
useScratchDir((d) => (dir = d));

const START = repoPath('scripts', 'start.mjs');
const demo = (args: string[], env: NodeJS.ProcessEnv = {}): Child => spawnChild(process.execPath, [START, ...args], { NO_COLOR: '1', ...env });

async function within(child: Child, ms: number): Promise<Exit> {
  const t = setTimeout(() => child.proc.kill('SIGKILL'), ms);
  const e = await child.exited;
  clearTimeout(t);
  return e;
}

/**
 * Runs a command line with sh in the repository, as typed in a terminal: in a process group of its own,
 * which gets SIGINT (Ctrl-C) once it has printed and 2 s more have passed; the group is killed after.
 */
function asInTerminal(command: string, env: NodeJS.ProcessEnv): Promise<Exit> {
  const proc = spawn('sh', ['-c', `exec ${command}`], { cwd: REPO, env: childEnv(env), detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const group = (sig: NodeJS.Signals): void => {
    try {
      process.kill(-proc.pid!, sig);
    } catch {
      // the group is gone
    }
  };
  let stdout = '';
  let stderr = '';
  let ctrlC: NodeJS.Timeout | undefined;
  proc.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
    ctrlC ??= setTimeout(() => group('SIGINT'), 2000);
  });
  proc.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const guard = setTimeout(() => group('SIGKILL'), 60_000);
  return new Promise((resolve) =>
    proc.on('close', (code, signal) => {
      clearTimeout(ctrlC);
      clearTimeout(guard);
      group('SIGKILL'); // anything of it still running
      resolve({ code, signal, stdout, stderr });
    }),
  );
}

describe('npm start', () => {
  for (const flag of ['-h', '--help']) {
    it(`${flag} prints the usage, with units, to stdout and exits 0`, async () => {
      const e = await within(demo([flag]), 30_000);
      expect(e.code).toBe(0);
      expect(e.stderr).toBe('');
      expect(e.stdout).toMatch(/^usage: npm start -- \[options\]/);
      for (const option of ['--points N', '--rate N', '--duration S', '--capacity N', '--dir DIR', '--keep', '-h, --help']) {
        expect(e.stdout).toContain(option);
      }
      expect(e.stdout).toMatch(/changes per second/);
      expect(e.stdout).toMatch(/seconds of steady changes/);
      expect(e.stdout).toMatch(/in records/);
    });
  }

  it('refuses an unknown option with the usage on stderr, exit 2', async () => {
    const e = await within(demo(['--poinst', '5']), 30_000);
    expect(e.code).toBe(2);
    expect(e.stdout).toBe('');
    expect(e.stderr).toMatch(/--poinst/);
    expect(e.stderr).toMatch(/usage: npm start/);
  });

  it('--dir DIR --keep: prints the directory, leaves the channel there; a second run replaces it', async () => {
    const channelDir = join(dir, 'channels');
    const args = ['--dir', channelDir, '--keep', '--points', '7000', '--devices', '7', '--duration', '0'];
    const first = await within(demo(args), 120_000);
    expect(first.code, first.stdout + first.stderr).toBe(0);
    expect(first.stdout).toContain(`channel directory: ${channelDir}`);
    expect(first.stdout).toContain('OK: nothing lost');
    expect(existsSync(join(channelDir, 'points.db'))).toBe(true);
    const second = await within(demo(args), 120_000);
    expect(second.code, second.stdout + second.stderr).toBe(0);
    expect(second.stdout).toContain(`removed the channel 'points' an earlier run left in ${channelDir}`);
    // --duration 0: the burst of 7,000, and the changes made while the collector stops
    const [, published, received] = /published ([\d,]+), received ([\d,]+), lost 0,/.exec(second.stdout) ?? [];
    expect(Number(published?.replaceAll(',', ''))).toBeGreaterThanOrEqual(7000);
    expect(received).toBe(published);
  });

  it("the README's walkthrough works as written while the demo runs; the channel is removed after", async () => {
    const [walkthrough, ...more] = codeBlocks('README.md').filter((b) => b.marks.includes('demo'));
    expect(more).toHaveLength(0);
    const commands = shellCommands(walkthrough!.code);
    expect(commands.length).toBeGreaterThanOrEqual(5);
    // the default channel directory, as a user would have it: $MMBUS_DIR
    const env = { MMBUS_DIR: dir, NO_COLOR: '1' };
    const running = demo(['--points', '21000', '--rate', '2000', '--duration', '120'], env);
    try {
      await running.line('collector publishing');
      expect(running.stdout()).toContain(`channel directory: ${dir}`);
      const outputs = new Map<string, Exit>();
      for (const command of commands) {
        const e = await asInTerminal(command, env);
        // tail -f and watch run until Ctrl-C (npx then ends by the signal too, as in a terminal)
        const stopped = e.signal === 'SIGINT' || e.code === 130;
        expect(e.code === 0 || stopped, `${command}: exit ${e.code ?? e.signal}: ${e.stderr}`).toBe(true);
        expect(stopped, `${command} ${stopped ? 'only stopped at Ctrl-C' : 'ended by itself'}`).toBe(/ -f\b| watch\b/.test(command));
        outputs.set(command.split(/\s+/).slice(0, 3).join(' '), e);
      }
      const out = (prefix: string): string => outputs.get(prefix)?.stdout ?? '';
      expect(out('npx mmbus ls')).toMatch(/points\s+mmbus\.PointUpdate/);
      expect(out('npx mmbus stat')).toMatch(/web\s+active/);
      expect(out('npx mmbus tail')).toMatch(/SEQ\s+timestamp/);
      expect(out('npx mmbus tail').trim().split('\n').length).toBeGreaterThan(5);
      expect(out('npx mmbus watch')).toMatch(/points\s+mmbus\.PointUpdate/);
      expect(out('npx mmbus doctor')).toMatch(/ok\s+points/);
    } finally {
      running.proc.kill('SIGINT');
    }
    const e = await within(running, 30_000);
    expect(e.code).toBe(130);
    expect(existsSync(join(dir, 'points.db'))).toBe(false);
  });
});
