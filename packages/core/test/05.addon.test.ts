import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { MMBUS_ERROR_CODES, MmbusError as RuntimeMmbusError } from '@mmbus/runtime';
import { Person } from '@mmbus/messages';
import { MmbusError, openChannel } from '../src/index.js';
import { loadAddon } from '../src/load-addon.js';
import { native } from '../src/native.js';
import { useScratchDir } from './helpers.js';

let dir: string;
useScratchDir((d) => (dir = d));

describe('loading the addon', () => {
  it('loads the addon of this package (its build, or a prebuilt binary)', () => {
    expect(native.version()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('without a prebuilt binary or a build, says what to install and what to run', () => {
    writeFileSync(join(dir, 'package.json'), '{ "name": "@mmbus/core" }\n');
    expect(() => loadAddon(dir)).toThrow(
      new RegExp(
        `^@mmbus/core: its native addon is missing: no prebuilt binary for ${process.platform}-${process.arch}, Node ${process.versions.node.replace(/\./g, '\\.')} ` +
          `and none compiled in ${join(dir, 'build', 'Release')}\\. .*apt-get install g\\+\\+ make python3.*npm rebuild @mmbus/core --build-from-source.*` +
          `npm install-scripts approve @mmbus/core.*\\(node-gyp-build: No native build was found`,
        's',
      ),
    );
  });

  it('an addon that does not load: names the file and why', () => {
    writeFileSync(join(dir, 'package.json'), '{ "name": "@mmbus/core" }\n');
    mkdirSync(join(dir, 'build', 'Release'), { recursive: true });
    const file = join(dir, 'build', 'Release', 'mmbus.node');
    writeFileSync(file, 'not a shared object');
    expect(() => loadAddon(dir)).toThrow(new RegExp(`^@mmbus/core: its native addon ${file} does not load: .*(invalid ELF header|too short).*npm rebuild @mmbus/core`, 's'));
  });
});

describe('errors', () => {
  it('the codes of @mmbus/runtime are those of libmmbus (MMBUS_ERRORS in mmbus.h), in order', () => {
    const lib = native.errorCodes().filter((c) => c.code !== 0);
    expect(lib.map((c) => c.name)).toEqual([...MMBUS_ERROR_CODES]);
    expect(lib.map((c) => c.code)).toEqual(MMBUS_ERROR_CODES.map((_, i) => -(i + 1)));
  });

  it('MmbusError of @mmbus/core is the class of @mmbus/runtime', () => {
    expect(MmbusError).toBe(RuntimeMmbusError);
    let thrown: unknown;
    try {
      openChannel('not/a/name', Person, { dir });
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(RuntimeMmbusError);
    expect(thrown).toMatchObject({ name: 'MmbusError', code: 'MMBUS_E_NAME', errno: 0 });
  });
});

describe('poll with ackFirst: the batch in hand is acknowledged and the next polled in one call', () => {
  it('moves the cursor past the batch in hand, in order, for a durable subscriber and in copying mode too', () => {
    const ch = openChannel('ackfirst', Person, { dir, capacity: 16 });
    const sub = ch.subscribe({ name: 'd' });
    const h = (sub as unknown as { handle: Parameters<typeof native.poll>[0] }).handle;
    const out = new Float64Array(3);
    const copy = new Uint8Array(16 * ch.stride);
    ch.publishBatch(3, (r, i) => (r.indexNumber = i));
    expect(native.poll(h, 2, out)).toBe(2);
    expect(out[0]).toBe(0);
    expect(native.poll(h, 8, out, true)).toBe(1); // the two acknowledged, record 2 polled
    expect(out[0]).toBe(2);
    expect(ch.stats().subscribers[0]!.cursor).toBe(2);
    expect(native.pollCopy(h, 8, out, copy, true)).toBe(0); // record 2 acknowledged, nothing more
    expect(ch.stats().subscribers[0]!.cursor).toBe(3);
    // nothing in hand: the ack fails and nothing is polled
    ch.publish({ index: 3n });
    expect(native.errname(native.poll(h, 8, out, true))).toBe('MMBUS_E_STATE');
    expect(ch.stats().subscribers[0]!.cursor).toBe(3);
    expect(native.poll(h, 8, out)).toBe(1);
    expect(out[0]).toBe(3);
    sub.close();
    ch.close();
  });
});

describe('stage: the publish function of a channel', () => {
  it('publishes the staged record (undefined), refuses a second stage, and fails with MMBUS_E_CLOSED once closed', () => {
    const ch = openChannel('staged', Person, { dir, capacity: 16 });
    const sub = ch.subscribe();
    const h = (ch as unknown as { handle: Parameters<typeof native.stage>[0] }).handle;
    const bytes = new Uint8Array(Person.SIZE);
    const record = new Person(new DataView(bytes.buffer));
    const code = (rc: unknown): string => native.errname(rc as number);
    expect(code(native.stage(h, bytes))).toBe('MMBUS_E_STATE'); // openChannel staged its own record
    // a channel opened by the addon alone: staged here, published through the function it returns
    const opened = native.open(dir, 'staged', {});
    if (typeof opened === 'number') throw new Error(native.errmsg());
    expect(code(native.stage(opened.handle, new Uint8Array(Person.SIZE - 1)))).toBe('MMBUS_E_TOOBIG');
    const publish = native.stage(opened.handle, bytes);
    if (typeof publish === 'number') throw new Error(native.errmsg());
    record.indexNumber = 41;
    expect(publish()).toBeUndefined();
    record.indexNumber = 42;
    expect(publish()).toBeUndefined();
    const b = sub.poll()!;
    expect([0, 1].map((i) => b.get(i).indexNumber)).toEqual([41, 42]);
    expect(b.length).toBe(2);
    expect(native.close(opened.handle)).toBe(0);
    expect(code(publish())).toBe('MMBUS_E_CLOSED');
    sub.close();
    ch.close();
  });
});
