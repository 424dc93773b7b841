// npm install of @mmbus/core: node-gyp-build keeps the prebuilt addon (prebuilds/) when it loads on
// this machine, else compiles the addon from the libmmbus sources in the package with node-gyp.
'use strict';
const { nodeGypEnv } = require('./node-headers.cjs');

Object.assign(process.env, nodeGypEnv());
require('node-gyp-build/bin.js');
