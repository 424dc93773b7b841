// @mmbus/cli: the `mmbus` command (bin/mmbus.mjs runs src/main.ts). Exported for tests and embedding.
export { buildProgram, run } from './program.ts';
export { CliError } from './common.ts';
export { codecByName, codecForChannel, dynamicCodec, generatedCodec, type RecordCodec } from './codec.ts';
export { sparkline } from './commands/watch.ts';
