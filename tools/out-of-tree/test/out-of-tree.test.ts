// mmbus as a user gets it, outside this repository: every package packed (npm pack), the tarballs
// installed into a fresh app (app/, copied to a scratch directory: no path back here, no node_modules
// shared with the repo) without a C compiler on the PATH, messages generated from the app's own
// schema, compiled with a strict tsconfig and run as plain node processes; then libmmbus installed
// with cmake --install and a C program built against it twice (find_package, pkg-config) publishing
// to the app's Node subscriber; then the addon compiled from the sources in the package.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { killChildren, lastJson, spawnChild } from '@mmbus/test-kit';

const here = dirname(fileURLToPath(import.meta.url));
const repoDir = resolve(here, '..', '..', '..');
const COUNT = 100_000;
const MINUTE = 60_000;

interface PackageJson {
  name: string;
  workspaces?: string[];
  version: string;
  private?: boolean;
  license?: string;
  repository?: { type: string; url: string; directory: string };
  engines?: { node?: string };
  files?: string[];
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}
const readJson = <T>(file: string): T => JSON.parse(readFileSync(file, 'utf8')) as T;
const rootPkg = readJson<PackageJson>(join(repoDir, 'package.json'));
const corePkg = readJson<PackageJson>(join(repoDir, 'packages', 'core', 'package.json'));

/** The packages a user installs: every workspace package that is not private, by name: its directory. */
const PACKAGE_DIRS: Record<string, string> = {};
for (const pattern of rootPkg.workspaces ?? []) {
  const dirs = pattern.endsWith('/*') ? readdirSync(join(repoDir, pattern.slice(0, -2))).map((d) => `${pattern.slice(0, -2)}/${d}`) : [pattern];
  for (const dir of dirs) {
    if (!existsSync(join(repoDir, dir, 'package.json'))) continue;
    const pkg = readJson<PackageJson>(join(repoDir, dir, 'package.json'));
    if (!pkg.private) PACKAGE_DIRS[pkg.name] = dir;
  }
}
const PACKAGES = Object.keys(PACKAGE_DIRS).sort();

/** The TypeScript example of the README's "Use it in your project" (```ts out-of-tree): the app compiles and runs it as src/main.ts. */
function readmeExample(): string {
  const readme = readFileSync(join(repoDir, 'README.md'), 'utf8');
  const m = /```ts out-of-tree\n([\s\S]*?)```/.exec(readme.slice(readme.indexOf('## Use it in your project')));
  if (!m?.[1]) throw new Error('README.md has no TypeScript example under "## Use it in your project"');
  return m[1];
}

/** The checksum the app's publishers compute (app/src/trades.ts, app/c/publisher.c), computed here on its own. */
function expectedChecksum(n: number): string {
  let sum = 0n;
  for (let i = 0n; i < BigInt(n); i++) sum += i * 1000003n + (i % 1000n) * 31n + (i % 3n === 0n ? 1n : 0n) + i;
  return BigInt.asUintN(64, sum).toString();
}

let scratch = '';
let app = '';
let tarballs = '';
/** A PATH with node, npm, npx and sh only: no cc, c++, make or python3. */
let noCompilerPath = '';
/** The caller's PATH without anything of this repository (node_modules/.bin, npm's node-gyp). */
let fullPath = '';
const versions: Record<string, string> = {};
/** Each package's tarball in `tarballs`. */
const tarballOf: Record<string, string> = {};

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'mmbus-out-of-tree-'));
  app = join(scratch, 'app');
  tarballs = join(scratch, 'tarballs');
  const bin = join(scratch, 'bin');
  mkdirSync(bin);
  fullPath = (process.env['PATH'] ?? '')
    .split(delimiter)
    .filter((p) => p !== '' && !p.startsWith(repoDir) && !p.includes('node_modules'))
    .join(delimiter);
  for (const tool of ['npm', 'npx', 'sh']) {
    const found = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8', env: { PATH: fullPath } }).stdout.trim();
    if (!found) throw new Error(`${tool} is not on the PATH`);
    symlinkSync(found, join(bin, tool));
  }
  symlinkSync(process.execPath, join(bin, 'node'));
  noCompilerPath = bin;
});

afterEach(killChildren);
afterAll(() => {
  killChildren();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

/**
 * The environment of the app's processes: PATH, HOME (npm's cache) and TMPDIR, nothing else of
 * this process (no npm_config_* of the outer npm run, no NODE_PATH, no INIT_CWD into the repo).
 * Keys set to undefined are removed by spawnChild; run() leaves them out.
 */
function appEnv(path: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const k of Object.keys(process.env)) env[k] = undefined;
  return { ...env, PATH: path, HOME: process.env['HOME'], TMPDIR: tmpdir(), LANG: 'C.UTF-8', NO_COLOR: '1', npm_config_update_notifier: 'false', ...extra };
}

interface Ran {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs a program to its end, killed after `timeout` ms; throws with its output unless it exits 0 (or `ok` is false). */
function run(cmd: string, args: readonly string[], opts: { cwd: string; env: NodeJS.ProcessEnv; timeout: number; ok?: boolean }): Ran {
  const env = Object.fromEntries(Object.entries(opts.env).filter(([, v]) => v !== undefined));
  const r = spawnSync(cmd, [...args], { cwd: opts.cwd, env, encoding: 'utf8', timeout: opts.timeout, maxBuffer: 64 << 20 });
  if (r.error) throw new Error(`cannot run ${cmd} ${args.join(' ')}: ${r.error.message} (CI installs cmake, g++, make, pkg-config)`);
  const out = { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  if (opts.ok !== false && out.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.status ?? r.signal} in ${opts.cwd}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
  }
  return out;
}

/** Starts the app's Node subscriber for `count` trades and waits until it is subscribed. */
async function startSubscriber(dir: string, count: number): Promise<ReturnType<typeof spawnChild>> {
  const sub = spawnChild(process.execPath, [join(app, 'dist', 'subscriber.js'), dir, String(count)], appEnv(noCompilerPath));
  await sub.line('ready');
  return sub;
}

/** A publisher (argv) and the Node subscriber on a fresh channel directory: what the subscriber got. */
async function publishToNode(publisher: string[], count: number, env: NodeJS.ProcessEnv): Promise<{ sub: { received: number; bad: number; checksum: string }; pub: Record<string, unknown> }> {
  const dir = mkdtempSync(join(scratch, 'channels-'));
  const sub = await startSubscriber(dir, count);
  const pub = spawnChild(publisher[0]!, [...publisher.slice(1), dir, String(count)], env);
  const p = await pub.exited;
  expect(p.stderr).toBe('');
  expect(p.code).toBe(0);
  const s = await sub.exited;
  expect(s.stderr).toBe('');
  expect(s.code).toBe(0);
  return { sub: lastJson(s.stdout), pub: lastJson(p.stdout) };
}

describe('mmbus outside its repository', () => {
  it('every package is publishable: metadata set, not private, its version used by the others', () => {
    // what the app below uses (any other public package is packed, checked and installed too)
    expect(PACKAGES).toEqual(expect.arrayContaining(['@mmbus/cli', '@mmbus/codegen', '@mmbus/core', '@mmbus/messages', '@mmbus/runtime']));
    for (const [name, dir] of Object.entries(PACKAGE_DIRS)) {
      const pkg = readJson<PackageJson>(join(repoDir, dir, 'package.json'));
      versions[name] = pkg.version;
      expect(pkg.private, name).toBeUndefined();
      expect(pkg.license, name).toBe(rootPkg.license);
      expect(readFileSync(join(repoDir, dir, 'LICENSE'), 'utf8'), name).toBe(readFileSync(join(repoDir, 'LICENSE'), 'utf8'));
      expect(pkg.repository, name).toEqual({ type: 'git', url: corePkg.repository?.url, directory: dir });
      expect(pkg.engines?.node, name).toBe('>=20.19');
      expect(pkg.files?.length, name).toBeGreaterThan(0);
    }
    for (const [name, dir] of Object.entries(PACKAGE_DIRS)) {
      const deps = readJson<PackageJson>(join(repoDir, dir, 'package.json')).dependencies ?? {};
      for (const [dep, version] of Object.entries(deps)) if (dep in PACKAGE_DIRS) expect(version, `${name} -> ${dep}`).toBe(versions[dep]);
    }
  });

  it('packs every package: built JavaScript with types; core with its C sources and a prebuilt addon', () => {
    mkdirSync(tarballs);
    const r = run('npm', ['pack', ...PACKAGES.flatMap((p) => ['-w', p]), '--pack-destination', tarballs, '--json'], { cwd: repoDir, env: process.env, timeout: 10 * MINUTE });
    const packed = JSON.parse(r.stdout) as { name: string; filename: string; files: { path: string }[] }[];
    expect(packed.map((p) => p.name).sort()).toEqual(PACKAGES);
    for (const p of packed) {
      const files = p.files.map((f) => f.path);
      expect(files, p.name).toContain('dist/index.js');
      expect(files, p.name).toContain('dist/index.d.ts');
      expect(files, p.name).toContain('LICENSE'); // the license text travels with each package
      expect(files.filter((f) => /\.ts$/.test(f) && !f.endsWith('.d.ts')), p.name).toEqual([]);
      expect(files.filter((f) => f.startsWith('test/')), p.name).toEqual([]);
      expect(existsSync(join(tarballs, p.filename)), p.filename).toBe(true);
      tarballOf[p.name] = p.filename;
    }
    const core = packed.find((p) => p.name === '@mmbus/core')!.files.map((f) => f.path);
    expect(core).toContain(`prebuilds/linux-x64/${'@mmbus/core'.replace('/', '+')}.glibc.node`);
    const build = readJson<{ sources: Record<string, string[]>; include: string }>(join(repoDir, 'native', 'sources.json'));
    for (const src of Object.values(build.sources).flat()) expect(core).toContain(`native/${src}`);
    expect(core).toEqual(expect.arrayContaining(['binding.gyp', 'src/addon.cc', 'native/sources.json', `native/${build.include}/mmbus.h`]));
    // packing leaves the repository as it was
    expect(existsSync(join(repoDir, 'packages', 'core', 'native'))).toBe(false);
    expect(existsSync(join(repoDir, 'packages', 'core', 'prebuilds'))).toBe(false);
  }, 15 * MINUTE);

  it('npm publish --dry-run of every tarball is clean', () => {
    for (const file of readdirSync(tarballs)) {
      const r = run('npm', ['publish', '--dry-run', `./${file}`], { cwd: tarballs, env: appEnv(fullPath), timeout: 2 * MINUTE });
      // not logged in to the registry: the one warning that says nothing about the package
      const warnings = r.stderr.split('\n').filter((l) => /^npm (warn|error)/.test(l) && !/requires you to be logged in/.test(l));
      expect(warnings, file).toEqual([]);
    }
  }, 10 * MINUTE);

  it('installs the tarballs into a fresh app, with no C compiler on the PATH', () => {
    for (const tool of ['cc', 'c++', 'gcc', 'g++', 'make', 'python3', 'python']) {
      expect(spawnSync('sh', ['-c', `command -v ${tool}`], { env: { PATH: noCompilerPath } }).status, tool).not.toBe(0);
    }
    cpSync(join(here, '..', 'app'), app, { recursive: true });
    const deps = Object.fromEntries(PACKAGES.map((p) => [p, `file:../tarballs/${tarballOf[p]}`]));
    writeFileSync(
      join(app, 'package.json'),
      JSON.stringify(
        {
          name: 'trades-app',
          private: true,
          type: 'module',
          dependencies: deps,
          devDependencies: { typescript: rootPkg.devDependencies?.['typescript'], '@types/node': rootPkg.devDependencies?.['@types/node'] },
          // the packages depend on each other by version: take those from the tarballs too, never the registry
          overrides: Object.fromEntries(PACKAGES.map((p) => [p, `$${p}`])),
          // npm 11 runs a dependency's install script only when allowed: let core's run, to show it needs no compiler
          allowScripts: { '@mmbus/core': true },
        },
        null,
        2,
      ),
    );
    const install = run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--foreground-scripts'], { cwd: app, env: appEnv(noCompilerPath), timeout: 10 * MINUTE });
    expect(install.stdout + install.stderr, "core's install script ran").toContain(`> @mmbus/core@${versions['@mmbus/core']} install`);
    for (const p of PACKAGES) expect(lstatSync(join(app, 'node_modules', p)).isSymbolicLink(), p).toBe(false);
    expect(readFileSync(join(app, 'package-lock.json'), 'utf8')).not.toContain(repoDir);
    const core = join(app, 'node_modules', '@mmbus', 'core');
    expect(existsSync(join(core, 'build')), 'nothing was compiled').toBe(false);
    expect(readdirSync(join(core, 'prebuilds', 'linux-x64'))).toEqual(['@mmbus+core.glibc.node']);
  }, 15 * MINUTE);

  it("generates the app's messages with npx mmbus-codegen and compiles the app, with the README's example, with tsc (strict)", () => {
    const env = appEnv(noCompilerPath);
    writeFileSync(join(app, 'src', 'main.ts'), readmeExample());
    const gen = run('npx', ['mmbus-codegen', 'schemas/trade.fbs', '--ts', 'src/generated', '--c', 'c/generated'], { cwd: app, env, timeout: 2 * MINUTE });
    expect(gen.stdout).toBe('mmbus-codegen: 5 file(s), 5 written\n');
    expect(readdirSync(join(app, 'c', 'generated')).sort()).toEqual(['mmbus_codegen.h', 'trade.h']);
    const tsc = run('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: app, env, timeout: 5 * MINUTE });
    expect(tsc.stdout + tsc.stderr).toBe('');
    expect(readdirSync(join(app, 'dist')).sort()).toEqual(['check.js', 'generated', 'main.js', 'publisher.js', 'subscriber.js', 'trades.js']);
  }, 10 * MINUTE);

  it("the README's example runs: it reads back the 1000 trades it published", () => {
    const dir = mkdtempSync(join(scratch, 'channels-'));
    const r = run(process.execPath, ['dist/main.js'], { cwd: app, env: appEnv(noCompilerPath, { MMBUS_DIR: dir }), timeout: MINUTE });
    const lines = r.stdout.trim().split('\n');
    expect(r.stderr).toBe('');
    expect([lines.length, lines[0], lines[999]]).toEqual([1000, '0n 0', '999n 249.75']);
  }, 5 * MINUTE);

  it('the packages work through import and require(), all resolved inside the app', () => {
    const env = appEnv(noCompilerPath);
    const required = JSON.parse(run(process.execPath, ['check.cjs'], { cwd: app, env, timeout: MINUTE }).stdout) as Record<string, { from: string; exports: number } | string>;
    for (const p of ['@mmbus/runtime', '@mmbus/runtime/schema', '@mmbus/core', '@mmbus/messages', '@mmbus/codegen', '@mmbus/cli']) {
      const entry = required[p] as { from: string; exports: number };
      expect(entry.from, p).toBe(`node_modules/${p.replace('/schema', '')}/dist`);
      expect(entry.exports, p).toBeGreaterThan(0);
    }
    expect(required['openChannel']).toBe('function');
    const dir = mkdtempSync(join(scratch, 'channels-'));
    const checked = JSON.parse(run(process.execPath, ['dist/check.js', dir], { cwd: app, env, timeout: MINUTE }).stdout) as Record<string, unknown>;
    expect(checked).toEqual({
      person: 'Ada',
      messageTypes: ['mmbus.Person', 'mmbus.PointUpdate'],
      sameErrorClass: true,
      refused: 'MMBUS_E_NAME',
      codes: 24,
      tradeSizeByCodegen: 40,
      tradeSizeByRuntime: 40,
    });
  }, 5 * MINUTE);

  it('a Node publisher and a Node subscriber, plain node processes: every trade, exact checksum', async () => {
    const { sub, pub } = await publishToNode([process.execPath, join(app, 'dist', 'publisher.js')], COUNT, appEnv(noCompilerPath));
    expect(pub).toEqual({ published: COUNT });
    expect(sub).toEqual({ received: COUNT, bad: 0, checksum: expectedChecksum(COUNT) });
  }, 5 * MINUTE);

  it('the mmbus command lists the channel and decodes a record with the schema file', () => {
    const env = appEnv(noCompilerPath);
    const dir = mkdtempSync(join(scratch, 'channels-'));
    run(process.execPath, [join(app, 'dist', 'publisher.js'), dir, '10'], { cwd: app, env, timeout: MINUTE });
    const ls = JSON.parse(run('npx', ['mmbus', 'ls', dir, '--json'], { cwd: app, env, timeout: MINUTE }).stdout) as { channels: { name: string; schemaName: string; recordSize: number; head: number }[] };
    expect(ls.channels.map((c) => [c.name, c.schemaName, c.recordSize, c.head])).toEqual([['trades', 'shop.Trade', 40, 10]]);
    const tail = run('npx', ['mmbus', 'tail', 'trades', '-d', dir, '--schema', 'schemas/trade.fbs', '-n', '1', '--json'], { cwd: app, env, timeout: MINUTE });
    expect(JSON.parse(tail.stdout)).toEqual({ seq: 9, record: { id: '9', price: 2.25, qty: 9, side: 'Sell', ticker: 'T9' } });
  }, 5 * MINUTE);

  describe('C and C++ users: libmmbus installed with cmake --install', () => {
    const prefix = (): string => join(scratch, 'prefix');
    const version = (): string => {
      const h = readFileSync(join(repoDir, 'native', 'include', 'mmbus.h'), 'utf8');
      return ['MAJOR', 'MINOR', 'PATCH'].map((p) => new RegExp(`#define MMBUS_VERSION_${p} (\\d+)`).exec(h)?.[1]).join('.');
    };

    it('installs mmbus.h, libmmbus.a, libmmbus.so (versioned), mmbus.pc and the CMake package', () => {
      const env = appEnv(fullPath);
      const build = join(scratch, 'libmmbus-build');
      run('cmake', ['-S', join(repoDir, 'native'), '-B', build, '-DCMAKE_BUILD_TYPE=Release', '-DMMBUS_BUILD_TESTS=OFF'], { cwd: scratch, env, timeout: 5 * MINUTE });
      run('cmake', ['--build', build, '-j', '2'], { cwd: scratch, env, timeout: 10 * MINUTE });
      run('cmake', ['--install', build, '--prefix', prefix()], { cwd: scratch, env, timeout: 5 * MINUTE });
      const [major, minor] = version().split('.');
      for (const f of ['include/mmbus.h', 'lib/libmmbus.a', 'lib/libmmbus.so', `lib/libmmbus.so.${major}.${minor}`, 'lib/pkgconfig/mmbus.pc', 'lib/cmake/mmbus/mmbusConfig.cmake', 'lib/cmake/mmbus/mmbusConfigVersion.cmake']) {
        expect(existsSync(join(prefix(), f)), f).toBe(true);
      }
      // the installed tree refers to nothing of the build or the sources
      for (const f of ['lib/pkgconfig/mmbus.pc', 'lib/cmake/mmbus/mmbusTargets.cmake', 'lib/cmake/mmbus/mmbusConfig.cmake']) {
        const text = readFileSync(join(prefix(), f), 'utf8');
        expect(text, f).not.toContain(repoDir);
        expect(text, f).not.toContain(build);
      }
    }, 15 * MINUTE);

    const builds: [string, () => string][] = [
      [
        'find_package(mmbus CONFIG)',
        () => {
          const env = appEnv(fullPath);
          const build = join(scratch, 'c-cmake');
          run('cmake', ['-S', join(app, 'c'), '-B', build, '-DCMAKE_BUILD_TYPE=Release', `-DCMAKE_PREFIX_PATH=${prefix()}`], { cwd: scratch, env, timeout: 5 * MINUTE });
          run('cmake', ['--build', build], { cwd: scratch, env, timeout: 5 * MINUTE });
          return join(build, 'publisher');
        },
      ],
      [
        'pkg-config',
        () => {
          const env = appEnv(fullPath, { PKG_CONFIG_PATH: join(prefix(), 'lib', 'pkgconfig') });
          const pc = (...args: string[]): string[] => run('pkg-config', [...args, 'mmbus'], { cwd: scratch, env, timeout: MINUTE }).stdout.trim().split(/\s+/).filter(Boolean);
          expect(pc('--modversion')).toEqual([version()]);
          const out = join(scratch, 'c-pkg-config', 'publisher');
          mkdirSync(dirname(out), { recursive: true });
          const [libdir] = pc('--variable=libdir');
          const src = join(app, 'c', 'publisher.c');
          run('cc', ['-std=c11', '-Wall', '-Wextra', '-Werror', '-pedantic', ...pc('--cflags'), '-I', join(app, 'c', 'generated'), src, '-o', out, ...pc('--libs'), `-Wl,-rpath,${libdir}`], { cwd: scratch, env, timeout: 5 * MINUTE });
          return out;
        },
      ],
    ];
    for (const [how, build] of builds) {
      it(`a C program built with ${how} publishes to the Node subscriber: every trade, exact checksum`, async () => {
        const exe = build();
        const dynamic = run('readelf', ['-d', exe], { cwd: scratch, env: appEnv(fullPath), timeout: MINUTE }).stdout;
        expect(dynamic).toMatch(/NEEDED.*\[libmmbus\.so\.\d+\.\d+\]/);
        const { sub, pub } = await publishToNode([exe], COUNT, appEnv(fullPath));
        expect(pub).toEqual({ published: COUNT, checksum: expectedChecksum(COUNT), version: version() });
        expect(sub).toEqual({ received: COUNT, bad: 0, checksum: expectedChecksum(COUNT) });
      }, 10 * MINUTE);
    }
  });

  it('without a matching prebuilt binary the addon says what to do, and compiles from the sources in the package', async () => {
    const core = join(app, 'node_modules', '@mmbus', 'core');
    rmSync(join(core, 'prebuilds'), { recursive: true });
    const missing = run(process.execPath, ['check.cjs'], { cwd: app, env: appEnv(noCompilerPath), timeout: MINUTE, ok: false });
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toContain('@mmbus/core: its native addon is missing: no prebuilt binary for linux-x64');
    expect(missing.stderr).toContain('npm rebuild @mmbus/core --build-from-source');

    run('npm', ['rebuild', '@mmbus/core', '--build-from-source'], { cwd: app, env: appEnv(fullPath), timeout: 15 * MINUTE });
    expect(existsSync(join(core, 'build', 'Release', 'mmbus.node'))).toBe(true);
    // compiled from the package's own copy of libmmbus
    expect(existsSync(join(core, 'build', 'Release', 'obj.target', 'mmbus', 'native', 'src', 'ring.o'))).toBe(true);
    const { sub, pub } = await publishToNode([process.execPath, join(app, 'dist', 'publisher.js')], COUNT, appEnv(noCompilerPath));
    expect(pub).toEqual({ published: COUNT });
    expect(sub).toEqual({ received: COUNT, bad: 0, checksum: expectedChecksum(COUNT) });
  }, 20 * MINUTE);
});
