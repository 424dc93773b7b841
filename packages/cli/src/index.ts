// @mmbus/cli: the `mmbus` command (bin/mmbus.mjs runs dist/main.js). Exported for tests and embedding.
export { buildProgram, run } from './program.js';
export { CliError } from './common.js';
export { codecByName, codecForChannel, dynamicCodec, generatedCodec, type RecordCodec } from './codec.js';
export { sparkline } from './commands/watch.js';
