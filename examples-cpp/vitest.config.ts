import { mmbusVitestConfig } from '../vitest.shared.ts';

// test/ only: build-win/wineprefix holds Wine's z: drive, a link to / (the whole file system).
export default mmbusVitestConfig('examples-cpp', { pool: 'forks', fileParallelism: false, include: ['test/**/*.test.ts'] });
