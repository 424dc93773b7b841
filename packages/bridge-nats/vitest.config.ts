import { mmbusVitestConfig } from '../../vitest.shared.ts';

export default mmbusVitestConfig('bridge-nats', { pool: 'forks' });
