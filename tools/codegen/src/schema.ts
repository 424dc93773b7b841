// The schema reader alone (parser, layout, fingerprint), without the emitters: what tools that decode
// records at run time (the `mmbus` command's --schema) need.
export { SchemaError, formatDiagnostic, type Diagnostic, type Pos } from './diagnostics.ts';
export * from './model.ts';
export { ATTR_SIZE, ATTR_TEXT, loadSchemaText, loadSchemas } from './resolve.ts';
