import { defineConfig } from 'vitest/config';

// Forks, not threads: the Temporal workflow bundler and native addons (tfjs-node, sharp)
// misbehave in worker threads. At most two files run at once (one per core of the 2-core
// machine); integration tests share the one dev stack.
export default defineConfig({
  test: {
    pool: 'forks',
    poolOptions: { forks: { singleFork: false, maxForks: 2, minForks: 1 } },
    fileParallelism: true,
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    setupFiles: ['test/support/setup-backend.ts', 'test/support/record-test-file.ts'],
    reporters: ['default'],
  },
});
