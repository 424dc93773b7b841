export { SchemaError, formatDiagnostic, type Diagnostic, type Pos } from './diagnostics.ts';
export { canonicalLayout, fnv1a64, hex64 } from './fingerprint.ts';
export { emitCCommon, emitCHeader, cHeaderName } from './emit-c.ts';
export { emitTsIndex, emitTsModule, emitTsRuntime, tsModuleName } from './emit-ts.ts';
export { generate, staleFiles, writeFiles, type OutputDirs } from './generate.ts';
export * from './model.ts';
export { ATTR_SIZE, ATTR_TEXT, loadSchemaText, loadSchemas } from './resolve.ts';
export { parseSchema, type FileAst, type StructAst, type EnumAst } from './parser.ts';
export { C_COMMON_HEADER, TS_RUNTIME_MODULE } from './names.ts';
