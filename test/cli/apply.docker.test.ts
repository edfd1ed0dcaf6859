/**
 * `berth apply` as users run it: the built command, the embedded operator with its store in a
 * temp data dir, the real node agent and the Docker Engine. Each step is one process, so the
 * re-apply also proves the store carries the pods across operator restarts.
 */
import { spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LABELS } from '../../operator/agent/runtime.js';
import { docker, removeContainerIfPresent, uniqueTestName } from '../helpers/docker.js';
import { ensureTestImage, TEST_IMAGE } from '../helpers/docker-images.js';

const BIN = fileURLToPath(new URL('../../bin/berth.js', import.meta.url));
const node = uniqueTestName('apply-node');
let dir: string;
let source: string;
let dataDir: string;

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function apply(from: string, timeout = '60s', data = dataDir): Promise<Run> {
  const child = spawn(
    process.execPath,
    [BIN, 'apply', from, '--data-dir', data, '--node-name', node, '--timeout', timeout],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => {
    stdout += String(chunk);
  });
  child.stderr.on('data', (chunk) => {
    stderr += String(chunk);
  });
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

/** Running user containers of the test node, by pod name. */
async function runningContainers(): Promise<Map<string, string>> {
  const list = await docker().listContainers({
    all: true,
    filters: { label: [`${LABELS.node}=${node}`, `${LABELS.role}=container`] },
  });
  const byPod = new Map<string, string>();
  for (const container of list) {
    if (container.State !== 'running') continue;
    byPod.set(container.Labels[LABELS.podName] ?? '', container.Id);
  }
  return byPod;
}

function manifests(replicas: number): string {
  const spec = `      terminationGracePeriodSeconds: 1
      containers:
        - name: main
          image: ${TEST_IMAGE}
          imagePullPolicy: Never
          command: ["sh", "-c", "exec sleep 3600"]`;
  return `apiVersion: v1
kind: ReplicationController
metadata:
  name: web
spec:
  replicas: ${replicas}
  selector:
    app: web
  template:
    metadata:
      labels:
        app: web
    spec:
${spec}
---
apiVersion: v1
kind: Pod
metadata:
  name: solo
spec:
${spec.replace(/^ {4}/gm, '')}
`;
}

beforeAll(async () => {
  await ensureTestImage(docker());
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-apply-docker-'));
  source = path.join(dir, 'source');
  dataDir = path.join(dir, 'data');
  await fsp.mkdir(source);
  await fsp.writeFile(path.join(source, 'app.yaml'), manifests(2));
});

afterAll(async () => {
  const client = docker();
  const left = await client.listContainers({
    all: true,
    filters: { label: [`${LABELS.node}=${node}`] },
  });
  await Promise.all(left.map((container) => removeContainerIfPresent(client, container.Id)));
  await fsp.rm(dir, { recursive: true, force: true });
});

describe('berth apply on the Docker Engine', () => {
  it('runs an RC of 2 and a pod, keeps them on a re-apply, scales down, refuses an invalid dir', async () => {
    const first = await apply(source);
    expect(first.stderr).not.toContain('not ready');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/pod\/solo Running 1\/1/);
    expect(first.stdout).toMatch(/pod\/web-[a-z0-9]{5} Running 1\/1/);
    expect(first.stdout).toContain('ready: 3 pods');
    const started = await runningContainers();
    expect(started.has('solo')).toBe(true);
    expect([...started.keys()].filter((name) => /^web-[a-z0-9]{5}$/.test(name))).toHaveLength(2);
    expect(started.size).toBe(3);

    const again = await apply(source);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('in sync');
    expect(again.stdout).toContain('ready: 3 pods');
    expect(await runningContainers()).toEqual(started);

    await fsp.writeFile(path.join(source, 'app.yaml'), manifests(1));
    const scaled = await apply(source);
    expect(scaled.code).toBe(0);
    expect(scaled.stdout).toMatch(/pod\/web-[a-z0-9]{5} delete/);
    expect(scaled.stdout).toContain('ready: 2 pods');
    const after = await runningContainers();
    expect(after.size).toBe(2);
    expect(after.get('solo')).toBe(started.get('solo'));
    // The pod kept is one of the two, with its container untouched.
    const kept = [...after.keys()].find((name) => name.startsWith('web-'));
    expect(kept).toBeDefined();
    expect(after.get(kept!)).toBe(started.get(kept!));

    const invalid = path.join(dir, 'invalid');
    await fsp.mkdir(invalid);
    await fsp.writeFile(
      path.join(invalid, 'bad.yaml'),
      'apiVersion: v1\nkind: Pod\nmetadata:\n  name: Bad_Name\nspec:\n  containers: []\n',
    );
    const refused = await apply(invalid);
    expect(refused.code).toBe(2);
    expect(refused.stdout).toContain('must be a DNS-1123 subdomain');
    expect(refused.stderr).toContain('nothing applied');
    expect(await runningContainers()).toEqual(after);
  }, 240_000);

  it("exits 1 at the timeout with each pod's reason", async () => {
    const stuck = path.join(dir, 'stuck');
    await fsp.mkdir(stuck);
    await fsp.writeFile(
      path.join(stuck, 'pods.yaml'),
      `apiVersion: v1
kind: Pod
metadata: {name: noimage}
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - {name: main, image: berth-test/absent:1, imagePullPolicy: Never}
---
apiVersion: v1
kind: Pod
metadata: {name: huge}
spec:
  containers:
    - name: main
      image: ${TEST_IMAGE}
      imagePullPolicy: Never
      resources: {requests: {cpu: "100000"}}
`,
    );
    // Its own data dir: these pods never meet the first test's store.
    const run = await apply(stuck, '5s', path.join(dir, 'stuck-data'));
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('not ready after 5s');
    expect(run.stderr).toMatch(/pod\/huge Pending: .*Insufficient cpu/);
    expect(run.stderr).toMatch(/pod\/noimage Pending: main: ErrImageNeverPull/);
  }, 120_000);
});
