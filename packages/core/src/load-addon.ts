// Finds and loads the addon with node-gyp-build: the prebuilt binary for this platform (prebuilds/, in
// the npm package), or the one compiled from the libmmbus sources (build/Release: `npm install` in the
// repository, or the fallback build of the package). Missing or unloadable, the error says what to do.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);

/** The package's directory (this module is in src/ in the repository, in dist/ in the package). */
export const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..');

interface NodeGypBuild {
  (dir: string): unknown;
  /** The addon's file for this platform and runtime; throws when there is none. */
  path(dir: string): string;
}

const HOW_TO_BUILD =
  'To compile it from the sources in the package, install a C and C++ compiler, make and python3 ' +
  '(Debian, Ubuntu: apt-get install g++ make python3), then run `npm rebuild @mmbus/core --build-from-source` ' +
  '(npm 11 runs the install scripts of dependencies only once allowed: `npm install-scripts approve @mmbus/core`). ' +
  'In the mmbus repository, run `npm install` at its root.';

const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e)).trim();

/** Loads the addon of the package in `dir`. */
export function loadAddon(dir: string = packageDir): unknown {
  const nodeGypBuild = require('node-gyp-build') as NodeGypBuild;
  let file: string;
  try {
    file = nodeGypBuild.path(dir);
  } catch (e) {
    const target = `${process.platform}-${process.arch}, Node ${process.versions.node}`;
    throw new Error(
      `@mmbus/core: its native addon is missing: no prebuilt binary for ${target} and none compiled in ${join(dir, 'build', 'Release')}. ${HOW_TO_BUILD}\n(node-gyp-build: ${errorText(e)})`,
    );
  }
  try {
    return require(file);
  } catch (e) {
    throw new Error(`@mmbus/core: its native addon ${file} does not load: ${errorText(e)}. ${HOW_TO_BUILD}`);
  }
}
