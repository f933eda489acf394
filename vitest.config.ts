import { defineConfig } from 'vitest/config';

// Each suite has a time budget: CI must stay well under 30 minutes on 2 cores.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/globalSetup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two workers on two cores: most suites wait on child processes, servers and the disk, so the
    // run takes about half the time of vitest's default (one worker per core less one).
    maxWorkers: 2,
    reporters: ['default'],
  },
});
