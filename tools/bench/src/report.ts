// Writers for a benchmark run: terminal table, Markdown (results/latest.md), SVG chart (latest.svg).
import type { Results, ThroughputCase } from './results.ts';
import { slowRuns, type Summary } from './stats.ts';

const FANOUTS = [1, 2, 4];

export function fmtRate(v: number): string {
  if (!Number.isFinite(v)) return '–';
  if (v >= 1e6) return `${(v / 1e6).toFixed(v >= 1e8 ? 0 : 1)} M`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(v >= 1e5 ? 0 : 1)} k`;
  return v.toFixed(0);
}

export function fmtNs(ns: number): string {
  if (!Number.isFinite(ns)) return '–';
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(ns >= 1e7 ? 0 : 1)} ms`;
  if (ns >= 1e3) return `${(ns / 1e3).toFixed(ns >= 1e4 ? 0 : 1)} µs`;
  return `${ns.toFixed(0)} ns`;
}

export function fmtRatio(v: number): string {
  if (!Number.isFinite(v)) return '–';
  return v >= 100 ? `${v.toFixed(0)}×` : v >= 10 ? `${v.toFixed(1)}×` : `${v.toFixed(2)}×`;
}

const range = (s: Summary | null, f: (v: number) => string): string => (s ? (s.n > 1 ? `${f(s.median)} (${f(s.min)}–${f(s.max)})` : f(s.median)) : 'failed');

function systems(r: Results): { system: string; label: string; cases: Map<number, ThroughputCase> }[] {
  const out = new Map<string, { system: string; label: string; cases: Map<number, ThroughputCase> }>();
  for (const c of r.throughput) {
    if (!out.has(c.system)) out.set(c.system, { system: c.system, label: c.label, cases: new Map() });
    out.get(c.system)!.cases.set(c.subscribers, c);
  }
  return [...out.values()];
}

function caseCell(c: ThroughputCase | undefined): string {
  if (!c) return '';
  const failed = c.runs.filter((x) => !x.ok).length;
  const slow = slowRuns(c.runs.map((x) => x.msgPerSec));
  return (
    range(c.summary, fmtRate) +
    (failed ? ` [${failed} of ${c.runs.length} runs failed]` : '') +
    (slow.length ? ` [below half the median: ${slow.map((i) => fmtRate(c.runs[i]!.msgPerSec)).join(', ')}]` : '')
  );
}

function table(rows: string[][], markdown: boolean): string {
  if (markdown) return [`| ${rows[0]!.join(' | ')} |`, `| ${rows[0]!.map(() => '---').join(' | ')} |`, ...rows.slice(1).map((r) => `| ${r.join(' | ')} |`)].join('\n');
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => [...(r[i] ?? '')].length)));
  const line = (r: string[]) => r.map((c, i) => c + ' '.repeat(w[i]! - [...c].length)).join('  ');
  return [line(rows[0]!), w.map((n) => '-'.repeat(n)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

function sections(r: Results, markdown: boolean): string {
  const out: string[] = [];
  const h = (t: string) => out.push(markdown ? `\n### ${t}\n` : `\n${t}`);
  const peerRuns = r.config.peerRuns ?? r.config.runs;
  const counts = peerRuns === r.config.runs ? `${r.config.runs} run${r.config.runs > 1 ? 's' : ''}` : `${r.config.runs} runs of mmbus, ${peerRuns} of the peers`;
  const runs = `median of ${counts}${r.config.runs > 1 ? ' (min–max)' : ''}`;
  h(`Throughput, ${r.config.records.toLocaleString('en-US')} messages of ${r.config.recordSize} B, msg/s per subscriber, ${runs}`);
  const rows = [['system', '1→1', '1→2', '1→4', 'CPU/msg 1→1 (all processes)']];
  for (const s of systems(r)) {
    const one = s.cases.get(1);
    rows.push([s.label, ...FANOUTS.map((n) => caseCell(s.cases.get(n))), one ? range(one.cpuTotalNsPerMsg, fmtNs) : '']);
  }
  rows.push([`${r.reference.label}, not measured here`, `${fmtRate(r.reference.msgPerSec)}`, '', '', '']);
  out.push(table(rows, markdown));
  h(`CPU time per message, 1→1 (median of the runs' figures): where the time goes`);
  const cr = [['system', 'publisher', 'subscriber', 'broker', 'all processes']];
  const med = (xs: number[]) => {
    const v = xs.filter(Number.isFinite).sort((a, b) => a - b);
    return v.length ? (v.length % 2 ? v[v.length >> 1]! : (v[v.length / 2 - 1]! + v[v.length / 2]!) / 2) : NaN;
  };
  for (const s of systems(r)) {
    const one = s.cases.get(1);
    if (!one) continue;
    const ok = one.runs.filter((x) => x.ok && x.cpuNsPerMsg);
    const k = (f: 'pub' | 'sub' | 'broker' | 'total') => fmtNs(med(ok.map((x) => x.cpuNsPerMsg![f])));
    cr.push([s.label, k('pub'), k('sub'), s.system === 'redis' ? k('broker') : '–', k('total')]);
  }
  out.push(table(cr, markdown));
  if (r.ratios.length) {
    h(`mmbus / peer, ratio per run pair (${runs})`);
    const rr = [['', 'subscribers', 'ratio', 'goal', 'met']];
    for (const x of r.ratios) rr.push([`${x.mmbus} / ${x.peerLabel}`, `1→${x.subscribers}`, range(x.summary, fmtRatio), x.goal ? `≥ ${x.goal}×` : '', x.met === null ? '' : x.met ? 'yes' : 'no']);
    out.push(table(rr, markdown));
  }
  if (r.latency.length) {
    h(`One-way latency, 1→1, ${runs}`);
    const lr = [['system', 'rate', 'p50', 'p99', 'p99.9', 'publisher pacing']];
    for (const l of r.latency) lr.push([l.label, `${fmtRate(l.rate)} msg/s × ${l.samples.toLocaleString('en-US')}`, range(l.p50, fmtNs), range(l.p99, fmtNs), range(l.p999, fmtNs), l.pacing]);
    out.push(table(lr, markdown));
  }
  if (r.idle.length) {
    h(`Idle subscriber, CPU over 5 s (% of one core), ${runs}`);
    const ir = [['subscriber', 'CPU']];
    for (const i of r.idle) ir.push([i.label, range(i.summary, (v) => `${v.toFixed(3)} %`)]);
    out.push(table(ir, markdown));
  }
  if (r.goals.length) {
    h('Goals');
    const gr = [['goal', 'measured (median)', 'lowest run', 'met']];
    for (const g of r.goals) gr.push([g.text, g.measured === null ? '–' : fmtRatio(g.measured), g.min === null ? '–' : fmtRatio(g.min), g.met === null ? 'not measured' : g.met ? 'yes' : 'no']);
    out.push(table(gr, markdown));
  }
  if (r.notes.length) {
    h('Notes');
    out.push(r.notes.map((n) => `- ${n}`).join('\n'));
  }
  return out.join('\n');
}

export function terminalReport(r: Results): string {
  return sections(r, false);
}

export function markdownReport(r: Results): string {
  const m = r.machine;
  return `## mmbus and its peers, side by side

Measured ${r.date.slice(0, 10)} by \`npm run bench\` (tools/bench) on one machine, in one run: ${String(m['cpus'])} × ${String(m['model'])}, ${String(m['os'])}, Node ${String(m['node'])}, redis-server ${String(m['redis'] ?? '–')}, libzmq ${String(m['zeromq'] ?? '–')}; load average at start ${String(m['loadStart'])}. Every subscriber is a separate process and checks the count and the checksum of what it received; a run that fails its check counts as failed, not as a figure. Ratios are computed per run pair (mmbus and the peer measured back to back), not from the medians.
${sections(r, true)}
`;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Horizontal bar chart of throughput per system (1→1, 1→2, 1→4), log scale, plain SVG text. */
export function svgChart(r: Results): string {
  const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c'];
  const groups = systems(r).map((s) => ({ label: s.label, bars: FANOUTS.map((n) => s.cases.get(n)?.summary?.median ?? NaN), ref: false }));
  groups.push({ label: r.reference.label, bars: [r.reference.msgPerSec, NaN, NaN], ref: true });
  const values = groups.flatMap((g) => g.bars).filter((v) => Number.isFinite(v) && v > 0);
  const lo = Math.floor(Math.log10(Math.min(...values, 1e5)));
  const hi = Math.ceil(Math.log10(Math.max(...values, 1e6)));
  const left = 300;
  const right = 110;
  const width = 960;
  const plotW = width - left - right;
  const barH = 11;
  const top = 58;
  const groupH = barH * 3 + 14;
  const height = top + groups.length * groupH + 40;
  const x = (v: number) => left + ((Math.log10(v) - lo) / (hi - lo)) * plotW;
  const o: string[] = [];
  o.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`);
  o.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  o.push(`<text x="${left}" y="20" font-size="14" font-weight="bold">Throughput, ${r.config.records.toLocaleString('en-US')} × ${r.config.recordSize} B messages, msg/s per subscriber (log scale)</text>`);
  o.push(`<text x="${left}" y="38" fill="#555">median of ${r.config.runs} run(s), ${esc(String(r.machine['cpus']))} × ${esc(String(r.machine['model']))}, ${r.date.slice(0, 10)}</text>`);
  FANOUTS.forEach((n, i) => {
    const lx = width - 200 + i * 62;
    o.push(`<rect x="${lx}" y="28" width="12" height="12" fill="${COLORS[i]}"/><text x="${lx + 17}" y="38">1→${n}</text>`);
  });
  for (let p = lo; p <= hi; p++) {
    const gx = x(10 ** p).toFixed(1);
    o.push(`<line x1="${gx}" y1="${top - 6}" x2="${gx}" y2="${height - 34}" stroke="#ddd"/>`);
    const tick = p >= 6 ? `${10 ** (p - 6)} M` : p >= 3 ? `${10 ** (p - 3)} k` : `${10 ** p}`;
    o.push(`<text x="${gx}" y="${height - 18}" text-anchor="middle" fill="#555">${tick}</text>`);
  }
  groups.forEach((g, gi) => {
    const y0 = top + gi * groupH;
    if (g.ref) {
      o.push(`<text x="${left - 8}" y="${y0 + 8}" text-anchor="end" font-style="italic" fill="#555">${esc(g.label)}</text>`);
      o.push(`<text x="${left - 8}" y="${y0 + 22}" text-anchor="end" font-style="italic" fill="#555">published figure, not measured here</text>`);
    } else o.push(`<text x="${left - 8}" y="${y0 + (barH * 3) / 2 + 4}" text-anchor="end">${esc(g.label)}</text>`);
    g.bars.forEach((v, i) => {
      if (!Number.isFinite(v) || v <= 0) return;
      const y = y0 + i * barH;
      const w = Math.max(1, x(v) - left);
      const fill = g.ref ? '#bbbbbb' : COLORS[i];
      o.push(`<rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="${barH - 2}" fill="${fill}"${g.ref ? ' stroke="#777" stroke-dasharray="3,2"' : ''}/>`);
      o.push(`<text x="${(left + w + 4).toFixed(1)}" y="${y + barH - 3}" font-size="10">${esc(fmtRate(v))}</text>`);
    });
  });
  o.push('</svg>');
  return `${o.join('\n')}\n`;
}
