import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDockerRuntime, type DockerRuntime } from '../../operator/agent/docker-runtime.js';
import { createNodeAgent, type NodeAgent, type PodEvent } from '../../operator/agent/node-agent.js';
import type { ObservedContainer } from '../../operator/agent/runtime.js';
import type { Pod } from '../../operator/model/generated/types.js';
import { docker, uniqueTestName } from '../helpers/docker.js';
import { ensureTestImage, TEST_IMAGE } from '../helpers/docker-images.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Self-heal on the real engine: what a person does to a pod's container with the docker CLI's
 * calls (rm -f, stop, rename) is put back by the agent and reported as a DriftRepaired event
 * naming what was found. The node name is unique to this file; afterAll removes its containers.
 */

const node = uniqueTestName('drift-node');
let runtime: DockerRuntime;
let dataDir: string;
const agents: NodeAgent[] = [];

beforeAll(async () => {
  runtime = createDockerRuntime();
  await ensureTestImage(docker());
  await runtime.ensurePauseImage();
  dataDir = await mkdtemp(join(tmpdir(), 'berth-drift-'));
});

async function removeNodeContainers(): Promise<void> {
  for (const container of await runtime.list(node)) await runtime.remove(container.id);
}

afterEach(async () => {
  for (const agent of agents.splice(0)) await agent.stop();
  await removeNodeContainers();
});

afterAll(async () => {
  for (const agent of agents.splice(0)) await agent.stop();
  await removeNodeContainers();
  if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
});

function webPod(name: string): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default' },
    spec: {
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 1,
      containers: [{ name: 'main', image: TEST_IMAGE, command: ['sleep', '3600'] }],
    },
  };
}

/** An agent running one pod, with the events it reports. */
async function runningPod(name: string): Promise<{ agent: NodeAgent; events: PodEvent[] }> {
  const agent = createNodeAgent({ runtime, node, dataDir, relistIntervalMs: 2_000 });
  agents.push(agent);
  const events: PodEvent[] = [];
  agent.onPodEvent((event) => events.push(event));
  await agent.start();
  agent.setDesiredPods([webPod(name)], 'v1');
  await mainContainer(name, 'the pod running');
  return { agent, events };
}

/** The pod's running `main` container (its engine name included), once there is one. */
function mainContainer(pod: string, what: string, not?: string): Promise<ObservedContainer> {
  return waitFor(async () => {
    const found = (await runtime.list(node)).find(
      (c) =>
        c.podName === pod && c.containerName === 'main' && c.state === 'running' && c.id !== not,
    );
    return found;
  }, what);
}

function driftEvents(events: readonly PodEvent[], pod: string): PodEvent[] {
  return events.filter((e) => e.reason === 'DriftRepaired' && e.pod === pod);
}

describe('self-heal on Docker', () => {
  it('creates a container removed with docker rm -f again and reports it as removed', async () => {
    const pod = uniqueTestName('rm');
    const { events } = await runningPod(pod);
    const before = await mainContainer(pod, 'the container');
    await docker().getContainer(before.id).remove({ force: true });

    const after = await mainContainer(pod, 'a new container', before.id);
    expect(after.id).not.toBe(before.id);
    const [event, ...more] = await waitFor(() => {
      const found = driftEvents(events, pod);
      return found.length > 0 ? found : undefined;
    }, 'a DriftRepaired event');
    expect(event).toMatchObject({
      type: 'Warning',
      reason: 'DriftRepaired',
      namespace: 'default',
      pod,
    });
    expect(event?.message).toBe(
      'container main was removed outside berth (docker rm?); created again',
    );
    expect(more).toEqual([]);
  });

  it('starts a container stopped with docker stop again and reports it as stopped', async () => {
    const pod = uniqueTestName('stop');
    const { events } = await runningPod(pod);
    const before = await mainContainer(pod, 'the container');
    await docker().getContainer(before.id).stop({ t: 1 });

    const after = await mainContainer(pod, 'the container running again', before.id);
    expect(after.id).not.toBe(before.id);
    const found = await waitFor(() => {
      const list = driftEvents(events, pod);
      return list.length > 0 ? list : undefined;
    }, 'a DriftRepaired event');
    expect(found.map((e) => e.message)).toEqual([
      'container main was stopped outside berth (docker stop or kill); started again',
    ]);
    // A stop by hand is no crash: the pod runs again (one restart), with no back-off.
    const main = await waitFor(() => {
      const report = agents[0]?.pods().find((p) => p.name === pod);
      const status = report?.status.containerStatuses.find((c) => c.name === 'main');
      return status?.restartCount === 1 && status.state.running !== undefined ? status : undefined;
    }, 'main reported running after one restart');
    expect(main.state.waiting).toBeUndefined();
  });

  it('gives a container renamed with docker rename its name back and reports the new name', async () => {
    const pod = uniqueTestName('rename');
    const { events } = await runningPod(pod);
    const before = await mainContainer(pod, 'the container');
    const berthName = before.name!;
    expect(berthName).toMatch(/^berth_main_/);
    const handName = uniqueTestName('by-hand');
    await docker().getContainer(before.id).rename({ name: handName });

    const event = await waitFor(() => driftEvents(events, pod)[0], 'a DriftRepaired event');
    expect(event.message).toBe(
      `container main was renamed to ${handName} outside berth (docker rename?); renamed back to ${berthName}`,
    );
    const back = await waitFor(async () => {
      const info = await docker().getContainer(before.id).inspect();
      return info.Name === `/${berthName}` ? info : undefined;
    }, "the container under berth's name again");
    // Renaming back keeps the same container running: no restart.
    expect(back.State.Running).toBe(true);
    expect(driftEvents(events, pod)).toHaveLength(1);
  });

  it('reports nothing for a container that exits by itself (a crash is no drift)', async () => {
    const pod = uniqueTestName('crash');
    const agent = createNodeAgent({ runtime, node, dataDir, relistIntervalMs: 2_000 });
    agents.push(agent);
    const events: PodEvent[] = [];
    agent.onPodEvent((event) => events.push(event));
    await agent.start();
    const crashing = webPod(pod);
    crashing.spec.containers[0]!.command = ['sh', '-c', 'exit 3'];
    agent.setDesiredPods([crashing], 'v1');
    await waitFor(() => {
      const main = agent
        .pods()
        .find((p) => p.name === pod)
        ?.status.containerStatuses.find((c) => c.name === 'main');
      return (main?.restartCount ?? 0) >= 1 ? main : undefined;
    }, 'a restart after the crash');
    expect(driftEvents(events, pod)).toEqual([]);
  });
});
