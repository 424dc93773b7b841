import { mmbusVitestConfig } from '../../vitest.shared.ts';

export default mmbusVitestConfig('web');
