// Helpers of the bridge's tests: a real nats-server per test file (JetStream in a temp dir, always
// stopped), the bridge as a tracked child process, NATS clients closed after each test.
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { Person } from '@mmbus/messages';
import { expectedChecksum, lastJson, runTs, type Child } from '@mmbus/test-kit';
import { connect, type NatsConnection } from 'nats';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';

import { HEADER, type BridgeStats } from '../src/index.js';
import { NatsServer } from '../src/nats-server.js';

export { killChildren, useScratchDir, type Child } from '@mmbus/test-kit';

const here = dirname(fileURLToPath(import.meta.url));
export const ROOT = join(here, '../../..');
export const CPP_BUILD = join(ROOT, 'examples-cpp/build');

/** A nats-server for the whole test file: started before its tests, stopped (store removed) after. */
export function useNatsServer(opts: { jetstream?: boolean } = {}): () => NatsServer {
  let server: NatsServer | undefined;
  beforeAll(async () => {
    server = await NatsServer.start(opts);
  });
  afterAll(async () => {
    await server?.stop();
  });
  return () => {
    if (!server) throw new Error('the nats-server of this file did not start');
    return server;
  };
}

const clients = new Set<NatsConnection>();
afterEach(async () => {
  await Promise.all([...clients].map((c) => c.close().catch(() => {})));
  clients.clear();
});

/** A NATS client of the test itself, closed after the test. */
export async function natsClient(url: string): Promise<NatsConnection> {
  const nc = await connect({ servers: url, reconnectTimeWait: 100, maxReconnectAttempts: -1 });
  clients.add(nc);
  return nc;
}

/** Runs the bridge (src/main.ts) with this configuration (the channel dir and a short stats interval by default). */
export function bridgeProcess(dir: string, config: object, file = 'bridge.json'): Child {
  const path = join(dir, file);
  writeFileSync(path, JSON.stringify({ dir, statsIntervalMs: 200, ...config }));
  return runTs(join(here, '../src/main.ts'), [path]);
}

/** Starts the bridge; resolves once it printed `ready` (every route open). */
export async function startBridge(dir: string, config: object, file = 'bridge.json'): Promise<Child> {
  const child = bridgeProcess(dir, config, file);
  await child.line('ready');
  return child;
}

/** SIGTERM, then the final stats it printed (it must exit 0 unless `code` says otherwise). */
export async function stopBridge(child: Child, code = 0): Promise<BridgeStats> {
  child.proc.kill('SIGTERM');
  const e = await child.exited;
  expect(e.code, e.stderr).toBe(code);
  return lastJson<BridgeStats>(e.stdout);
}

/** Resolves when `cond()` holds, checking every `ms` (never spins); throws after `limitMs` with `what`. */
export async function until(cond: () => boolean | Promise<boolean>, what: string, limitMs = 60_000, ms = 20): Promise<void> {
  const end = Date.now() + limitMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, ms));
  }
}

/** A Person record as the C++ publisher writes it (index i, name person-i, age i % 100), or why not. */
export function personProblem(data: Uint8Array, expectedIndex: number): string | null {
  if (data.length !== Person.SIZE) return `${data.length} bytes`;
  const p = new Person(new DataView(data.buffer, data.byteOffset, data.byteLength), 0);
  const i = Number(p.index);
  if (i !== expectedIndex) return `index ${i}, expected ${expectedIndex}`;
  if (p.name !== `person-${i}` || p.age !== i % 100) return `index ${i}: name '${p.name}', age ${p.age}`;
  return null;
}

/**
 * Reads a whole JetStream stream (an ordered consumer) and checks that it holds exactly the channel's
 * records 0..n-1, once each, each one the C++ publisher's Person record; and in order unless `ordered`
 * is false (a stream that refused records and then took later ones first: docs/bridge.md, Order).
 */
export async function expectStreamOfPeople(nc: NatsConnection, stream: string, n: number, ordered = true): Promise<void> {
  const info = await (await nc.jetstreamManager()).streams.info(stream);
  expect(info.state.messages, 'messages in the stream').toBe(n);
  const messages = await (await nc.jetstream().consumers.get(stream)).consume();
  const seen = new Uint8Array(n);
  let i = 0;
  let checksum = 0;
  for await (const m of messages) {
    const seq = Number(m.headers?.get(HEADER.seq));
    if (ordered ? seq !== i : !(seq >= 0 && seq < n) || seen[seq]) expect.fail(`stream message ${m.seq}: ${HEADER.seq} ${seq} (${ordered ? `expected ${i}` : 'twice, or out of range'})`);
    seen[seq] = 1;
    const why = personProblem(m.data, seq);
    if (why) expect.fail(`stream message ${m.seq}: ${why}`);
    checksum += seq % 2 === 0 ? seq : -seq;
    if (++i === n) break;
  }
  expect(checksum).toBe(expectedChecksum(n));
}
