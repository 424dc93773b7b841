// node check.cjs: every package through require() (CommonJS, Node >= 20.19 loads ES modules with
// it), resolved inside this app; prints one JSON line.
const { dirname, relative } = require('node:path');

const names = ['@mmbus/runtime', '@mmbus/runtime/schema', '@mmbus/core', '@mmbus/messages', '@mmbus/codegen', '@mmbus/cli'];
const out = {};
for (const name of names) {
  const m = require(name);
  out[name] = { from: relative(__dirname, dirname(require.resolve(name))), exports: Object.keys(m).length };
}
out.openChannel = typeof require('@mmbus/core').openChannel;
console.log(JSON.stringify(out));
