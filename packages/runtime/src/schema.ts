// @mmbus/runtime/schema: the schema model and the .fbs reader (parser, layout, fingerprint), shared by
// mmbus-codegen (which adds its emitters and naming rules) and the tools that decode records at run
// time (the `mmbus` command's --schema).
export { SchemaError, formatDiagnostic, formatPos, type Diagnostic, type Pos } from './schema/diagnostics.js';
export { canonicalLayout, fnv1a64, hex64, layoutText, recordLayoutFingerprint } from './schema/fingerprint.js';
export { recordLayout } from './schema/layout.js';
export * from './schema/limits.js';
export * from './schema/model.js';
export { parseSchema, type AttrAst, type EnumAst, type FieldAst, type FileAst, type StructAst, type TypeAst } from './schema/parser.js';
export { ATTR_SIZE, ATTR_TEXT, loadSchemaText, loadSchemas, readSchemaFile, type LoadOptions, type SchemaRules } from './schema/resolve.js';
