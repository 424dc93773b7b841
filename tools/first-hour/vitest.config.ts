import { mmbusVitestConfig } from '../../vitest.shared.ts';

// The files start the demo, run Nx and many examples: one at a time on a 2-core machine.
export default mmbusVitestConfig('first-hour', { fileParallelism: false });
