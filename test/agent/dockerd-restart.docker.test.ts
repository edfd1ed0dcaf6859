/**
 * A dockerd restart stops every container. The agent, still running, must notice (its event
 * stream breaks and reconnects; the relist is the backstop) and bring pods back per their
 * restartPolicy: Always comes back, Never does not.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDockerRuntime, type DockerRuntime } from '../../operator/agent/docker-runtime.js';
import { createNodeAgent, type NodeAgent } from '../../operator/agent/node-agent.js';
import type { Pod } from '../../operator/model/generated/types.js';
import { docker, uniqueTestName } from '../helpers/docker.js';
import { ensureTestImage, TEST_IMAGE } from '../helpers/docker-images.js';
import { restartDockerd } from '../helpers/dockerd.js';
import { waitFor } from '../helpers/wait.js';

const node = uniqueTestName('test-node');
let runtime: DockerRuntime;
let agent: NodeAgent | undefined;
let dataDir: string;

/** A container that exits at once on SIGTERM, so dockerd's shutdown does not wait on it. */
function pod(name: string, restartPolicy: 'Always' | 'Never'): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default' },
    spec: {
      restartPolicy,
      terminationGracePeriodSeconds: 1,
      containers: [
        {
          name: 'main',
          image: TEST_IMAGE,
          imagePullPolicy: 'Never',
          command: ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 1; done'],
        },
      ],
    },
  };
}

function container(name: string) {
  return agent?.pods().find((p) => p.name === name)?.status.containerStatuses[0];
}

beforeAll(async () => {
  runtime = createDockerRuntime();
  await ensureTestImage(docker());
  await runtime.ensurePauseImage();
  dataDir = await mkdtemp(join(tmpdir(), 'berth-dockerd-restart-'));
});

afterAll(async () => {
  await agent?.stop();
  for (const c of await runtime.list(node)) await runtime.remove(c.id);
  await rm(dataDir, { recursive: true, force: true });
});

describe('node agent across a dockerd restart', () => {
  it('brings an Always pod back in a new sandbox and leaves a Never pod down', async () => {
    agent = createNodeAgent({ runtime, node, dataDir, relistIntervalMs: 1_000 });
    await agent.start();
    agent.setDesiredPods([pod('always', 'Always'), pod('never', 'Never')], 'v1');
    const before = await waitFor(
      () => {
        const always = container('always');
        const never = container('never');
        return always?.state.running !== undefined && never?.state.running !== undefined
          ? { always: always.containerID }
          : undefined;
      },
      'both pods running',
      60_000,
    );

    await restartDockerd();

    const after = await waitFor(
      () => {
        const always = container('always');
        return always?.state.running !== undefined && always.containerID !== before.always
          ? always
          : undefined;
      },
      'the Always pod running again',
      60_000,
    );
    expect(after.restartCount).toBeGreaterThanOrEqual(1);
    await waitFor(
      () => container('never')?.state.terminated,
      'the Never pod to be terminated',
      60_000,
    );
    expect(container('never')?.restartCount).toBe(0);
    // Still down a relist later: Never means never.
    const relists = (await runtime.list(node)).filter(
      (c) => c.podName === 'never' && c.role === 'container' && c.state === 'running',
    );
    expect(relists).toEqual([]);
  });
});
