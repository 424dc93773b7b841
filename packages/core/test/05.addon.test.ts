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
    expect(thrown).toMatchObject({ name: 'MmbusError', code: 'MMBUS_E_NAME', errno: -2 });
  });
});
