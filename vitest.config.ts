import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Docker and git tests start real processes; give them room, never fixed sleeps.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Builds dist/ once so CLI tests run the command as users do.
    globalSetup: ['test/global-setup.ts'],
    reporters: ['default'],
  },
});
