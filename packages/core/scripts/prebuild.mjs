// npm pack of @mmbus/core (prepack): copies the libmmbus sources the addon needs into native/, which
// the fallback build compiles where no prebuilt binary matches; then builds the prebuilt binary for
// this platform from that copy with prebuildify, into prebuilds/. `--clean` (postpack) removes both.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const { nodeGypEnv } = require('./node-headers.cjs');

const pkgDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const repoNative = join(pkgDir, '..', '..', 'native');
const bundled = join(pkgDir, 'native');
const prebuilds = join(pkgDir, 'prebuilds');
// Inside the package, so that node-addon-api resolves from the repository's node_modules; the
// development build in build/ is left as it is.
const stage = join(pkgDir, 'build-prebuild');

for (const dir of [bundled, prebuilds, stage]) rmSync(dir, { recursive: true, force: true });
if (process.argv.includes('--clean')) process.exit(0);

// 1. sources.json, every source it lists (all platforms), the public and the private headers
const build = JSON.parse(readFileSync(join(repoNative, 'sources.json'), 'utf8'));
const headers = (dir) => readdirSync(join(repoNative, dir)).filter((f) => f.endsWith('.h')).map((f) => `${dir}/${f}`);
const files = ['sources.json', ...Object.values(build.sources).flat(), ...headers(build.include), ...headers('src')];
for (const f of new Set(files)) {
  mkdirSync(dirname(join(bundled, f)), { recursive: true });
  cpSync(join(repoNative, f), join(bundled, f));
}

// 2. the prebuilt binary (N-API: one for every Node version), compiled from that copy
for (const f of ['package.json', 'binding.gyp', 'src/addon.cc', 'scripts/libmmbus.cjs', 'native']) {
  cpSync(join(pkgDir, f), join(stage, f), { recursive: true });
}
// --cache: node-gyp's dev dir (unused with a local nodedir), inside the stage so that nothing is left behind
const args = ['--napi', '--strip', '--tag-libc', `--target=node@${process.versions.node}`, `--cwd=${stage}`, `--out=${pkgDir}`, `--cache=${join(stage, '.cache')}`];
// npm runs this with its own node-gyp (npm_config_node_gyp); elsewhere node-gyp must be on the PATH
const env = nodeGypEnv(process.env.npm_config_node_gyp ? { ...process.env, PREBUILD_NODE_GYP: process.env.npm_config_node_gyp } : process.env);
// its output (the compiler's) goes to stderr: npm pack --json keeps stdout for the JSON
const r = spawnSync(process.execPath, [require.resolve('prebuildify/bin.js'), ...args], { stdio: ['ignore', 2, 2], env });
rmSync(stage, { recursive: true, force: true });
if (r.status !== 0) {
  console.error(`@mmbus/core: prebuildify failed (${r.error?.message ?? `exit ${r.status}`}); run it through npm (npm pack -w @mmbus/core), which provides node-gyp`);
  process.exit(1);
}
