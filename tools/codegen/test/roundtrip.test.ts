// Cross-language round trips over the corpus struct `Edge` (every field type): C writes, TypeScript
// reads; TypeScript writes, C reads and checks bit for bit; both files are byte-identical.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Big, Color, Edge, UBig, type EdgeObject } from './generated/ts/tricky.ts';
import { Axis } from './generated/ts/geometry.ts';
import { codegenDir, makeTmp, run, runOk } from './helpers.ts';

const FLT_MAX = 3.4028234663852886e38;
const FLT_MIN = 1.1754943508222875e-38;
const DBL_MAX = Number.MAX_VALUE;
const v3 = (x: number, y: number, z: number): { x: number; y: number; z: number } => ({ x, y, z });

/** The same values as fill() in edge.c. */
const WANT: EdgeObject[] = [
  {
    b: false, i8: -128, u8: 0, i16: -32768, u16: 0, i32: -2147483648, u32: 0, i64: -(2n ** 63n), u64: 0n,
    f32: -FLT_MAX, f64: -DBL_MAX, color: Color.None, big: Big.Min, ub: UBig.A, axis: Axis.X,
    pos: v3(-0, FLT_MIN, -FLT_MIN), al: { a: 0, b: -0 }, pts: [v3(1, 2, 3), v3(4, 5, 6)],
    longs: [-(2n ** 63n), -1n], ulongs: [0n, 1n], flags: [false, true], colors: [Color.Red, Color.Blue], text: '', shortText: '',
  },
  {
    b: true, i8: 127, u8: 255, i16: 32767, u16: 65535, i32: 2147483647, u32: 4294967295, i64: 2n ** 63n - 1n, u64: 2n ** 64n - 1n,
    f32: FLT_MAX, f64: DBL_MAX, color: Color.Blue, big: Big.Max, ub: UBig.Huge, axis: Axis.Z,
    pos: v3(Infinity, -Infinity, 1.401298464324817e-45), al: { a: 255, b: 5e-324 }, pts: [v3(-1.5, 0, 0), v3(0, 0, 1e30)],
    longs: [2n ** 63n - 1n, 2n ** 53n + 1n], ulongs: [2n ** 64n - 1n, 2n ** 53n], flags: [true, true], colors: [Color.Green, Color.None],
    text: 'Grüße, 世界!', shortText: '€a',
  },
  {
    b: false, i8: 0, u8: 0, i16: 0, u16: 0, i32: 0, u32: 0, i64: -1n, u64: 2n ** 63n,
    f32: NaN, f64: NaN, color: Color.None, big: Big.Zero, ub: UBig.A, axis: Axis.Y,
    pos: v3(-0, 0, 0), al: { a: 0, b: -0 }, pts: [v3(0, 0, 0), v3(0, 0, 0)],
    longs: [0n, 0n], ulongs: [0n, 0n], flags: [false, false], colors: [Color.None, Color.None],
    text: 'abcdefghijklmn', shortText: 'ab',
  },
];
// pts[1].z is 1e30 as a float32
(WANT[1] as EdgeObject).pts[1] = v3(0, 0, Math.fround(1e30));

const tmp = makeTmp('roundtrip');
let built: string | undefined;
/** Compiles edge.c once; called by every test so that a missing gcc fails each of them (no skip). */
function edgeExe(): string {
  if (built === undefined) {
    const exe = join(tmp.dir, 'edge');
    runOk('gcc', ['-std=c11', '-Wall', '-Wextra', '-Werror', '-I', join(codegenDir, 'test', 'generated', 'c'), join(codegenDir, 'test', 'edge.c'), '-o', exe, '-lm']);
    built = exe;
  }
  return built;
}
afterAll(() => tmp.cleanup());

function viewOf(buf: Buffer): DataView {
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** Writes the records from TypeScript, text 2 through the truncating setter like the C side. */
function writeFromTs(): Buffer {
  const buf = Buffer.alloc(Edge.SIZE * WANT.length);
  const view = viewOf(buf);
  const e = new Edge(view);
  WANT.forEach((w, i) => {
    e.wrap(view, i * Edge.SIZE).clear();
    if (i === 2) {
      const { text: _text, ...withoutText } = w;
      e.assign(withoutText);
      expect(e.setText('abcdefghijklmn€', { truncate: true })).toBe(true);
    } else {
      Edge.fromObject(w, view, i * Edge.SIZE);
    }
  });
  return buf;
}

describe('round trips between C and TypeScript over every field type', () => {
  it('C writes edge values, TypeScript reads the same values', () => {
    const file = join(tmp.dir, 'from-c.bin');
    runOk(edgeExe(), ['write', file]);
    const buf = readFileSync(file);
    expect(buf.length).toBe(3 * Edge.SIZE);
    const e = new Edge(viewOf(buf));
    WANT.forEach((w, i) => {
      e.wrap(viewOf(buf), i * Edge.SIZE);
      expect(e.toObject()).toEqual(w);
      // -0 and NaN, which toEqual may not distinguish from 0:
      expect(Object.is(e.al.b, w.al.b)).toBe(true);
      expect(Object.is(e.pos.x, w.pos.x)).toBe(true);
      expect(Object.is(e.f32, w.f32) || (Number.isNaN(e.f32) && Number.isNaN(w.f32))).toBe(true);
      // individual accessors, including the Number fast paths and indexed arrays
      expect(e.i64).toBe(w.i64);
      expect(e.pts(1).z).toBe(w.pts[1]?.z);
      expect(e.longs(1)).toBe(w.longs[1]);
      expect(e.flags(1)).toBe(w.flags[1]);
      expect(e.colors(0)).toBe(w.colors[0]);
    });
    e.wrap(viewOf(buf), Edge.SIZE);
    expect(e.text).toBe('Grüße, 世界!');
    expect(Buffer.from(e.textBytes()).toString('utf8')).toBe('Grüße, 世界!');
    expect(e.ulongsNumber(1)).toBe(2 ** 53);
    expect(e.longsNumber(1)).toBe(2 ** 53); // 2^53 + 1 is not a double: the fast path rounds
    e.wrap(viewOf(buf), 2 * Edge.SIZE);
    expect(e.i64Number).toBe(-1);
    expect(e.u64Number).toBe(2 ** 63);
    expect(e.text).toBe('abcdefghijklmn');
  });

  it('TypeScript writes the same values, C reads and checks them bit for bit', () => {
    const file = join(tmp.dir, 'from-ts.bin');
    writeFileSync(file, writeFromTs());
    const r = run(edgeExe(), ['check', file]);
    expect(r.stdout.trim()).toBe('checked 3 records');
    expect(r.status).toBe(0);
  });

  it('C and TypeScript produce byte-identical records (padding included)', () => {
    const file = join(tmp.dir, 'from-c-2.bin');
    runOk(edgeExe(), ['write', file]);
    expect(writeFromTs().equals(readFileSync(file))).toBe(true);
  });

  it('the C check catches a difference', () => {
    const buf = writeFromTs();
    const e = new Edge(viewOf(buf), Edge.SIZE);
    e.setColors(1, Color.Red);
    const file = join(tmp.dir, 'bad.bin');
    writeFileSync(file, buf);
    const r = run(edgeExe(), ['check', file]);
    expect(r.stdout).toContain('record 1: field colors differs');
    expect(r.status).toBe(1);
  });
});
