// The page in a real browser: Debian's chromium (headless, driven by puppeteer-core; no browser
// download) opens the gateway's page while the C++ collector publishes 210,000 points into its keyed
// `points` channel, a user types point ids and ranges, and the table must end with exactly the values
// the collector reports it published last. A screenshot goes to .ci/out/ (a CI artifact).
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { openChannel } from '@mmbus/core';
import { Person } from '@mmbus/messages';
import { spawnChild } from '@mmbus/test-kit';
import puppeteer, { type Browser } from 'puppeteer-core';
import { afterEach, describe, expect, it } from 'vitest';

import type { Gateway } from '../src/index.ts';
import { gateway, REPO, until, useGatewayTests } from './helpers.ts';

const CHROMIUM = process.env['MMBUS_CHROMIUM'] ?? '/usr/bin/chromium';
const COLLECTOR = resolve(REPO, 'examples-cpp/build/collector-host');
const OUT = resolve(REPO, '.ci/out');

let dir = '';
useGatewayTests((d) => (dir = d));
let g: Gateway | null = null;
let browser: Browser | null = null;
afterEach(async () => {
  await browser?.close();
  browser = null;
});

describe('the page in chromium', () => {
  it('shows the collector’s final values of the points a user asks for, live, then tails a plain channel, with no console error', async () => {
    expect(existsSync(CHROMIUM), `${CHROMIUM} (apt-get install chromium; .ci/run does)`).toBe(true);
    expect(existsSync(COLLECTOR), `${COLLECTOR} (npx nx run examples-cpp:build)`).toBe(true);
    const values = join(dir, 'collector-values.bin');
    // the burst of 210,000 points, then 40,000 changes/s for 4 s
    const host = spawnChild(COLLECTOR, ['--dir', dir, '--devices', '70', '--points-per-device', '3000', '--rate', '40000', '--duration', '4', '--dump-values', values, '--quiet']);
    await until(() => existsSync(join(dir, 'points.db')), 'the points channel');
    const people = openChannel('people', Person, { dir }); // a plain channel: the page tails it
    g = await gateway(dir, { token: 'page-test' });
    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--no-default-browser-check'],
    });
    const page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 900 });
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warn') problems.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${String(e)}`));
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`));
    await page.goto(g.url, { waitUntil: 'load' });
    await page.waitForSelector('body[data-ready="1"]', { timeout: 20_000 });
    // the first keyed channel is picked for a start
    expect(await page.$eval('#channel', (s) => (s as HTMLSelectElement).value)).toBe('points');
    // a user types point ids and ranges, and presses Enter
    const typed = '0-4, 4711 105000  209995..209999';
    const keys = [0, 1, 2, 3, 4, 4711, 105000, 209995, 209996, 209997, 209998, 209999];
    await page.type('#keys', typed);
    await page.keyboard.press('Enter');
    await page.waitForSelector('tr[data-key="209999"]');
    expect(await page.$$eval('#values tbody tr', (trs) => trs.map((t) => Number((t as HTMLElement).dataset['key'])))).toEqual(keys);

    const h = await host.exited;
    expect(h.code, h.stderr).toBe(0);
    const summary = JSON.parse(h.stdout.trim().split('\n').pop()!) as { ok: boolean; published: number; changes: number };
    expect(summary.ok).toBe(true);
    expect(summary.changes).toBeGreaterThan(0);
    const last = new Float64Array(readFileSync(values).buffer.slice(0));
    expect(last.length).toBe(210_000);
    const expected = keys.map((k) => String(last[k]));
    let shown: string[] = [];
    await until(() => {
      void page
        .$$eval('#values tbody tr', (trs) => trs.map((t) => t.querySelector('td[data-field="value"]')?.getAttribute('data-value') ?? ''))
        .then((v) => (shown = v))
        .catch(() => {});
      return JSON.stringify(shown) === JSON.stringify(expected);
    }, `the page to show the collector's final values ${expected.join(', ')} (shows ${shown.join(', ')})`, 30_000);
    // the rest of each row is the point's: its id, device and tag
    const row = await page.$$eval('tr[data-key="4711"] td', (tds) => tds.map((td) => td.textContent));
    expect(row.slice(2, 6)).toEqual(['4711', String(Math.floor(4711 / 3000)), 'Good', `dev1/pt${4711 % 3000}`]);
    // the heat map drew something, the chart got stats
    const lit = await page.$eval('#overview', (c) => {
      const cv = c as HTMLCanvasElement;
      const d = cv.getContext('2d')!.getImageData(0, 0, cv.width, cv.height).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i]! > 0) n++;
      return n;
    });
    expect(lit).toBeGreaterThan(0);
    mkdirSync(OUT, { recursive: true });
    await page.screenshot({ path: join(OUT, 'web-page.png') });

    // a plain channel: picked in the list, the newest 50 records published before are shown first
    // (the tail's backfill, newest on top), then its records as they come
    people.publishBatch(80, (r, i) => r.assign({ index: BigInt(i), name: `earlier ${i}`, age: i % 90 }));
    await page.select('#channel', 'people');
    await page.waitForFunction(() => document.querySelector('#values th')?.textContent === 'index');
    await page.waitForFunction(() => document.querySelectorAll('#values tbody tr').length === 50, { timeout: 20_000 });
    const before = await page.$$eval('#values tbody tr td[data-field="name"]', (tds) => tds.map((td) => td.textContent));
    expect(before).toEqual(Array.from({ length: 50 }, (_, i) => `earlier ${79 - i}`));
    people.publishBatch(500, (r, i) => r.assign({ index: BigInt(80 + i), name: `person ${i}`, age: i % 90 }));
    await page.waitForFunction(() => document.querySelector('#values tbody tr td[data-field="name"]')?.textContent === 'person 499', { timeout: 20_000 });
    expect(await page.$$eval('#values tbody tr', (trs) => trs.length)).toBeLessThanOrEqual(50);
    people.close();
    expect(problems).toEqual([]);
  });
});
