// The seed's scenario on Windows, under Wine: collector-host.exe loads collector.dll with LoadLibrary
// and publishes the 210,000-point start-up burst to a C++ subscriber .exe that checks every final
// value against the library's own; the Person publisher/subscriber .exe's move 2,000,000 records
// 1->1 and 1->2 (checksum -1,000,000). The programs are the Linux ones, built with mingw-w64.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { spawnChild, type Child } from '@mmbus/test-kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { expectedChecksum, resultOf, useScratchDir } from './helpers.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const winBuild = join(root, 'build-win');
const wineEnv = { WINEPREFIX: join(winBuild, 'wineprefix'), WINEDEBUG: '-all', WINEDLLOVERRIDES: 'mscoree,mshtml=' };

/** Runs build-win/<name>.exe under Wine; paths in args are Linux paths, which Wine maps through Z:. */
function runExe(name: string, args: string[]): Child {
  return spawnChild('wine', [join(winBuild, `${name}.exe`), ...args], wineEnv);
}
const winPath = (p: string): string => `Z:${p.replaceAll('/', '\\')}`;

let dir: string;
useScratchDir((d) => (dir = d));

beforeAll(() => {
  const r = spawnSync('bash', [join(root, 'test', 'build-win.sh')], { encoding: 'utf8', timeout: 600_000 });
  if (r.status !== 0) throw new Error(`the Windows build or the Wine prefix failed (${r.status ?? r.signal}): ${r.stderr}`);
}, 620_000);
afterAll(() => void spawnSync('wineserver', ['-k'], { env: { ...process.env, ...wineEnv }, timeout: 30_000 }));

interface PointsResult { received: number; distinctPoints: number; points: number; valueSum: number; lost: number; bad: number }
interface HostResult { ok: boolean; points: number; published: number; burst: number; burstDone: boolean; valueSum: number; error: string | null }
interface PersonResult { received: number; checksum: number; badNames: number; outOfOrder: number; lost: number }

describe('Windows (mingw-w64 build, run under Wine)', () => {
  it('collector-host.exe + collector.dll: the 210,000-point burst reaches a C++ subscriber .exe, every final value equal', async () => {
    const shape = ['--devices', '70', '--points-per-device', '3000', '--capacity', '65536', '--policy', 'block'];
    const sub = runExe('points-subscriber', ['--dir', winPath(dir), ...shape, '--count', '210000', '--dump', winPath(join(dir, 'sub-values.bin'))]);
    await sub.line('ready');
    const host = runExe('collector-host', ['--dir', winPath(dir), ...shape, '--rate', '0', '--duration', '0', '--quiet', '--dump-values', winPath(join(dir, 'lib-values.bin'))]);
    const h = await resultOf<HostResult>(host);
    const s = await resultOf<PointsResult>(sub);
    expect(h).toMatchObject({ ok: true, points: 210_000, published: 210_000, burst: 210_000, burstDone: true, error: null });
    expect(s).toEqual({ received: 210_000, distinctPoints: 210_000, points: 210_000, valueSum: h.valueSum, lost: 0, bad: 0 });
    const mine = readFileSync(join(dir, 'sub-values.bin'));
    const lib = readFileSync(join(dir, 'lib-values.bin'));
    expect(mine.length).toBe(210_000 * 8);
    expect(mine.equals(lib)).toBe(true);
    expect(new Float64Array(lib.buffer, lib.byteOffset, 210_000).every((v) => v !== 0)).toBe(true);
  }, 300_000);

  for (const subscribers of [1, 2]) {
    it(`person-publisher.exe -> ${subscribers} person-subscriber.exe: 2,000,000 records, checksum -1,000,000`, async () => {
      const subs = Array.from({ length: subscribers }, () => runExe('person-subscriber', ['--dir', winPath(dir), '--count', '2000000', '--quiet']));
      for (const s of subs) await s.line('ready');
      const pub = runExe('person-publisher', ['--dir', winPath(dir), '--count', '2000000', '--wait-subscribers', String(subscribers), '--quiet']);
      const p = await resultOf<{ published: number; checksum: number }>(pub);
      expect(p).toMatchObject({ published: 2_000_000, checksum: expectedChecksum(2_000_000) });
      for (const s of subs) {
        expect(await resultOf<PersonResult>(s)).toMatchObject({ received: 2_000_000, checksum: -1_000_000, badNames: 0, outOfOrder: 0, lost: 0 });
      }
    }, 300_000);
  }
});
