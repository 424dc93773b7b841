#!/usr/bin/env node
// mmbus: the compiled command (npm run build writes dist/).
import '../dist/main.js';
