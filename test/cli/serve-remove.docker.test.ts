/**
 * `berth app remove` through `berth serve` on the real Docker Engine, as users run it (the built
 * command): an app of an RC of 2, a NodePort service, a bare pod and a pod annotated
 * `berth.io/prune: disabled`. Removed without --prune, every container stays and its node port
 * stays taken (another app's sync of it is refused). Removed again with --prune (the app's
 * record is gone by then; its inventory is what is removed), the command returns once the
 * deleted pods' containers are gone from Docker, prints what it deleted and what it kept, the
 * kept pod's container runs on untouched, and another app takes the node port.
 */
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LABELS } from '../../operator/agent/runtime.js';
import type { OperatorReadout } from '../../operator/operator/session.js';
import { docker, removeContainerIfPresent, uniqueTestName } from '../helpers/docker.js';
import { ensureTestImage, TEST_IMAGE } from '../helpers/docker-images.js';
import { commitFiles, initRepo, writeTree } from '../helpers/git-repo.js';
import { runBerth } from '../helpers/run-berth.js';
import { killServe, type ServeProcess, startServe } from '../helpers/serve-process.js';
import { waitFor } from '../helpers/wait.js';

const NODE = uniqueTestName('remove');
/** A node port of the range, different per run so runs on one machine do not meet. */
const NODE_PORT = 30000 + Math.floor(Math.random() * 2700);

let dir: string;
let serve: ServeProcess | undefined;

function podSpec(indent: string): string {
  return [
    'terminationGracePeriodSeconds: 1',
    'containers:',
    '  - name: main',
    `    image: ${TEST_IMAGE}`,
    '    imagePullPolicy: Never',
    '    command: ["sleep", "3600"]',
  ]
    .map((line) => `${indent}${line}`)
    .join('\n');
}

function podYaml(name: string, annotations = ''): string {
  return `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  labels: {app: ${name}}
${annotations}spec:
${podSpec('  ')}
`;
}

const RC = `apiVersion: v1
kind: ReplicationController
metadata:
  name: web
spec:
  replicas: 2
  selector: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
${podSpec('      ')}
`;

function serviceYaml(name: string): string {
  return `apiVersion: v1
kind: Service
metadata:
  name: ${name}
spec:
  type: NodePort
  selector: {app: web}
  ports:
    - port: 80
      targetPort: 8080
      nodePort: ${NODE_PORT}
`;
}

/** Every container of the test's node (sandboxes too), running or not, by pod name. */
async function containersByPod(): Promise<Map<string, { id: string; state: string }[]>> {
  const list = await docker().listContainers({
    all: true,
    filters: { label: [`${LABELS.node}=${NODE}`] },
  });
  const byPod = new Map<string, { id: string; state: string }[]>();
  for (const c of list) {
    const pod = c.Labels[LABELS.podName] ?? '';
    byPod.set(pod, [...(byPod.get(pod) ?? []), { id: c.Id, state: c.State }]);
  }
  return byPod;
}

async function readout(): Promise<OperatorReadout> {
  return (await serve!.api('GET', '/api/v1/readout')).body as OperatorReadout;
}

function berth(...args: string[]) {
  return runBerth([...args, '--data-dir', serve!.dataDir]);
}

beforeAll(async () => {
  await ensureTestImage(docker());
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-serve-remove-'));
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

describe('berth app remove through berth serve', () => {
  it('keeps what runs without --prune; with --prune deletes it all but a prune: disabled pod, and frees the node port', async () => {
    serve = await startServe({ dataDir: path.join(dir, 'operator'), node: NODE });
    const work = initRepo(path.join(dir, 'shop'));
    commitFiles(
      work,
      {
        'rc.yaml': RC,
        'service.yaml': serviceYaml('web'),
        'solo.yaml': podYaml('solo'),
        'keeper.yaml': podYaml('keeper', '  annotations:\n    berth.io/prune: disabled\n'),
      },
      'shop',
    );
    const other = path.join(dir, 'other');
    writeTree(other, { 'service.yaml': serviceYaml('other-web') });

    const added = berth('app', 'add', 'shop', work);
    expect(added.status, added.stderr).toBe(0);
    const pods = await waitFor(
      async () => {
        const byPod = await containersByPod();
        const running = [...byPod].filter(([, list]) => list.every((c) => c.state === 'running'));
        return running.length === 4 && byPod.size === 4 ? byPod : undefined;
      },
      `4 pods running (serve stderr: ${serve.output().stderr})`,
      60_000,
    );
    const webPods = [...pods.keys()].filter((name) => name.startsWith('web-'));
    expect(webPods).toHaveLength(2);
    const ids = (byPod: Map<string, { id: string }[]>) =>
      [...byPod.values()]
        .flat()
        .map((c) => c.id)
        .sort();

    // Without --prune: the app is no longer kept in sync; what it runs keeps running.
    const kept = berth('app', 'remove', 'shop');
    expect(kept.status, kept.stderr).toBe(0);
    expect(kept.stdout).toContain('app shop removed; what it runs keeps running');
    expect(berth('app', 'list').stderr).toContain('No apps found.');
    // The node port is still shop's: another app's sync (a pass of the engine) is refused.
    const refused = berth('apply', other, '--app', 'other');
    expect(refused.status, refused.stdout).toBe(2);
    expect(refused.stderr).toContain(String(NODE_PORT));
    expect(ids(await containersByPod())).toEqual(ids(pods));
    expect((await readout()).assignments).toHaveLength(4);

    // With --prune: everything it applied goes, but the pod that says prune: disabled.
    const pruned = berth('app', 'remove', 'shop', '--prune', '--timeout', '60s');
    expect(pruned.status, `${pruned.stdout}\n${pruned.stderr}`).toBe(0);
    expect(pruned.stdout).toBe(
      'app shop removed: 1 replicationcontroller, 1 service, 3 pods deleted\n' +
        "kept: pod/keeper (berth.io/prune: disabled); it keeps running as app shop's\n",
    );
    // The command returned once the containers were gone: none is left of the deleted pods.
    const after = await containersByPod();
    expect([...after.keys()]).toEqual(['keeper']);
    expect(ids(after)).toEqual(ids(new Map([['keeper', pods.get('keeper')!]])));
    expect(after.get('keeper')!.every((c) => c.state === 'running')).toBe(true);
    const state = await readout();
    expect(state.assignments.map((a) => a.podKey)).toEqual(['default/keeper']);
    expect(state.allocations.filter((a) => a.kind === 'nodePort')).toEqual([]);
    expect(state.apps.map((app) => [app.name, app.objects.map((o) => o.key)])).toEqual([
      ['shop', ['Pod/default/keeper']],
    ]);

    // The node port is free: another app takes it.
    const taken = berth('apply', other, '--app', 'other');
    expect(taken.status, `${taken.stdout}\n${taken.stderr}`).toBe(0);
    expect((await readout()).allocations.filter((a) => a.kind === 'nodePort')).toMatchObject([
      { value: String(NODE_PORT), owner: expect.stringContaining('Service/default/other-web') },
    ]);
    expect(ids(await containersByPod())).toEqual(ids(new Map([['keeper', pods.get('keeper')!]])));
  });
});
