/**
 * `berth serve` with three `berth agent --server` processes on one Docker Engine, all as users
 * run them (the built command): an RC of 6 spreads 2 per node; when one node's agent is
 * SIGKILLed, its pods are replaced on the other two under new names once the eviction timeout
 * passes, while its own containers stay (nothing is left to remove them).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LABELS } from '../../operator/agent/runtime.js';
import { connectOperatorServer } from '../../operator/api/operator-client.js';
import { loadManifests } from '../../operator/manifests/load.js';
import { createSourceReader } from '../../operator/source/index.js';
import { docker, removeContainerIfPresent, uniqueTestName } from '../helpers/docker.js';
import { ensureTestImage, TEST_IMAGE } from '../helpers/docker-images.js';
import { waitFor } from '../helpers/wait.js';

const BIN = fileURLToPath(new URL('../../bin/berth.js', import.meta.url));
const NODES = [uniqueTestName('n1'), uniqueTestName('n2'), uniqueTestName('n3')] as const;
const EVICTION_MS = 5000;

interface Started {
  readonly child: ChildProcess;
  stdout: string;
  stderr: string;
}

let dir: string;
let serve: Started | undefined;
const agents = new Map<string, Started>();

function start(args: string[]): Started {
  const child = spawn(process.execPath, [BIN, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1' },
  });
  const started: Started = { child, stdout: '', stderr: '' };
  child.stdout!.on('data', (chunk) => {
    started.stdout += String(chunk);
  });
  child.stderr!.on('data', (chunk) => {
    started.stderr += String(chunk);
  });
  return started;
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

async function stop(started: Started | undefined, signal: NodeJS.Signals): Promise<void> {
  if (started === undefined || started.child.exitCode !== null) return;
  if (started.child.signalCode !== null) return;
  started.child.kill(signal);
  await exited(started.child);
}

interface Container {
  readonly id: string;
  readonly node: string;
  readonly pod: string;
  readonly state: string;
}

/** The pods' user containers (not sandboxes) of the test's nodes. */
async function containers(): Promise<Container[]> {
  const found: Container[] = [];
  for (const node of NODES) {
    const list = await docker().listContainers({
      all: true,
      filters: { label: [`${LABELS.node}=${node}`, `${LABELS.role}=container`] },
    });
    for (const c of list) {
      found.push({ id: c.Id, node, pod: c.Labels[LABELS.podName] ?? '', state: c.State });
    }
  }
  return found;
}

function running(list: readonly Container[], node: string): Container[] {
  return list.filter((c) => c.node === node && c.state === 'running');
}

/** Fails the test at once if one pod name has two containers anywhere. */
function oneContainerPerPod(list: readonly Container[]): void {
  const seen = new Map<string, string>();
  for (const c of list) {
    const other = seen.get(c.pod);
    if (other !== undefined) {
      throw new Error(`pod ${c.pod} has two containers: on ${other} and on ${c.node}`);
    }
    seen.set(c.pod, c.node);
  }
}

const RC = `apiVersion: v1
kind: ReplicationController
metadata:
  name: spread
spec:
  replicas: 6
  selector: {app: spread}
  template:
    metadata:
      labels: {app: spread}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: main
          image: ${TEST_IMAGE}
          imagePullPolicy: Never
          command: ["sleep", "3600"]
`;

beforeAll(async () => {
  await ensureTestImage(docker());
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-serve-docker-'));
  await fsp.mkdir(path.join(dir, 'app'));
  await fsp.writeFile(path.join(dir, 'app', 'rc.yaml'), RC);
});

afterAll(async () => {
  // Agents first, so none starts a container again while they are removed.
  for (const agent of agents.values()) await stop(agent, 'SIGKILL');
  await stop(serve, 'SIGKILL');
  for (const container of await containers())
    await removeContainerIfPresent(docker(), container.id);
  for (const node of NODES) {
    const sandboxes = await docker().listContainers({
      all: true,
      filters: { label: [`${LABELS.node}=${node}`] },
    });
    for (const c of sandboxes) await removeContainerIfPresent(docker(), c.Id);
  }
  if (dir !== undefined) await fsp.rm(dir, { recursive: true, force: true });
});

describe('berth serve with three attached agents on Docker', () => {
  it('spreads an RC over the nodes and replaces a dead node’s pods under new names', async () => {
    const dataDir = path.join(dir, 'operator');
    serve = start([
      'serve',
      '--no-agent',
      '--listen',
      '127.0.0.1:0',
      '--data-dir',
      dataDir,
      '--node-grace',
      '3s',
      '--eviction-timeout',
      `${EVICTION_MS / 1000}s`,
    ]);
    const server = serve;
    const url = (
      await waitFor(
        () => /operator at (http:\/\/127\.0\.0\.1:\d+) /.exec(server.stdout),
        `the served URL (stderr: ${server.stderr})`,
        30_000,
      )
    )[1]!;
    const tokenFile = path.join(dataDir, 'token');
    expect((await fsp.stat(tokenFile)).mode & 0o777).toBe(0o600);
    const token = (await fsp.readFile(tokenFile, 'utf8')).trim();

    for (const node of NODES) {
      agents.set(
        node,
        start([
          'agent',
          '--server',
          url,
          '--token-file',
          tokenFile,
          '--node-name',
          node,
          '--data-dir',
          path.join(dir, 'nodes', node),
          '--listen',
          'off',
        ]),
      );
    }
    const session = connectOperatorServer({ url, token });
    await waitFor(
      async () => {
        const readout = await session.read();
        return NODES.every((node) => readout.nodes.find((n) => n.name === node)?.ready === true);
      },
      `three ready nodes (serve: ${serve.stderr})`,
      30_000,
    );

    const snapshot = await createSourceReader().open({ location: path.join(dir, 'app') });
    const set = await loadManifests(snapshot.files);
    expect(set.problems).toEqual([]);
    const result = await session.sync({
      app: 'spread',
      source: path.join(dir, 'app'),
      objects: set.objects,
    });
    expect(result.refused).toBeUndefined();

    const spread = await waitFor(
      async () => {
        const list = await containers();
        oneContainerPerPod(list);
        return NODES.every((node) => running(list, node).length === 2) ? list : undefined;
      },
      'two running pods on each node',
      60_000,
    );
    expect(spread).toHaveLength(6);
    const readout = await session.read();
    expect(readout.assignments).toHaveLength(6);
    for (const node of NODES) {
      expect(readout.assignments.filter((a) => a.node === node)).toHaveLength(2);
    }

    const [n1, n2, n3] = NODES;
    const onN3 = running(spread, n3);
    const killedAt = Date.now();
    await stop(agents.get(n3), 'SIGKILL');

    const replaced = await waitFor(
      async () => {
        const list = await containers();
        oneContainerPerPod(list);
        const survivors = [...running(list, n1), ...running(list, n2)];
        return survivors.length === 6 ? list : undefined;
      },
      `six running pods on ${n1} and ${n2} (serve: ${serve.stderr})`,
      60_000,
    );
    const replacedAfterMs = Date.now() - killedAt;
    // Not before the eviction timeout (it counts from the last heartbeat, at most one
    // heartbeat interval before the kill), and not much after it.
    expect(replacedAfterMs).toBeGreaterThanOrEqual(EVICTION_MS - 1500);
    expect(replacedAfterMs).toBeLessThan(EVICTION_MS + 20_000);

    const oldNames = new Set(onN3.map((c) => c.pod));
    const survivors = [...running(replaced, n1), ...running(replaced, n2)];
    const newPods = survivors.filter((c) => !spread.some((before) => before.pod === c.pod));
    expect(newPods).toHaveLength(2);
    for (const pod of newPods) expect(oldNames.has(pod.pod)).toBe(false);
    // n3's agent is dead: its containers are still there, running, untouched.
    expect(
      running(replaced, n3)
        .map((c) => c.id)
        .sort(),
    ).toEqual(onN3.map((c) => c.id).sort());

    const after = await session.read();
    expect(after.assignments).toHaveLength(6);
    expect(after.assignments.some((a) => a.node === n3)).toBe(false);
    expect(after.nodes.find((n) => n.name === n3)?.ready).toBe(false);

    // A clean stop: serve exits 0, removes server.json, and the pods stay.
    serve.child.kill('SIGTERM');
    expect(await exited(serve.child)).toBe(0);
    await expect(fsp.stat(path.join(dataDir, 'server.json'))).rejects.toThrow(/ENOENT/);
    expect(running(await containers(), n1)).toHaveLength(running(replaced, n1).length);
  });
});
