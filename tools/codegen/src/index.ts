// @mmbus/codegen: the emitters (TypeScript flyweights, C headers) over the schema reader of
// @mmbus/runtime/schema. Everything of the reader is here too, except that loadSchemas and
// loadSchemaText apply the naming rules of generated code (rules.ts).
export * from '@mmbus/runtime/schema';
export { generatorRules, loadSchemaText, loadSchemas } from './rules.js';
export { cIdentifiers, type CIdentifier } from './check-c.js';
export { emitCCommon, emitCHeader, cHeaderName } from './emit-c.js';
export { emitTsIndex, emitTsModule, emitTsRuntime, tsModuleName } from './emit-ts.js';
export { generate, staleFiles, writeFiles, type OutputDirs } from './generate.js';
export { C_COMMON_HEADER, TS_RUNTIME_MODULE } from './names.js';
