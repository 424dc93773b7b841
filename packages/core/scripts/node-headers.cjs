// Where node-gyp finds Node's C headers: in this Node's own installation when it has them (official
// tarballs, nvm, Debian and NodeSource packages ship <prefix>/include/node), so that compiling the
// addon downloads nothing; otherwise node-gyp downloads them as usual. A nodedir set by the user wins.
'use strict';
const { existsSync } = require('node:fs');
const { dirname, join } = require('node:path');

/** `env` with npm_config_nodedir pointing at this Node's headers, when it has them and none is set. */
function nodeGypEnv(env = process.env) {
  if (env.npm_config_nodedir) return env;
  const prefix = dirname(dirname(process.execPath));
  return existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? { ...env, npm_config_nodedir: prefix } : env;
}

module.exports = { nodeGypEnv };
