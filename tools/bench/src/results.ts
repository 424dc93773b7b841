// The shape of a benchmark run's results (results/<date>.json, latest.json).
import type { LatencyNs, Summary } from './stats.ts';

export interface CpuNs {
  /** CPU time per published message, ns: publisher, each subscriber (mean), broker, all processes */
  pub: number;
  sub: number;
  broker: number;
  total: number;
}

export interface ThroughputRun {
  ok: boolean;
  error?: string;
  /** messages per second per subscriber: records / (last record at the slowest subscriber - first sent) */
  msgPerSec: number;
  cpuNsPerMsg?: CpuNs;
}

export interface ThroughputCase {
  id: string;
  system: string;
  label: string;
  subscribers: number;
  runs: ThroughputRun[];
  summary: Summary | null;
  cpuTotalNsPerMsg: Summary | null;
}

export interface RatioRow {
  subscribers: number;
  mmbus: string;
  peer: string;
  peerLabel: string;
  goal: number | null;
  ratios: number[];
  summary: Summary | null;
  met: boolean | null;
}

export interface LatencyRun {
  ok: boolean;
  error?: string;
  latNs?: LatencyNs | undefined;
}

export interface LatencyCase {
  id: string;
  label: string;
  rate: number;
  samples: number;
  pacing: string;
  runs: LatencyRun[];
  p50: Summary | null;
  p99: Summary | null;
  p999: Summary | null;
}

export interface IdleCase {
  id: string;
  label: string;
  /** percent of one core over 5 s, per run */
  runs: number[];
  summary: Summary | null;
}

export interface Goal {
  text: string;
  goal: number;
  measured: number | null;
  min: number | null;
  met: boolean | null;
}

export interface Results {
  date: string;
  machine: Record<string, unknown>;
  config: { records: number; runs: number; /** runs of the peers' cases (older files: as runs) */ peerRuns?: number; quick: boolean; only: string[]; latencySamples: number; latencyRate: number; recordSize: number };
  reference: { label: string; msgPerSec: number; note: string };
  throughput: ThroughputCase[];
  ratios: RatioRow[];
  latency: LatencyCase[];
  idle: IdleCase[];
  goals: Goal[];
  notes: string[];
}
