// Shared by the gateway's tests: a gateway over a scratch directory, clients through the real client
// library (with the `ws` package's WebSocket), and a wait that polls without spinning.
import { resolve } from 'node:path';

import { useScratchDir } from '@mmbus/test-kit';
import WebSocket from 'ws';
import { afterEach } from 'vitest';

import { MmbusWebClient, type ConnectOptions } from '../src/browser/client.ts';
import { startGateway, type Gateway, type GatewayOptions } from '../src/index.ts';

export const REPO = resolve(import.meta.dirname, '../../..');
export const SCHEMAS = [resolve(REPO, 'schemas/point.fbs'), resolve(REPO, 'schemas/person.fbs')];

const started: Gateway[] = [];

/** A gateway over `dir` with the repository's schemas on a free port; closed after the test (useGatewayTests). */
export async function gateway(dir: string, options: Partial<GatewayOptions> = {}): Promise<Gateway> {
  const g = await startGateway({ dir, port: 0, schemas: SCHEMAS, ...options });
  started.push(g);
  return g;
}

/** For a test file, at its top: each test gets a scratch directory (onDir), and the gateways it started
 * are closed after it, before the directory is removed (vitest runs after-hooks last registered first). */
export function useGatewayTests(onDir: (dir: string) => void): void {
  useScratchDir(onDir);
  afterEach(async () => {
    for (const g of started.splice(0)) await g.close();
  });
}

export function wsUrl(g: Gateway): string {
  return `ws://127.0.0.1:${g.port}/ws`;
}

export function connect(g: Gateway, options: ConnectOptions = {}): Promise<MmbusWebClient> {
  return MmbusWebClient.connect(wsUrl(g), { WebSocket, ...options });
}

/** Resolves once cond() holds (checked every 10 ms); rejects after `ms` with what it was waiting for. */
export async function until(cond: () => boolean, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
