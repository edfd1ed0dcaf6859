/**
 * Issue-3 benchmarks, on the real Docker Engine:
 * - start 50 single-container pods on one node, against creating and starting 50 plain
 *   containers straight through dockerode at the same concurrency, in the same run;
 * - kill one container in each of 20 running pods and time until each runs again.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { createDockerRuntime, createNodeAgent, type NodeAgent } from '../operator/agent/index.js';
import type { Pod } from '../operator/model/generated/types.js';
import { docker, removeContainerIfPresent } from '../test/helpers/docker.js';
import { ensureTestImage, TEST_IMAGE } from '../test/helpers/docker-images.js';
import { ms, printVerdicts, type Verdict } from './harness.js';

const POD_COUNT = 50;
const KILL_COUNT = 20;
const DEADLINE_MS = 120_000;

function benchPod(index: number): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `bench-${index}`, namespace: 'default', uid: `bench-uid-${index}` },
    spec: {
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 1,
      containers: [
        {
          name: 'main',
          image: TEST_IMAGE,
          imagePullPolicy: 'IfNotPresent',
          command: ['sleep', '3600'],
        },
      ],
    },
  };
}

async function until(what: string, condition: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + DEADLINE_MS;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`bench: timed out waiting for ${what}`);
    await delay(5);
  }
}

/** Baseline: the same number of containers, created and started directly, all at once. */
async function directStart(count: number): Promise<number> {
  const client = docker();
  const ids: string[] = [];
  const start = performance.now();
  await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const container = await client.createContainer({
        name: `berth-bench-direct-${process.pid}-${i}`,
        Image: TEST_IMAGE,
        Cmd: ['sleep', '3600'],
        Labels: { 'io.berth.test': '1' },
      });
      ids.push(container.id);
      await container.start();
    }),
  );
  const elapsed = performance.now() - start;
  await Promise.all(ids.map((id) => removeContainerIfPresent(client, id)));
  return elapsed;
}

function runningPods(agent: NodeAgent): number {
  return agent
    .pods()
    .filter(
      (p) =>
        p.status.phase === 'Running' &&
        p.status.containerStatuses?.[0]?.state.running !== undefined,
    ).length;
}

export async function benchAgent(): Promise<Verdict[]> {
  const client = docker();
  await ensureTestImage(client);
  const runtime = createDockerRuntime();
  await runtime.ensurePauseImage();
  const node = `bench-node-${process.pid}`;
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'berth-bench-agent-'));
  const agent = createNodeAgent({ runtime, node, dataDir });
  await agent.start();
  try {
    // Warm the engine once so neither side pays first-use costs.
    await directStart(2);
    const directMs = await directStart(POD_COUNT);

    const pods = Array.from({ length: POD_COUNT }, (_, i) => benchPod(i));
    const start = performance.now();
    agent.setDesiredPods(pods, 'bench-1');
    await until('50 pods running', () => runningPods(agent) === POD_COUNT);
    const berthMs = performance.now() - start;

    // Kill one container in each of 20 pods, one pod at a time, and time until it runs
    // again; then 20 other pods all at once (the engine serialises much of the work).
    const containers = (await runtime.list(node)).filter(
      (c) => c.role === 'container' && c.state === 'running',
    );
    const recover = async (victim: (typeof containers)[number]): Promise<number> => {
      const killedAt = performance.now();
      await client.getContainer(victim.id).kill();
      await until(`pod ${victim.podName} running again`, () => {
        const report = agent.pods().find((p) => p.name === victim.podName);
        const status = report?.status.containerStatuses?.[0];
        return (
          status !== undefined && status.restartCount >= 1 && status.state.running !== undefined
        );
      });
      return performance.now() - killedAt;
    };
    const oneByOne: number[] = [];
    for (const victim of containers.slice(0, KILL_COUNT)) oneByOne.push(await recover(victim));
    const together = await Promise.all(containers.slice(KILL_COUNT, 2 * KILL_COUNT).map(recover));
    const median = (values: number[]): number =>
      [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;

    agent.setDesiredPods([], 'bench-2');
    await until('pods removed', async () => (await runtime.list(node)).length === 0);

    const ratio = berthMs / directMs;
    const verdicts: Verdict[] = [
      {
        name: `start ${POD_COUNT} pods (${POD_COUNT * 2} containers: each pod has a sandbox)`,
        figure: `${ms(berthMs)} = ${ratio.toFixed(2)}x direct (${ms(directMs)} for ${POD_COUNT} plain containers through dockerode, all at once)`,
        target: '<= 1.25x direct',
        met: ratio <= 1.25,
      },
      {
        name: `restart after docker kill, ${KILL_COUNT} pods one at a time`,
        figure: `median ${ms(median(oneByOne))}, max ${ms(Math.max(...oneByOne))}`,
        target: 'median < 1 s',
        met: median(oneByOne) < 1000,
      },
      {
        name: `restart after docker kill, ${KILL_COUNT} pods at once`,
        figure: `median ${ms(median(together))}, max ${ms(Math.max(...together))}`,
        target: 'reported (Docker Swarm: about 6 s)',
        met: true,
      },
    ];
    printVerdicts('node agent on Docker', verdicts);
    return verdicts;
  } finally {
    agent.setDesiredPods([], 'bench-cleanup');
    await until('cleanup', async () => (await runtime.list(node)).length === 0).catch(
      () => undefined,
    );
    await agent.stop();
    for (const c of await runtime.list(node)) await runtime.remove(c.id);
    rmSync(dataDir, { recursive: true, force: true });
  }
}
