import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // onnxruntime sessions are CPU heavy; two forks match this 2-core machine.
    pool: 'forks',
    maxWorkers: 2,
    // the functions' structured logs and metrics: quiet in tests unless a test turns them on
    env: { POWERTOOLS_LOG_LEVEL: 'WARN', POWERTOOLS_METRICS_DISABLED: 'true' },
  },
});
