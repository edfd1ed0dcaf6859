import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDockerRuntime, type DockerRuntime } from '../../operator/agent/docker-runtime.js';
import {
  SELF_HEAL_ANNOTATION,
  SYNC_ID_ANNOTATION,
} from '../../operator/agent/lifecycle/drift-policy.js';
import { createNodeAgent, type NodeAgent, type PodEvent } from '../../operator/agent/node-agent.js';
import type { ObservedContainer } from '../../operator/agent/runtime.js';
import type { Pod } from '../../operator/model/generated/types.js';
import { docker, uniqueTestName } from '../helpers/docker.js';
import { ensureTestImage, TEST_IMAGE } from '../helpers/docker-images.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Drift left as found on the real engine: a pod stamped `berth.io/self-heal: "false"` keeps
 * what a person did to it (rm -f, stop, rename) and the agent reports it as DriftDetected; the
 * same pod handed with another `berth.io/sync-id` (its app's next sync) is put back and
 * reported as DriftRepaired. A process that exits by itself is restarted per its
 * restartPolicy either way. The node name is unique to this file; afterAll removes its
 * containers.
 */

const node = uniqueTestName('held-node');
let runtime: DockerRuntime;
let dataDir: string;
const agents: NodeAgent[] = [];

beforeAll(async () => {
  runtime = createDockerRuntime();
  await ensureTestImage(docker());
  await runtime.ensurePauseImage();
  dataDir = await mkdtemp(join(tmpdir(), 'berth-drift-held-'));
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

function heldPod(name: string, syncId: string, command = ['sleep', '3600']): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'default',
      annotations: { [SELF_HEAL_ANNOTATION]: 'false', [SYNC_ID_ANNOTATION]: syncId },
    },
    spec: {
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 1,
      containers: [{ name: 'main', image: TEST_IMAGE, command }],
    },
  };
}

/** How many times agents listed the engine. */
let lists = 0;

/** `runtime` with its lists counted. */
function counted(inner: DockerRuntime): DockerRuntime {
  return new Proxy(inner, {
    get(target, property) {
      if (property === 'list') {
        return (...args: Parameters<DockerRuntime['list']>) => {
          lists += 1;
          return target.list(...args);
        };
      }
      const value: unknown = Reflect.get(target, property);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

async function startAgent(): Promise<{ agent: NodeAgent; events: PodEvent[] }> {
  // A short relist: the held drift must survive the backstop passes too.
  const agent = createNodeAgent({
    runtime: counted(runtime),
    node,
    dataDir,
    relistIntervalMs: 500,
  });
  agents.push(agent);
  const events: PodEvent[] = [];
  agent.onPodEvent((event) => events.push(event));
  await agent.start();
  return { agent, events };
}

function mainContainers(pod: string): Promise<ObservedContainer[]> {
  return runtime
    .list(node)
    .then((all) => all.filter((c) => c.podName === pod && c.containerName === 'main'));
}

function mainContainer(pod: string, what: string, not?: string): Promise<ObservedContainer> {
  return waitFor(async () => {
    return (await mainContainers(pod)).find((c) => c.state === 'running' && c.id !== not);
  }, what);
}

function eventsOf(events: readonly PodEvent[], pod: string, reason: string): string[] {
  return events.filter((e) => e.pod === pod && e.reason === reason).map((e) => e.message);
}

/** Waits until the agent has listed the engine three more times (it would repair by then). */
async function relistsPass(): Promise<void> {
  const target = lists + 3;
  await waitFor(() => lists >= target, 'three more lists of the engine');
}

describe('selfHeal off on Docker', () => {
  it('leaves a removed container gone until the pod comes with a new sync id, across an agent restart', async () => {
    const pod = uniqueTestName('held-rm');
    const { agent, events } = await startAgent();
    agent.setDesiredPods([heldPod(pod, '1')], 'v1');
    const before = await mainContainer(pod, 'the pod running');
    await docker().getContainer(before.id).remove({ force: true });

    await waitFor(() => eventsOf(events, pod, 'DriftDetected').length > 0, 'a DriftDetected event');
    await relistsPass();
    expect(await mainContainers(pod)).toEqual([]);
    expect(eventsOf(events, pod, 'DriftDetected')).toEqual([
      "container main was removed outside berth (docker rm?); left as found: selfHeal is off for this pod's app (its next sync, e.g. berth app sync, puts it back)",
    ]);
    expect(eventsOf(events, pod, 'DriftRepaired')).toEqual([]);

    // An agent restart keeps it so: what is held is in the data dir.
    await agent.stop();
    const restarted = await startAgent();
    restarted.agent.setDesiredPods([heldPod(pod, '1')], 'v1');
    await waitFor(
      () => restarted.agent.pods().find((p) => p.name === pod),
      'the pod reported by the new agent',
    );
    await relistsPass();
    expect(await mainContainers(pod)).toEqual([]);
    expect(restarted.events).toEqual([]);

    // The same pod from a later sync: put back.
    restarted.agent.setDesiredPods([heldPod(pod, '2')], 'v2');
    const after = await mainContainer(pod, 'the container made again', before.id);
    expect(after.id).not.toBe(before.id);
    expect(
      await waitFor(
        () => eventsOf(restarted.events, pod, 'DriftRepaired')[0],
        'a DriftRepaired event',
      ),
    ).toBe('container main (found removed outside berth while selfHeal was off); created again');
  });

  it('leaves a stopped container stopped and a renamed one renamed until the next sync', async () => {
    const stopped = uniqueTestName('held-stop');
    const renamed = uniqueTestName('held-ren');
    const { agent, events } = await startAgent();
    agent.setDesiredPods([heldPod(stopped, '7'), heldPod(renamed, '7')], 'v1');
    const toStop = await mainContainer(stopped, 'the first pod running');
    const toRename = await mainContainer(renamed, 'the second pod running');
    const berthName = toRename.name!;
    const handName = uniqueTestName('by-hand');
    await docker().getContainer(toStop.id).stop({ t: 1 });
    await docker().getContainer(toRename.id).rename({ name: handName });

    await waitFor(
      () =>
        eventsOf(events, stopped, 'DriftDetected').length > 0 &&
        eventsOf(events, renamed, 'DriftDetected').length > 0,
      'DriftDetected for both pods',
    );
    await relistsPass();
    const stoppedNow = await docker().getContainer(toStop.id).inspect();
    expect(stoppedNow.State.Running).toBe(false);
    expect((await mainContainers(stopped)).map((c) => c.id)).toEqual([toStop.id]);
    const renamedNow = await docker().getContainer(toRename.id).inspect();
    expect(renamedNow.Name).toBe(`/${handName}`);
    expect(renamedNow.State.Running).toBe(true);
    expect(eventsOf(events, renamed, 'DriftDetected')).toEqual([
      `container main was renamed to ${handName} outside berth (docker rename?); left as found: selfHeal is off for this pod's app (its next sync, e.g. berth app sync, puts it back)`,
    ]);
    expect(eventsOf(events, stopped, 'DriftRepaired')).toEqual([]);
    expect(eventsOf(events, renamed, 'DriftRepaired')).toEqual([]);

    agent.setDesiredPods([heldPod(stopped, '8'), heldPod(renamed, '8')], 'v2');
    await mainContainer(stopped, 'the stopped pod running again');
    await waitFor(async () => {
      const info = await docker().getContainer(toRename.id).inspect();
      return info.Name === `/${berthName}`;
    }, "the renamed container under berth's name again");
    expect(
      await waitFor(() => eventsOf(events, stopped, 'DriftRepaired')[0], 'stop repaired'),
    ).toBe('container main (found stopped outside berth while selfHeal was off); started again');
    expect(eventsOf(events, renamed, 'DriftRepaired')).toEqual([
      `container main (found renamed outside berth while selfHeal was off); renamed back to ${berthName}`,
    ]);
  });

  it('leaves a pod whose sandbox was removed alone until the next sync, then makes it again', async () => {
    const pod = uniqueTestName('held-sbx');
    const { agent, events } = await startAgent();
    agent.setDesiredPods([heldPod(pod, '3')], 'v1');
    const main = await mainContainer(pod, 'the pod running');
    const sandbox = (await runtime.list(node)).find(
      (c) => c.podName === pod && c.role === 'sandbox',
    );
    expect(sandbox).toBeDefined();
    await docker().getContainer(sandbox!.id).remove({ force: true });

    await waitFor(() => eventsOf(events, pod, 'DriftDetected').length > 0, 'a DriftDetected event');
    await relistsPass();
    const left = await runtime.list(node);
    expect(left.filter((c) => c.podName === pod && c.role === 'sandbox')).toEqual([]);
    expect(left.find((c) => c.id === main.id)).toBeDefined();
    expect(eventsOf(events, pod, 'DriftDetected')).toEqual([
      "the pod's sandbox (its network) was removed outside berth (docker rm?); left as found: selfHeal is off for this pod's app (its next sync, e.g. berth app sync, puts it back)",
    ]);

    agent.setDesiredPods([heldPod(pod, '4')], 'v2');
    await waitFor(async () => {
      const all = await runtime.list(node);
      const mine = all.filter((c) => c.podName === pod && c.state === 'running');
      return (
        mine.some((c) => c.role === 'sandbox') &&
        mine.some((c) => c.id !== main.id && c.role === 'container')
      );
    }, 'the pod made again in a new sandbox');
    expect(eventsOf(events, pod, 'DriftRepaired')).toEqual([
      "the pod's sandbox (its network) (found removed outside berth while selfHeal was off); made again with the pod's containers",
    ]);
  });

  it('still restarts a process that exits by itself (its restartPolicy is no drift)', async () => {
    const pod = uniqueTestName('held-crash');
    const { agent, events } = await startAgent();
    agent.setDesiredPods([heldPod(pod, '1', ['sh', '-c', 'sleep 1; exit 3'])], 'v1');
    await waitFor(
      () => {
        const main = agent
          .pods()
          .find((p) => p.name === pod)
          ?.status.containerStatuses.find((c) => c.name === 'main');
        return (main?.restartCount ?? 0) >= 1 ? main : undefined;
      },
      'a restart after the exit',
      30_000,
    );
    expect(events.filter((e) => e.pod === pod)).toEqual([]);
  });
});
