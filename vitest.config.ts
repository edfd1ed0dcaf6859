import { defineConfig } from 'vitest/config';

/**
 * Test files that drive the real Docker Engine. They run one file at a time: Debian's Docker
 * 20.10.24 can deadlock in libnetwork when many containers join and leave networks at once
 * (moby/moby#46661, fixed upstream in 20.10.27), and one file's parallel pods are load enough.
 */
const DOCKER_TESTS = [
  'test/docker/**/*.test.ts',
  'test/agent/runtime*.test.ts',
  'test/agent/volumes.test.ts',
  'test/agent/*.docker.test.ts',
  'test/engine/*.docker.test.ts',
  'test/cli/*docker*.test.ts',
  'test/e2e/**/*.docker.test.ts',
  'test/images/*.docker.test.ts',
];

export default defineConfig({
  test: {
    // Docker and git tests start real processes; give them room, never fixed sleeps.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default'],
    projects: [
      {
        extends: true,
        test: {
          name: 'core',
          include: ['test/**/*.test.ts'],
          exclude: DOCKER_TESTS,
          // Builds dist/ so CLI tests run the command as users do (each project, in turn).
          globalSetup: ['test/global-setup.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'docker',
          include: DOCKER_TESTS,
          fileParallelism: false,
          // no-other-berth: refuses to start next to a berth node running outside the tests.
          globalSetup: ['test/global-setup.ts', 'test/no-other-berth.ts'],
        },
      },
    ],
  },
});
