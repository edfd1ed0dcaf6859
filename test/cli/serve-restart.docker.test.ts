/**
 * Stopping and starting `berth serve` keeps everything: the built command with its local agent
 * on the real Docker Engine. With an app pushed and its pods running, SIGTERM stops the serve
 * within a deadline with exit 0, its containers still run and server.json is gone; a serve
 * started again on the same data dir adopts the very same containers (same ids, same start
 * times; Docker shows no container made, started, stopped or removed), reports the app Synced
 * and Healthy at the same commit, and deploys the next push.
 */
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LABELS } from '../../operator/agent/runtime.js';
import type { AppStatus } from '../../operator/daemon/status.js';
import { docker, removeContainerIfPresent, uniqueTestName } from '../helpers/docker.js';
import { ensureTestImage, TEST_IMAGE } from '../helpers/docker-images.js';
import { commitFiles, initRepo } from '../helpers/git-repo.js';
import { killServe, runGit, type ServeProcess, startServe } from '../helpers/serve-process.js';
import { waitFor } from '../helpers/wait.js';

const NODE = uniqueTestName('restart');
/** How long a SIGTERM'd serve may take to exit. */
const STOP_DEADLINE_MS = 10_000;

let dir: string;
const serves: ServeProcess[] = [];

function podYaml(name: string): string {
  return `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: main
      image: ${TEST_IMAGE}
      imagePullPolicy: Never
      command: ["sleep", "3600"]
`;
}

const RC = `apiVersion: v1
kind: ReplicationController
metadata:
  name: shop-workers
spec:
  replicas: 2
  template:
    metadata:
      labels:
        app: shop-workers
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: main
          image: ${TEST_IMAGE}
          imagePullPolicy: Never
          command: ["sleep", "3600"]
`;

interface Seen {
  readonly id: string;
  readonly name: string;
  readonly pod: string;
  readonly role: string;
  readonly state: string;
  readonly startedAt: string;
}

/** Every container of the node (sandboxes too), by id, with its start time. */
async function nodeContainers(): Promise<Map<string, Seen>> {
  const list = await docker().listContainers({
    all: true,
    filters: { label: [`${LABELS.node}=${NODE}`] },
  });
  const seen = new Map<string, Seen>();
  for (const c of list) {
    const inspect = await docker().getContainer(c.Id).inspect();
    seen.set(c.Id, {
      id: c.Id,
      name: inspect.Name,
      pod: c.Labels[LABELS.podName] ?? '',
      role: c.Labels[LABELS.role] ?? '',
      state: c.State,
      startedAt: inspect.State.StartedAt,
    });
  }
  return seen;
}

async function runningPods(): Promise<string[]> {
  return [...(await nodeContainers()).values()]
    .filter((c) => c.role === 'container' && c.state === 'running')
    .map((c) => c.pod)
    .sort();
}

/** The engine's container events about this node's containers between two times (seconds). */
async function containerEvents(sinceS: number, untilS: number): Promise<string[]> {
  const stream = await docker().getEvents({
    // Fractional seconds: the engine takes them.
    since: sinceS,
    until: untilS,
    filters: { type: ['container'], label: [`${LABELS.node}=${NODE}`] },
  });
  const chunks: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks)
    .toString('utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const event = JSON.parse(line) as {
        Action: string;
        Actor?: { Attributes?: { name?: string } };
      };
      return `${event.Action} ${event.Actor?.Attributes?.name ?? ''}`;
    });
}

async function appStatus(serve: ServeProcess, app: string): Promise<AppStatus | undefined> {
  const { status, body } = await serve.api('GET', `/api/v1/apps/${app}`);
  return status === 200 ? (body as AppStatus) : undefined;
}

beforeAll(async () => {
  await ensureTestImage(docker());
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-serve-restart-'));
});

afterAll(async () => {
  for (const serve of serves) await killServe(serve);
  const all = await docker().listContainers({
    all: true,
    filters: { label: [`${LABELS.node}=${NODE}`] },
  });
  for (const c of all) await removeContainerIfPresent(docker(), c.Id);
  if (dir !== undefined) await fsp.rm(dir, { recursive: true, force: true });
});

describe('berth serve stopped and started again', () => {
  it('leaves the pods running on SIGTERM and adopts the same containers after a restart', async () => {
    const dataDir = path.join(dir, 'operator');
    const testStartS = Date.now() / 1000;
    const first = await startServe({ dataDir, node: NODE });
    serves.push(first);

    const work = initRepo(path.join(dir, 'shop'));
    const commit = commitFiles(
      work,
      { 'deploy/web.yaml': podYaml('shop-web'), 'deploy/workers.yaml': RC },
      'web and workers',
    );
    const pushed = await runGit(work, 'push', first.gitRemote('shop'), 'main');
    expect(pushed.code, pushed.stderr).toBe(0);
    const healthy = await waitFor(
      async () => {
        const status = await appStatus(first, 'shop');
        return status?.sync === 'Synced' && status.health === 'Healthy' ? status : undefined;
      },
      `shop Synced and Healthy (serve stderr: ${first.output().stderr})`,
      90_000,
    );
    expect(healthy.lastApplied?.commit).toBe(commit);
    const pods = await runningPods();
    expect(pods).toHaveLength(3);
    expect(pods).toContain('shop-web');
    const before = await nodeContainers();
    // Three pods: a sandbox and a container each, all running.
    expect(before.size).toBe(6);
    expect([...before.values()].every((c) => c.state === 'running')).toBe(true);
    const quietSinceS = Date.now() / 1000;

    // SIGTERM: a clean stop within the deadline, exit 0, the pods left running.
    const stopAsked = Date.now();
    first.child.kill('SIGTERM');
    const code = await Promise.race([
      first.exited,
      new Promise<'late'>((resolve) => setTimeout(() => resolve('late'), STOP_DEADLINE_MS)),
    ]);
    const stopMs = Date.now() - stopAsked;
    expect(code, `exit after SIGTERM (stderr: ${first.output().stderr})`).toBe(0);
    expect(stopMs).toBeLessThan(STOP_DEADLINE_MS);
    expect(first.output().stdout).toContain('berth serve: stopped; pods left running');
    await expect(fsp.stat(path.join(dataDir, 'server.json'))).rejects.toMatchObject({
      code: 'ENOENT',
    });
    expect(await nodeContainers()).toEqual(before);

    // Started again on the same data dir: the same containers, nothing made or removed.
    const second = await startServe({ dataDir, node: NODE });
    serves.push(second);
    const again = await waitFor(
      async () => {
        const status = await appStatus(second, 'shop');
        return status?.sync === 'Synced' && status.health === 'Healthy' ? status : undefined;
      },
      `shop Synced and Healthy after the restart (serve stderr: ${second.output().stderr})`,
      60_000,
    );
    expect(again.lastApplied?.commit).toBe(commit);
    // The agent has looked at every pod and reported it (the readout shows them all Running).
    await waitFor(async () => {
      const { body } = await second.api('GET', '/api/v1/readout');
      const assignments = (body as { assignments: { pod: { status?: { phase?: string } } }[] })
        .assignments;
      return (
        assignments.length === 3 && assignments.every((a) => a.pod.status?.phase === 'Running')
      );
    }, 'three pods reported Running after the restart');
    const after = await nodeContainers();
    expect(after).toEqual(before);
    const history = (await second.api('GET', '/api/v1/apps/shop/history')).body as {
      commit: string;
    }[];
    expect(history.map((h) => h.commit)).toEqual([commit]);
    const untilS = Date.now() / 1000;
    expect(await containerEvents(quietSinceS, untilS)).toEqual([]);
    // The same query sees the engine's events: the first serve's creations are there.
    const earlier = await containerEvents(testStartS, quietSinceS);
    expect(earlier.filter((event) => event.startsWith('create ')).length).toBe(6);
    if (process.env.BERTH_TEST_FIGURES) console.info(`serve stopped ${stopMs} ms after SIGTERM`);

    // A new push still deploys, and leaves the running pods alone.
    const next = commitFiles(work, { 'deploy/api.yaml': podYaml('shop-api') }, 'api');
    const pushedAgain = await runGit(work, 'push', second.gitRemote('shop'), 'main');
    expect(pushedAgain.code, pushedAgain.stderr).toBe(0);
    expect(pushedAgain.stderr).toContain(
      'remote: 1 to create, 0 to update, 0 to replace, 0 to delete',
    );
    await waitFor(
      async () => {
        const status = await appStatus(second, 'shop');
        return status?.lastApplied?.commit === next && status.health === 'Healthy';
      },
      `the new commit synced and Healthy (serve stderr: ${second.output().stderr})`,
      60_000,
    );
    expect(await runningPods()).toContain('shop-api');
    const latest = await nodeContainers();
    for (const [id, seen] of before) expect(latest.get(id)).toEqual(seen);

    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });
});
