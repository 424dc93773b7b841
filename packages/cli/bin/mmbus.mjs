#!/usr/bin/env node
// Runs the TypeScript source through tsx, so `mmbus` works with plain node.
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
