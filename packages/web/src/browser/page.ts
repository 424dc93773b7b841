// The page the gateway serves at /: pick a channel, type or paste point ids and ranges, watch their
// live values (changed cells flash); a heat map of every key's recent changes and a chart of the
// channel's rate and its subscribers' lag. No framework: a few DOM nodes updated in place.
import { GatewayError, MmbusWebClient, type DecodedRecord, type RemoteChannel } from './client.js';
import type { ChannelSummary, KeyRange, OpenMessage, StatsMessage } from './protocol.js';

/** Rows shown at most (the keys asked beyond them are still watched, not drawn). */
const ROWS_MAX = 2000;
const TAIL_ROWS = 50;
const CHART_POINTS = 120;
const HEAT_DECAY = 0.85;

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const params = new URLSearchParams(location.search);
const token = params.get('token') ?? undefined;

const ui = {
  status: $<HTMLSpanElement>('status'),
  rate: $<HTMLSpanElement>('rate'),
  channel: $<HTMLSelectElement>('channel'),
  keys: $<HTMLInputElement>('keys'),
  watch: $<HTMLFormElement>('watch'),
  error: $<HTMLDivElement>('error'),
  info: $<HTMLDivElement>('info'),
  table: $<HTMLTableElement>('values'),
  overview: $<HTMLCanvasElement>('overview'),
  overviewBox: $<HTMLElement>('overview-box'),
  chart: $<HTMLCanvasElement>('chart'),
  subscribers: $<HTMLDivElement>('subscribers'),
};

/** "0-99, 4711 200000..200009" as keys and ranges (ranges inclusive as typed, sent as from/to). */
export function parseKeys(text: string, keyCount: number): (number | KeyRange)[] {
  const out: (number | KeyRange)[] = [];
  for (const part of text.split(/[\s,;]+/).filter(Boolean)) {
    const m = /^(\d+)(?:(?:-|\.\.)(\d+))?$/.exec(part);
    if (!m) throw new Error(`'${part}' is neither a point id nor a range like 10-20`);
    const from = Number(m[1]);
    const last = m[2] === undefined ? from : Number(m[2]);
    if (last < from) throw new Error(`range ${part} is backwards`);
    if (last >= keyCount) throw new Error(`${last} is beyond the last point id ${keyCount - 1}`);
    out.push(last === from ? from : { from, to: last + 1 });
  }
  return out;
}

function expand(spec: (number | KeyRange)[]): number[] {
  const set = new Set<number>();
  for (const s of spec) {
    if (typeof s === 'number') set.add(s);
    else for (let k = s.from; k < s.to && set.size < ROWS_MAX * 4; k++) set.add(k);
  }
  return [...set].sort((a, b) => a - b);
}

function show(v: unknown): string {
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toPrecision(8).replace(/\.?0+$/, '');
  if (Array.isArray(v)) return `[${v.map(show).join(', ')}]`;
  if (typeof v === 'object') return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x));
  return String(v);
}

/** The exact value, for tests and copy-paste: numbers with every digit, bigints as digits. */
function exact(v: unknown): string {
  return typeof v === 'object' ? show(v) : String(v);
}

const clockFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', fractionalSecondDigits: 3, hour12: false });
/** When a value changed, to the millisecond (the gateway's clock when it built the frame). */
const clock = (time: number): string => clockFormat.format(time);

interface Row {
  tr: HTMLTableRowElement;
  cells: HTMLTableCellElement[];
  changed: HTMLTableCellElement;
  flip: boolean;
}

let client: MmbusWebClient | null = null;
let channels: ChannelSummary[] = [];
let current: RemoteChannel | null = null;
let fields: string[] = [];
let keyField = '';
const rows = new Map<number, Row>();
let watched: (number | KeyRange)[] = [];

function setError(text: string): void {
  ui.error.textContent = text;
  ui.error.hidden = text === '';
}

function buildTable(info: OpenMessage, keys: number[] | null): void {
  fields = info.layout.fields.map((f) => f.name);
  keyField = info.layout.key ?? '';
  rows.clear();
  const thead = document.createElement('thead');
  const hr = thead.insertRow();
  for (const f of [...fields, 'changed']) {
    const th = document.createElement('th');
    th.textContent = f;
    hr.append(th);
  }
  const tbody = document.createElement('tbody');
  ui.table.replaceChildren(thead, tbody);
  if (!keys) return;
  for (const k of keys.slice(0, ROWS_MAX)) {
    const tr = tbody.insertRow();
    tr.dataset['key'] = String(k);
    const cells = fields.map((f) => {
      const td = tr.insertCell();
      td.dataset['field'] = f;
      if (f === keyField) td.textContent = String(k);
      return td;
    });
    const changed = tr.insertCell();
    changed.className = 'time';
    changed.textContent = 'no value yet';
    rows.set(k, { tr, cells, changed, flip: false });
  }
}

function updateRow(row: Row, r: DecodedRecord, time: number): void {
  row.flip = !row.flip;
  fields.forEach((f, i) => {
    const v = r[f];
    if (v === undefined) return;
    const cell = row.cells[i]!;
    const text = show(v);
    if (cell.textContent !== text) {
      cell.textContent = text;
      cell.className = row.flip ? 'flash-a' : 'flash-b';
    }
    cell.dataset['value'] = exact(v);
  });
  row.changed.textContent = clock(time);
  row.tr.dataset['time'] = String(time);
}

function tailRow(r: DecodedRecord, time: number): void {
  const tbody = ui.table.tBodies[0];
  if (!tbody) return;
  const tr = tbody.insertRow(0);
  for (const f of fields) {
    const td = tr.insertCell();
    td.dataset['field'] = f;
    td.textContent = show(r[f]);
  }
  const t = tr.insertCell();
  t.className = 'time';
  t.textContent = clock(time);
  while (tbody.rows.length > TAIL_ROWS) tbody.deleteRow(-1);
}

// ---- overview heat map -----------------------------------------------------------------------------

let heat: Float32Array | null = null;
let heatImage: ImageData | null = null;
let heatDirty = false;

function setupOverview(keyCount: number): void {
  const width = Math.min(1000, Math.ceil(Math.sqrt(keyCount * 3)));
  const height = Math.ceil(keyCount / width);
  ui.overview.width = width;
  ui.overview.height = height;
  heat = new Float32Array(keyCount);
  const ctx = ui.overview.getContext('2d')!;
  heatImage = ctx.createImageData(width, height);
  heatDirty = true;
}

function drawOverview(): void {
  if (!heat || !heatImage || !heatDirty) return;
  const px = heatImage.data;
  let any = false;
  for (let k = 0; k < heat.length; k++) {
    const h = heat[k]!;
    const o = k * 4;
    // cold: dark blue-grey; hot: orange-yellow
    px[o] = 30 + h * 225;
    px[o + 1] = 36 + h * 170;
    px[o + 2] = 48 - h * 20;
    px[o + 3] = 255;
    if (h > 0.01) {
      heat[k] = h * HEAT_DECAY;
      any = true;
    } else heat[k] = 0;
  }
  ui.overview.getContext('2d')!.putImageData(heatImage, 0, 0);
  heatDirty = any;
}

// ---- rate and lag chart ----------------------------------------------------------------------------

const samples: { time: number; rate: number; lag: number }[] = [];
let lastStats: StatsMessage | null = null;

function onStats(s: StatsMessage): void {
  if (lastStats && s.time > lastStats.time) {
    const rate = ((s.head - lastStats.head) * 1000) / (s.time - lastStats.time);
    const lag = s.subscribers.reduce((m, x) => Math.max(m, x.state === 'active' ? x.lag : 0), 0);
    samples.push({ time: s.time, rate, lag });
    if (samples.length > CHART_POINTS) samples.shift();
    drawChart();
  }
  lastStats = s;
  ui.subscribers.replaceChildren(
    ...s.subscribers.map((x) => {
      const d = document.createElement('div');
      d.textContent = `${x.name ?? `#${x.slot}`} (pid ${x.pid}, ${x.state}): lag ${x.lag.toLocaleString()}, lost ${x.lost.toLocaleString()}`;
      return d;
    }),
  );
}

function drawChart(): void {
  const c = ui.chart;
  const ctx = c.getContext('2d')!;
  ctx.clearRect(0, 0, c.width, c.height);
  const line = (pick: (s: (typeof samples)[number]) => number, colour: string, label: string, row: number): void => {
    const max = Math.max(1, ...samples.map(pick));
    ctx.strokeStyle = colour;
    ctx.beginPath();
    samples.forEach((s, i) => {
      const x = (i / (CHART_POINTS - 1)) * c.width;
      const y = c.height - 4 - (pick(s) / max) * (c.height - 24);
      if (i === 0) ctx.moveTo(x, y);
      else ctx.lineTo(x, y);
    });
    ctx.stroke();
    ctx.fillStyle = colour;
    const last = samples[samples.length - 1];
    ctx.fillText(`${label} ${last ? Math.round(pick(last)).toLocaleString() : 0} (max ${Math.round(max).toLocaleString()})`, 6, 12 + row * 12);
  };
  line((s) => s.rate, '#e8a33c', 'records/s', 0);
  line((s) => s.lag, '#5cc2e8', 'worst lag', 1);
}

// ---- wiring --------------------------------------------------------------------------------------

async function openChannel(name: string): Promise<void> {
  if (!client) return;
  if (current) await current.close().catch(() => {});
  setError('');
  samples.length = 0;
  lastStats = null;
  heat = null;
  const summary = channels.find((c) => c.name === name);
  if (!summary) return;
  current = client.channel(name);
  const ch = current;
  ch.onStats = onStats;
  ch.onDropped = (code, message) => setError(`${name}: ${code}: ${message}`);
  ch.onOverview = (keys) => {
    if (!heat) return;
    for (const k of keys) heat[k] = 1;
    heatDirty = true;
  };
  ch.onValues = (records, frame) => {
    for (const r of records) {
      const row = rows.get(r[keyField] as number);
      if (row) updateRow(row, r, frame.time);
    }
  };
  ch.onTail = (records, frame) => {
    for (const r of records) tailRow(r, frame.time);
  };
  ui.info.textContent = `${summary.schema}, ${summary.keyCount ? `${summary.keyCount.toLocaleString()} keys` : 'not keyed'}, ${summary.capacity.toLocaleString()} records, ${summary.policy}`;
  ui.keys.disabled = summary.keyCount === 0;
  ui.overviewBox.hidden = summary.keyCount === 0;
  await ch.stats(true);
  if (summary.keyCount) {
    setupOverview(summary.keyCount);
    await ch.overview(true);
    if (ui.keys.value.trim()) await watchKeys();
    else if (ch.info) buildTable(ch.info, []);
  } else {
    // the table first, so the backfill (the newest TAIL_ROWS records before now) lands in it
    if (ch.info) buildTable(ch.info, null);
    else ch.onOpen = (info) => buildTable(info, null);
    await ch.tail({ last: TAIL_ROWS });
  }
}

async function watchKeys(): Promise<void> {
  const ch = current;
  const summary = channels.find((c) => c.name === ch?.name);
  if (!ch || !summary) return;
  let spec: (number | KeyRange)[];
  try {
    spec = parseKeys(ui.keys.value, summary.keyCount);
  } catch (err) {
    setError((err as Error).message);
    return;
  }
  setError('');
  if (watched.length) await ch.unask(watched);
  watched = spec;
  // the table first, so the current values that answer the ask land in it
  if (ch.info) buildTable(ch.info, expand(spec));
  else ch.onOpen = (info) => buildTable(info, expand(spec));
  const url = new URL(location.href);
  url.searchParams.set('channel', ch.name);
  url.searchParams.set('keys', ui.keys.value.trim());
  history.replaceState(null, '', url);
  if (spec.length) await ch.ask(spec);
}

async function main(): Promise<void> {
  ui.status.textContent = 'connecting…';
  try {
    client = await MmbusWebClient.connect(MmbusWebClient.urlFor(location), token === undefined ? {} : { token });
  } catch (err) {
    ui.status.textContent = 'refused';
    setError(err instanceof Error ? err.message : String(err));
    return;
  }
  ui.status.textContent = 'connected';
  client.onClose = (code, reason) => {
    ui.status.textContent = `closed (${code}${reason ? ` ${reason}` : ''})`;
  };
  client.onError = (e) => setError(`${e.code}: ${e.message}`);
  channels = await client.list();
  ui.channel.replaceChildren(
    ...channels.map((c) => {
      const o = document.createElement('option');
      o.value = c.name;
      o.textContent = c.error ? `${c.name} (cannot open)` : c.known ? `${c.name} — ${c.schema}` : `${c.name} (unknown schema ${c.schema})`;
      o.disabled = !!c.error || !c.known;
      return o;
    }),
  );
  const wanted = params.get('channel') ?? channels.find((c) => c.known && c.keyCount)?.name ?? channels.find((c) => c.known)?.name;
  if (params.get('keys')) ui.keys.value = params.get('keys')!;
  if (wanted) {
    ui.channel.value = wanted;
    await openChannel(wanted);
  } else {
    setError('no channel to show in this directory');
  }
  ui.channel.addEventListener('change', () => {
    watched = [];
    void openChannel(ui.channel.value).catch(report);
  });
  ui.watch.addEventListener('submit', (ev) => {
    ev.preventDefault();
    void watchKeys().catch(report);
  });
  let lastBytes = 0;
  let lastFrames = 0;
  setInterval(() => {
    if (!client) return;
    const kb = (client.bytesReceived - lastBytes) / 1024;
    const frames = client.framesReceived - lastFrames;
    lastBytes = client.bytesReceived;
    lastFrames = client.framesReceived;
    ui.rate.textContent = `${frames} frames/s, ${kb.toFixed(1)} KiB/s`;
  }, 1000);
  const frame = (): void => {
    drawOverview();
    setTimeout(() => requestAnimationFrame(frame), 80); // ~10 redraws a second is enough for a heat map
  };
  requestAnimationFrame(frame);
  document.body.dataset['ready'] = '1';
}

function report(err: unknown): void {
  setError(err instanceof GatewayError ? `${err.code}: ${err.message}` : String(err));
}

void main().catch(report);
