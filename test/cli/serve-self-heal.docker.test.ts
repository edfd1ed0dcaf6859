/**
 * An app's selfHeal setting through `berth serve` on the real Docker Engine: an app added with
 * `berth app add --no-self-heal` keeps drift made by hand. `docker rm -f` of a pod's container
 * leaves it gone; the operator records a DriftDetected event naming it and the app shows
 * OutOfSync with the reason; `berth app sync` puts the container back (DriftRepaired) and the
 * app is Synced again, the app's other pod untouched (a restart of the serve in between keeps
 * the drift held). A `docker stop` is left too, and a new
 * commit on the tracked branch (another sync) starts the container again.
 */
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LABELS } from '../../operator/agent/runtime.js';
import type { AppStatus } from '../../operator/daemon/status.js';
import type { EventRecord } from '../../operator/store/store.js';
import { docker, removeContainerIfPresent, uniqueTestName } from '../helpers/docker.js';
import { ensureTestImage, TEST_IMAGE } from '../helpers/docker-images.js';
import { commitFiles, initRepo } from '../helpers/git-repo.js';
import { runBerth } from '../helpers/run-berth.js';
import { killServe, type ServeProcess, startServe } from '../helpers/serve-process.js';
import { waitFor } from '../helpers/wait.js';

const NODE = uniqueTestName('heal');

let dir: string;
let serve: ServeProcess | undefined;

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

/** The running `main` container of each pod of the node, by pod name. */
async function mainContainers(): Promise<Map<string, string>> {
  const list = await docker().listContainers({
    all: true,
    filters: { label: [`${LABELS.node}=${NODE}`, `${LABELS.role}=container`] },
  });
  return new Map(
    list.filter((c) => c.State === 'running').map((c) => [c.Labels[LABELS.podName] ?? '', c.Id]),
  );
}

/** What the engine did to this node's containers since `sinceS` (fractional seconds). */
async function containerActions(sinceS: number): Promise<string[]> {
  const stream = await docker().getEvents({
    since: sinceS,
    until: Date.now() / 1000,
    filters: { type: ['container'], label: [`${LABELS.node}=${NODE}`] },
  });
  const chunks: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks)
    .toString('utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => (JSON.parse(line) as { Action: string }).Action);
}

async function appStatus(app: string): Promise<AppStatus | undefined> {
  const { status, body } = await serve!.api('GET', `/api/v1/apps/${app}`);
  return status === 200 ? (body as AppStatus) : undefined;
}

async function appEvents(app: string): Promise<EventRecord[]> {
  return (await serve!.api('GET', `/api/v1/events?app=${app}`)).body as EventRecord[];
}

beforeAll(async () => {
  await ensureTestImage(docker());
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-serve-heal-'));
});

afterAll(async () => {
  await killServe(serve);
  const all = await docker().listContainers({
    all: true,
    filters: { label: [`${LABELS.node}=${NODE}`] },
  });
  for (const c of all) await removeContainerIfPresent(docker(), c.Id);
  if (dir !== undefined) await fsp.rm(dir, { recursive: true, force: true });
});

describe('berth serve with selfHeal off', () => {
  it('leaves a container removed by hand gone, shows OutOfSync, and berth app sync puts it back', async () => {
    const dataDir = path.join(dir, 'operator');
    serve = await startServe({ dataDir, node: NODE });
    const work = initRepo(path.join(dir, 'shop'));
    const commit = commitFiles(
      work,
      { 'web.yaml': podYaml('shop-web'), 'api.yaml': podYaml('shop-api') },
      'web and api',
    );

    const added = runBerth(['app', 'add', 'shop', work, '--no-self-heal', '--data-dir', dataDir]);
    expect(added.status, added.stderr).toBe(0);
    await waitFor(
      async () => {
        const status = await appStatus('shop');
        return status?.sync === 'Synced' && status.health === 'Healthy';
      },
      `shop Synced and Healthy (serve stderr: ${serve.output().stderr})`,
      60_000,
    );
    const before = await mainContainers();
    const web = before.get('shop-web');
    const api = before.get('shop-api');
    expect(web).toBeDefined();
    expect(api).toBeDefined();

    // docker rm -f: left gone, recorded, and the app is OutOfSync with the reason.
    const removedAtS = Date.now() / 1000;
    await docker().getContainer(web!).remove({ force: true });
    const detected = await waitFor(
      async () => (await appEvents('shop')).find((e) => e.reason === 'DriftDetected'),
      `a DriftDetected event (serve stderr: ${serve.output().stderr})`,
      30_000,
    );
    expect(detected).toMatchObject({ type: 'Warning', object: 'pod/shop-web', app: 'shop' });
    expect(detected.message).toContain('container main was removed outside berth (docker rm?)');
    const outOfSync = await waitFor(async () => {
      const status = await appStatus('shop');
      return status?.sync === 'OutOfSync' ? status : undefined;
    }, 'shop OutOfSync');
    expect(outOfSync.reason).toBe(
      'drift left as found (selfHeal is off): pod/shop-web: container main was removed outside berth (docker rm?); berth app sync shop puts it back',
    );
    expect(outOfSync.lastApplied?.commit).toBe(commit);
    // Still OutOfSync on the next looks, and nothing was made again meanwhile.
    const stillOut = await appStatus('shop');
    expect(stillOut?.sync).toBe('OutOfSync');
    const gone = await mainContainers();
    expect(gone.has('shop-web')).toBe(false);
    expect(gone.get('shop-api')).toBe(api);
    expect(await containerActions(removedAtS)).not.toContain('create');
    expect((await appEvents('shop')).some((e) => e.reason === 'DriftRepaired')).toBe(false);

    // A restart of berth serve keeps it so: the restarted agent holds the drift too.
    serve.child.kill('SIGTERM');
    expect(await serve.exited).toBe(0);
    const restartedAtS = Date.now() / 1000;
    serve = await startServe({ dataDir, node: NODE });
    await waitFor(async () => {
      const { body } = await serve!.api('GET', '/api/v1/readout');
      const nodes = (body as { nodes: { name: string; pods: { name: string }[] }[] }).nodes;
      const reported = nodes.find((n) => n.name === NODE)?.pods.map((p) => p.name) ?? [];
      return reported.includes('shop-web') && reported.includes('shop-api');
    }, 'both pods reported by the restarted agent');
    expect((await appStatus('shop'))?.sync).toBe('OutOfSync');
    expect((await mainContainers()).has('shop-web')).toBe(false);
    expect(await containerActions(restartedAtS)).not.toContain('create');

    // berth app sync: the same commit again, and the container is back.
    const synced = runBerth(['app', 'sync', 'shop', '--data-dir', dataDir]);
    expect(synced.status, synced.stderr).toBe(0);
    const back = await waitFor(
      async () => (await mainContainers()).get('shop-web'),
      `shop-web running again (serve stderr: ${serve.output().stderr})`,
      30_000,
    );
    expect(back).not.toBe(web);
    const repaired = await waitFor(
      async () => (await appEvents('shop')).find((e) => e.reason === 'DriftRepaired'),
      'a DriftRepaired event',
    );
    expect(repaired.message).toBe(
      'container main (found removed outside berth while selfHeal was off); created again',
    );
    const healed = await waitFor(async () => {
      const status = await appStatus('shop');
      return status?.sync === 'Synced' && status.health === 'Healthy' ? status : undefined;
    }, 'shop Synced and Healthy again');
    expect(healed.lastApplied?.commit).toBe(commit);
    // A working tree added without a ref follows its branch.
    expect(healed.ref).toBe('main');
    expect((await mainContainers()).get('shop-api')).toBe(api);

    // docker stop is left too; a new commit on the branch (a sync) puts it back.
    await docker().getContainer(api!).stop({ t: 1 });
    await waitFor(
      async () => {
        const status = await appStatus('shop');
        return status?.sync === 'OutOfSync' && status.reason.includes('pod/shop-api')
          ? status
          : undefined;
      },
      `shop OutOfSync for the stopped pod (serve stderr: ${serve.output().stderr})`,
      30_000,
    );
    expect((await mainContainers()).has('shop-api')).toBe(false);
    const next = commitFiles(work, { 'db.yaml': podYaml('shop-db') }, 'db');
    const running = await waitFor(
      async () => {
        const now = await mainContainers();
        return now.has('shop-api') && now.has('shop-db') ? now : undefined;
      },
      `shop-api running again and shop-db running (serve stderr: ${serve.output().stderr})`,
      60_000,
    );
    expect(running.get('shop-web')).toBe(back);
    const synced2 = await waitFor(async () => {
      const status = await appStatus('shop');
      return status?.sync === 'Synced' && status.lastApplied?.commit === next ? status : undefined;
    }, 'the new commit Synced');
    expect(synced2.reason).not.toContain('drift');
    expect(
      (await appEvents('shop')).filter((e) => e.reason === 'DriftRepaired').map((e) => e.object),
    ).toEqual(['pod/shop-api', 'pod/shop-web']);

    serve.child.kill('SIGTERM');
    expect(await serve.exited).toBe(0);
  });
});
