// libmmbus for node-gyp: binding.gyp takes the sources, include directory and flags of libmmbus from
// here, and this script reads them from sources.json, the one list native/CMakeLists.txt reads too.
//   node scripts/libmmbus.cjs sources|include|cflags|libs    (paths relative to the package)
// libmmbus is looked for in ./native (copied into the package when it is packed: scripts/pack.mjs),
// then in ../../native (the mmbus repository).
'use strict';
const { existsSync, readFileSync } = require('node:fs');
const { join, relative, sep } = require('node:path');

const pkgDir = join(__dirname, '..');
const candidates = [join(pkgDir, 'native'), join(pkgDir, '..', '..', 'native')];
const dir = candidates.find((d) => existsSync(join(d, 'sources.json')));
const fail = (msg) => {
  process.stderr.write(`@mmbus/core: ${msg}\n`);
  process.exit(1);
};
if (!dir) fail(`the libmmbus sources are missing: looked for sources.json in ${candidates.join(' and ')}`);

const build = JSON.parse(readFileSync(join(dir, 'sources.json'), 'utf8'));
const groups = build.platforms[process.platform];
if (!groups) fail(`libmmbus has no platform layer for ${process.platform} yet (sources.json lists ${Object.keys(build.platforms).join(', ')})`);
// gyp splits the output on whitespace: the paths are relative and have none
const rel = (p) => relative(pkgDir, join(dir, p)).split(sep).join('/');

const what = process.argv[2];
const out = {
  sources: () => groups.flatMap((g) => build.sources[g]).map(rel),
  include: () => [rel(build.include)],
  cflags: () => [`-std=c${build.c_standard}`, ...build.cflags.gcc, ...build.warnings.gcc],
  libs: () => build.libs[process.platform] ?? [],
}[what];
if (!out) fail(`usage: node scripts/libmmbus.cjs sources|include|cflags|libs (got ${what})`);
process.stdout.write(out().join(' ') + '\n');
