/** Tests run as ESM through ts-jest (TypeScript 6; ts-jest does not support 7). */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true }] },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  testTimeout: 30000,
  // One temporary directory per run, removed when every test passed (test/tmp-setup.mjs).
  globalSetup: '<rootDir>/test/tmp-setup.mjs',
  reporters: ['default', '<rootDir>/test/tmp-reporter.mjs'],
  // Integration tests start real nginx processes; run files one at a time on this 2-core box.
  maxWorkers: 1,
};
