// Small, pure helpers of the benchmark (unit-tested): checksum, percentiles, medians and ratios.

/** The original demo's checksum: alternating sum over the index, +0 -1 +2 -3 ... */
export class Checker {
  received = 0;
  checksum = 0;

  add(index: number): void {
    this.checksum += index & 1 ? -index : index;
    this.received++;
  }
}

/** Expected checksum for indexes 0..n-1: -n/2 for even n, (n-1)/2 for odd n. */
export function expectedChecksum(n: number): number {
  return n % 2 === 0 ? 0 - n / 2 : (n - 1) / 2;
}

/** Whether a receiver's report is right: every record, and the right checksum. */
export function verify(records: number, got: { received: number; checksum: number }): string | null {
  if (got.received !== records) return `received ${got.received} of ${records} (${records - got.received} lost)`;
  if (got.checksum !== expectedChecksum(records)) return `checksum ${got.checksum}, expected ${expectedChecksum(records)}`;
  return null;
}

export interface LatencyNs {
  n: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
}

/** Percentile by rank: the value at floor(n * p) of the sorted samples (sorts in place). */
export function percentilesNs(samples: Float64Array): LatencyNs {
  samples.sort();
  const n = samples.length;
  const at = (p: number) => (n ? samples[Math.min(n - 1, Math.floor(n * p))]! : NaN);
  return { n, p50: at(0.5), p99: at(0.99), p999: at(0.999), max: n ? samples[n - 1]! : NaN };
}

export interface Summary {
  median: number;
  min: number;
  max: number;
  n: number;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Median, min and max of the finite values (failed runs are NaN and left out). */
export function summarize(values: readonly number[]): Summary | null {
  const v = values.filter((x) => Number.isFinite(x));
  if (v.length === 0) return null;
  return { median: median(v), min: Math.min(...v), max: Math.max(...v), n: v.length };
}

/** Ratio a/b per run pair (run i of a with run i of b, measured back to back); pairs where either
 * run failed are left out. */
export function pairedRatios(a: readonly number[], b: readonly number[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (Number.isFinite(x) && Number.isFinite(y) && y > 0) out.push(x / y);
  }
  return out;
}

/** Indices of the runs below half the median of the finite values (a collapse, not noise). */
export function slowRuns(values: readonly number[]): number[] {
  const m = median(values.filter((x) => Number.isFinite(x)));
  const out: number[] = [];
  values.forEach((v, i) => {
    if (Number.isFinite(v) && v < m / 2) out.push(i);
  });
  return out;
}
