// The benchmark's own logic (checksum, stats, ratios, writers), not the benchmarks: no process is
// started and nothing is timed.
import { describe, expect, it } from 'vitest';

import { indexAt, writeIndex } from '../src/peers/common.ts';
import { fmtRate, markdownReport, svgChart, terminalReport } from '../src/report.ts';
import type { Results } from '../src/results.ts';
import { Checker, expectedChecksum, median, pairedRatios, percentilesNs, slowRuns, summarize, verify } from '../src/stats.ts';

describe('checksum', () => {
  it('is the alternating sum over the index, -1,000,000 for 2M', () => {
    expect(expectedChecksum(2_000_000)).toBe(-1_000_000);
    for (const n of [0, 1, 2, 3, 7, 1000, 1001]) {
      const c = new Checker();
      for (let i = 0; i < n; i++) c.add(i);
      expect(c.checksum).toBe(expectedChecksum(n));
      expect(c.received).toBe(n);
    }
  });

  it('rejects a wrong count, a lost or repeated record, and accepts the right answer', () => {
    const n = 100;
    const good = new Checker();
    for (let i = 0; i < n; i++) good.add(i);
    expect(verify(n, good)).toBeNull();
    const lost = new Checker();
    for (let i = 0; i < n; i++) if (i !== 41) lost.add(i);
    expect(verify(n, lost)).toMatch(/received 99 of 100 \(1 lost\)/);
    const swapped = new Checker(); // right count, record 41 delivered twice instead of 42
    for (let i = 0; i < n; i++) swapped.add(i === 42 ? 41 : i);
    expect(verify(n, swapped)).toMatch(/checksum/);
  });

  it('reads back an int64 index written into a 128-byte message, above 2^32 too', () => {
    const b = Buffer.alloc(256);
    for (const v of [0, 1, 255, 65_536, 2 ** 31 + 5, 2 ** 40 + 3]) {
      writeIndex(b, 128, v);
      expect(indexAt(b, 128)).toBe(v);
      expect(b.readBigInt64LE(128)).toBe(BigInt(v));
    }
  });
});

describe('stats', () => {
  it('median, min and max; failed runs (NaN) are left out', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(summarize([5, NaN, 1, 3])).toEqual({ median: 3, min: 1, max: 5, n: 3 });
    expect(summarize([NaN])).toBeNull();
  });

  it('ratios are per run pair, not of medians', () => {
    // run-to-run noise hits both systems alike: pairwise ratios are steady, the medians' ratio is not
    const mmbus = [10, 20, 40];
    const peer = [1, 2, 4];
    expect(pairedRatios(mmbus, peer)).toEqual([10, 10, 10]);
    expect(pairedRatios([10, NaN, 30], [2, 2, 0])).toEqual([5]);
  });

  it('a run below half the median is a collapse: marked, failed runs left out', () => {
    expect(slowRuns([16, 17, 1.5, 16.5, 15])).toEqual([2]);
    expect(slowRuns([10, 9, 5, 11, NaN])).toEqual([]); // exactly half: noise, not a collapse
    expect(slowRuns([10, NaN, 4.9, 11])).toEqual([2]);
    expect(slowRuns([])).toEqual([]);
  });

  it('percentiles by rank', () => {
    const v = new Float64Array(1000).map((_, i) => 1000 - i);
    const p = percentilesNs(v);
    expect(p).toEqual({ n: 1000, p50: 501, p99: 991, p999: 1000, max: 1000 });
  });
});

function sample(): Results {
  const run = (v: number) => ({ ok: true, msgPerSec: v, cpuNsPerMsg: { pub: 10, sub: 20, broker: 0, total: 30 } });
  return {
    date: '2026-01-02T03:04:05.000Z',
    machine: { cpus: 2, model: 'Test <CPU> & co', os: 'Linux', node: 'v20', redis: '7.0', zeromq: '4.3', loadStart: '0.1', loadEnd: '0.2' },
    config: { records: 2_000_000, runs: 3, quick: false, only: [], latencySamples: 100_000, latencyRate: 100_000, recordSize: 128 },
    reference: { label: 'original design', msgPerSec: 2_000_000 / 1.3, note: 'not measured here' },
    throughput: [
      { id: 'a/1-1', system: 'a', label: 'mmbus C→TS', subscribers: 1, runs: [run(2e7), run(2.2e7), run(1.8e7)], summary: { median: 2e7, min: 1.8e7, max: 2.2e7, n: 3 }, cpuTotalNsPerMsg: { median: 30, min: 30, max: 30, n: 3 } },
      { id: 'r/1-1', system: 'r', label: 'Redis', subscribers: 1, runs: [run(2e5), { ok: false, error: 'lost', msgPerSec: NaN }, run(2e5)], summary: { median: 2e5, min: 2e5, max: 2e5, n: 2 }, cpuTotalNsPerMsg: null },
    ],
    ratios: [{ subscribers: 1, mmbus: 'mmbus C→TS', peer: 'r', peerLabel: 'Redis', goal: 100, ratios: [100, 90], summary: { median: 95, min: 90, max: 100, n: 2 }, met: false }],
    latency: [{ id: 'a', label: 'mmbus', rate: 100_000, samples: 100_000, pacing: 'x', runs: [], p50: { median: 500, min: 400, max: 600, n: 3 }, p99: null, p999: null }],
    idle: [{ id: 'a', label: 'mmbus', runs: [0.1, 0.2, 0.3], summary: { median: 0.2, min: 0.1, max: 0.3, n: 3 } }],
    goals: [{ text: 'goal', goal: 100, measured: 95, min: 90, met: false }],
    notes: ['a note'],
  };
}

describe('writers', () => {
  it('formats rates', () => {
    expect(fmtRate(1_538_461)).toBe('1.5 M');
    expect(fmtRate(215_000)).toBe('215 k');
    expect(fmtRate(NaN)).toBe('–');
  });

  it('Markdown: one row per system, failed runs shown, the reference marked as not measured', () => {
    const md = markdownReport(sample());
    expect(md).toContain('| mmbus C→TS | 20.0 M (18.0 M–22.0 M) |');
    expect(md).toContain('[1 of 3 runs failed]');
    expect(md).toContain("original design, not measured here | 1.5 M");
    expect(md).toContain('| mmbus C→TS / Redis | 1→1 | 95.0× (90.0×–100×) | ≥ 100× | no |');
    expect(terminalReport(sample())).toContain('mmbus C→TS');
    expect(md).not.toContain('below half the median');
  });

  it('marks every run below half the median next to the median, and says how many runs of each', () => {
    const r = sample();
    const run = (v: number) => ({ ok: true, msgPerSec: v, cpuNsPerMsg: { pub: 10, sub: 20, broker: 0, total: 30 } });
    r.config = { ...r.config, runs: 5, peerRuns: 3 };
    r.throughput[0] = { ...r.throughput[0]!, runs: [run(1.6e7), run(1.7e7), run(1.5e6), run(1.65e7), run(1.55e7)], summary: { median: 1.6e7, min: 1.5e6, max: 1.7e7, n: 5 } };
    const md = markdownReport(r);
    expect(md).toContain('| mmbus C→TS | 16.0 M (1.5 M–17.0 M) [below half the median: 1.5 M] |');
    expect(md).toContain('median of 5 runs of mmbus, 3 of the peers (min–max)');
  });

  it('SVG: well-formed text, log-scale bars ordered by value, labels escaped', () => {
    const svg = svgChart(sample());
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('Test &lt;CPU&gt; &amp; co');
    expect(svg).not.toMatch(/NaN|undefined/);
    const widths = [...svg.matchAll(/<rect x="300" y="\d+" width="([\d.]+)"/g)].map((m) => Number(m[1]));
    expect(widths).toHaveLength(3); // mmbus, Redis, reference
    expect(widths[0]!).toBeGreaterThan(widths[2]!);
    expect(widths[2]!).toBeGreaterThan(widths[1]!);
    // log scale: bar length differences are proportional to log10 of the ratios
    const [mmbus, redis, ref] = widths as [number, number, number];
    expect((mmbus - redis) / (ref - redis)).toBeCloseTo(2 / Math.log10(2_000_000 / 1.3 / 2e5), 1);
  });
});
