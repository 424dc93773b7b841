#!/usr/bin/env node
// mmbus-codegen: the compiled CLI (npm run build writes dist/).
import '../dist/cli.js';
