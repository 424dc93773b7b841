import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { MESSAGE_TYPES, Person, PointUpdate, Quality, type MessageType, type PersonObject, type PointUpdateObject } from '../src/index.ts';

const pkgDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const repoDir = resolve(pkgDir, '..', '..');
const tmp = mkdtempSync(join(tmpdir(), 'mmbus-messages-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Checked-in fingerprints: a change means old channel files are refused. Update them deliberately. */
const PERSON_FINGERPRINT = 0x71669c9ff47bbfc8n;
const POINT_UPDATE_FINGERPRINT = 0xc6f0c339a80557adn;

function run(cmd: string, args: string[], cwd = pkgDir): { status: number; stdout: string; stderr: string } {
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_NO_WARNINGS: '1' };
  delete env['FORCE_COLOR'];
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env });
  if (r.error) throw new Error(`cannot run ${cmd}: ${r.error.message} (install it: CI does)`);
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe('checked-in generated code', () => {
  it('is up to date with schemas/ (regenerate with: npx nx run messages:codegen)', () => {
    const script = (JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts['codegen'];
    expect(script).toMatch(/^tsx \.\.\/\.\.\/tools\/codegen\/src\/cli\.ts /);
    const args = (script as string).replace(/^tsx /, '').split(' ');
    const r = run(process.execPath, [join(repoDir, 'node_modules', 'tsx', 'dist', 'cli.mjs'), ...args, '--check']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('mmbus-codegen: 7 file(s) up to date\n');
    expect(r.status).toBe(0);
  });

  it('has the message-type shape, sizes and checked-in fingerprints', () => {
    const types: readonly MessageType<unknown>[] = MESSAGE_TYPES;
    expect(types.map((t) => [t.NAME, t.SIZE, t.ALIGN])).toEqual([
      ['mmbus.Person', 128, 8],
      ['mmbus.PointUpdate', 128, 8],
    ]);
    expect(Person.FINGERPRINT).toBe(PERSON_FINGERPRINT);
    expect(PointUpdate.FINGERPRINT).toBe(POINT_UPDATE_FINGERPRINT);
    const personH = readFileSync(join(pkgDir, 'c', 'person.h'), 'utf8');
    const pointH = readFileSync(join(pkgDir, 'c', 'point.h'), 'utf8');
    expect(personH).toContain('#define MMBUS_PERSON_FINGERPRINT UINT64_C(0x71669c9ff47bbfc8)');
    expect(personH).toContain('#define MMBUS_PERSON_SIZE 128');
    expect(personH).toContain('#define MMBUS_PERSON_NAME "mmbus.Person"');
    expect(pointH).toContain('#define MMBUS_POINT_UPDATE_FINGERPRINT UINT64_C(0xc6f0c339a80557ad)');
  });
});

const NAME = 'é'.repeat(20) + '世'.repeat(4) + '😀'.repeat(3);
const PEOPLE: PersonObject[] = [
  { index: -(2n ** 63n), name: '', age: 0 },
  { index: 2n ** 63n - 1n, name: NAME, age: 255 },
  { index: 42n, name: 'Ada Lovelace', age: 36 },
];
const POINTS: PointUpdateObject[] = [
  { timestampNs: 0n, value: -0, pointId: 0, deviceId: 0, quality: Quality.Good, tag: '' },
  { timestampNs: 2n ** 64n - 1n, value: NaN, pointId: 4294967295, deviceId: 4294967295, quality: Quality.CommFailure, tag: NAME },
  { timestampNs: 1700000000123456789n, value: 1e308, pointId: 7, deviceId: 65536, quality: Quality.Uncertain, tag: 'plant1/boiler/temp' },
];
const FILE_SIZE = 3 * Person.SIZE + 3 * PointUpdate.SIZE;

function writeFromTs(): Buffer {
  const buf = Buffer.alloc(FILE_SIZE);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  PEOPLE.forEach((p, i) => Person.fromObject(p, view, i * Person.SIZE));
  POINTS.forEach((p, i) => PointUpdate.fromObject(p, view, 3 * Person.SIZE + i * PointUpdate.SIZE));
  return buf;
}

/** The demo checksum: alternating sum over index (here index % 1000 to stay in range), +0 -1 +2. */
function checksum(view: DataView): bigint {
  const p = new Person(view);
  let sum = 0n;
  for (let i = 0; i < 3; i++) sum += (i % 2 ? -1n : 1n) * (p.wrap(view, i * Person.SIZE).index % 1000n);
  return sum;
}

describe('C headers', () => {
  for (const [compiler, std, ext] of [['gcc', '-std=c11', 'c'], ['g++', '-std=c++17', 'cpp']] as const) {
    it(`compile with ${compiler} ${std} -Wall -Wextra -Werror -pedantic, together and twice`, () => {
      const src = join(tmp, `headers.${ext}`);
      writeFileSync(src, '#include "person.h"\n#include "point.h"\n#include "person.h"\nint main(void) { return MMBUS_PERSON_SIZE == 128 ? 0 : 1; }\n');
      const r = run(compiler, [std, '-Wall', '-Wextra', '-Werror', '-pedantic', '-I', join(pkgDir, 'c'), src, '-o', join(tmp, `headers-${ext}`)]);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(run(join(tmp, `headers-${ext}`), []).status).toBe(0);
    });
  }
});

describe('C and TypeScript agree on the project messages', () => {
  let built: string | undefined;
  /** Compiles messages.c once; called by every test so that a missing gcc fails each of them (no skip). */
  const exe = (): string => {
    if (built === undefined) {
      const out = join(tmp, 'messages');
      const r = run('gcc', ['-std=c11', '-Wall', '-Wextra', '-Werror', '-I', join(pkgDir, 'c'), join(pkgDir, 'test', 'messages.c'), '-o', out, '-lm']);
      if (r.status !== 0) throw new Error(r.stderr);
      built = out;
    }
    return built;
  };

  it('C writes, TypeScript reads the same values and the same checksum', () => {
    const file = join(tmp, 'from-c.bin');
    const w = run(exe(), ['write', file]);
    expect(w.status).toBe(0);
    const buf = readFileSync(file);
    expect(buf.length).toBe(FILE_SIZE);
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    const p = new Person(view);
    PEOPLE.forEach((want, i) => expect(p.wrap(view, i * Person.SIZE).toObject()).toEqual(want));
    expect(p.wrap(view, Person.SIZE).name).toBe(NAME);
    expect(new TextEncoder().encode(NAME).length).toBe(64);
    expect(p.wrap(view, 2 * Person.SIZE).indexNumber).toBe(42);
    const u = new PointUpdate(view, 3 * Person.SIZE);
    POINTS.forEach((want, i) => expect(u.wrap(view, 3 * Person.SIZE + i * PointUpdate.SIZE).toObject()).toEqual(want));
    expect(Object.is(u.wrap(view, 3 * Person.SIZE).value, -0)).toBe(true);
    expect(w.stdout.trim()).toBe(`checksum ${checksum(view)}`);
  });

  it('TypeScript writes, C checks member by member and computes the same checksum', () => {
    const file = join(tmp, 'from-ts.bin');
    const buf = writeFromTs();
    writeFileSync(file, buf);
    const r = run(exe(), ['check', file]);
    expect(r.stdout.trim()).toBe(`checksum ${checksum(new DataView(buf.buffer, buf.byteOffset, buf.byteLength))}`);
    expect(r.status).toBe(0);
    // and the bytes are identical to C's, padding included
    const cFile = join(tmp, 'from-c-2.bin');
    expect(run(exe(), ['write', cFile]).status).toBe(0);
    expect(buf.equals(readFileSync(cFile))).toBe(true);
  });

  it('the C check fails on a differing field', () => {
    const buf = writeFromTs();
    new Person(new DataView(buf.buffer, buf.byteOffset, buf.byteLength), 2 * Person.SIZE).age = 37;
    const file = join(tmp, 'bad.bin');
    writeFileSync(file, buf);
    const r = run(exe(), ['check', file]);
    expect(r.stdout).toContain('people[2].age differs');
    expect(r.status).toBe(1);
  });
});
