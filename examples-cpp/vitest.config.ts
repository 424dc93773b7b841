import { mmbusVitestConfig } from '../vitest.shared.ts';

export default mmbusVitestConfig('examples-cpp', { pool: 'forks', fileParallelism: false });
