import { mmbusVitestConfig } from '../../vitest.shared.ts';

// One app, built step by step: the steps run in order, in one file.
export default mmbusVitestConfig('out-of-tree', { sequence: { concurrent: false } });
