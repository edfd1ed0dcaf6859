/**
 * `berth apply` of a git repository through its history, as a user deploys: the built command,
 * the embedded operator with its store in a temp data dir, the real node agent and the Docker
 * Engine. Covers scale up, a template rollout one pod at a time, prune and its guards, and an
 * operator killed (SIGKILL) in the middle of a sync.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LABELS } from '../../operator/agent/runtime.js';
import { docker, removeContainerIfPresent, uniqueTestName } from '../helpers/docker.js';
import { ensureTestImage, TEST_IMAGE } from '../helpers/docker-images.js';
import { git, makeTempDir } from '../helpers/git-repo.js';
import { waitFor } from '../helpers/wait.js';

const BIN = fileURLToPath(new URL('../../bin/berth.js', import.meta.url));
const node = uniqueTestName('apply-git');
const temp = makeTempDir('apply-git');
const repo = path.join(temp.path, 'shop');
const dataDir = path.join(temp.path, 'data');

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function startApply(args: readonly string[]): {
  child: ChildProcess;
  done: Promise<Run>;
  stdout(): string;
} {
  const child = spawn(
    process.execPath,
    [BIN, 'apply', ...args, '--data-dir', dataDir, '--node-name', node, '--timeout', '90s'],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } },
  );
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk) => {
    stdout += String(chunk);
  });
  child.stderr?.on('data', (chunk) => {
    stderr += String(chunk);
  });
  const done = new Promise<Run>((resolve) =>
    child.once('close', (code) => resolve({ code, stdout, stderr })),
  );
  return { child, done, stdout: () => stdout };
}

const apply = (...args: string[]): Promise<Run> => startApply(args).done;

interface Running {
  readonly pod: string;
  readonly id: string;
  readonly running: boolean;
}

/** Every app container of the test node (not sandboxes). */
async function containers(): Promise<Running[]> {
  const list = await docker().listContainers({
    all: true,
    filters: { label: [`${LABELS.node}=${node}`, `${LABELS.role}=container`] },
  });
  return list.map((c) => ({
    pod: c.Labels[LABELS.podName] ?? '',
    id: c.Id,
    running: c.State === 'running',
  }));
}

async function runningPods(prefix: string): Promise<string[]> {
  return (await containers())
    .filter((c) => c.running && c.pod.startsWith(prefix))
    .map((c) => c.pod)
    .sort();
}

function rc(replicas: number, version: string): string {
  return `apiVersion: v1
kind: ReplicationController
metadata: {name: web}
spec:
  replicas: ${replicas}
  template:
    metadata:
      labels: {app: web}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: main
          image: ${TEST_IMAGE}
          imagePullPolicy: Never
          command: ["sh", "-c", "exec sleep 3600"]
          env: [{name: VERSION, value: "${version}"}]
`;
}

function pod(name: string, annotations = ''): string {
  return `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
${annotations}spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: main
      image: ${TEST_IMAGE}
      imagePullPolicy: Never
      command: ["sh", "-c", "exec sleep 3600"]
`;
}

const KEPT = pod('kept', '  annotations: {berth.io/prune: disabled}\n');

async function commit(files: Record<string, string | undefined>, message: string): Promise<void> {
  for (const [name, text] of Object.entries(files)) {
    const file = path.join(repo, name);
    if (text === undefined) await fsp.rm(file, { force: true });
    else await fsp.writeFile(file, text);
  }
  git(repo, 'add', '-A');
  git(repo, 'commit', '-q', '--allow-empty', '-m', message);
}

beforeAll(async () => {
  await ensureTestImage(docker());
  await fsp.mkdir(repo);
  git(repo, 'init', '-q');
  await fsp.writeFile(path.join(repo, 'README.md'), 'shop\n');
  await commit({ 'web.yaml': rc(2, 'v1'), 'solo.yaml': pod('solo'), 'kept.yaml': KEPT }, 'first');
});

afterAll(async () => {
  const client = docker();
  const left = await client.listContainers({
    all: true,
    filters: { label: [`${LABELS.node}=${node}`] },
  });
  await Promise.all(left.map((container) => removeContainerIfPresent(client, container.Id)));
  temp.remove();
});

describe('berth apply through git history', () => {
  it('scales up, rolls a template out one pod at a time, and prunes what left git', async () => {
    const first = await apply(repo, '--ref', 'main');
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('ready: 4 pods');
    const v1 = await runningPods('web-');
    expect(v1).toHaveLength(2);

    // Uncommitted edits are not deployed: the repository is read at the branch's commit.
    await fsp.writeFile(path.join(repo, 'web.yaml'), rc(9, 'v1'));
    const unchanged = await apply(repo, '--ref', 'main');
    expect(unchanged.code).toBe(0);
    expect(unchanged.stdout).toContain('in sync');
    expect(await runningPods('web-')).toEqual(v1);

    await commit({ 'web.yaml': rc(3, 'v1') }, 'scale to 3');
    const scaled = await apply(repo, '--ref', 'main');
    expect(scaled.code).toBe(0);
    expect(scaled.stdout).toContain('replicationcontroller/web update');
    const v1Scaled = await runningPods('web-');
    expect(v1Scaled).toHaveLength(3);
    expect(v1Scaled).toEqual(expect.arrayContaining(v1));

    // The rollout: watch the engine while apply runs; never fewer than 3 running, never more
    // than one extra, and in the end three new pods.
    await commit({ 'web.yaml': rc(3, 'v2') }, 'v2');
    const rollout = startApply([repo, '--ref', 'main']);
    const seen: number[] = [];
    let finished = false;
    void rollout.done.then(() => {
      finished = true;
    });
    // Sampled back to back: each sample is one engine call, so the loop never spins idle.
    while (!finished) seen.push((await runningPods('web-')).length);
    const rolled = await rollout.done;
    expect(rolled.stderr).toBe('');
    expect(rolled.code).toBe(0);
    expect(Math.min(...seen)).toBeGreaterThanOrEqual(3);
    // One new pod at a time, plus at most one old pod still stopping in its grace period (not
    // counted by the RC once deleted, as in Kubernetes).
    expect(Math.max(...seen)).toBeLessThanOrEqual(5);
    const v2 = await runningPods('web-');
    expect(v2).toHaveLength(3);
    for (const name of v2) expect(v1Scaled).not.toContain(name);
    // In apply's progress, each new pod shows up only after the one before it was Running.
    const lines = rolled.stdout.split('\n');
    const firstSeen = (name: string): number => lines.findIndex((l) => l.includes(`pod/${name} `));
    const firstRunning = (name: string): number =>
      lines.findIndex((l) => l.startsWith(`pod/${name} Running 1/1`));
    const order = [...v2].sort((a, b) => firstSeen(a) - firstSeen(b));
    for (let i = 1; i < order.length; i += 1) {
      expect(firstRunning(order[i - 1]!)).toBeGreaterThanOrEqual(0);
      expect(firstSeen(order[i]!)).toBeGreaterThan(firstRunning(order[i - 1]!));
    }

    // solo and kept leave git: solo goes, kept stays (berth.io/prune: disabled).
    const before = await containers();
    await commit({ 'solo.yaml': undefined, 'kept.yaml': undefined }, 'drop pods');
    const pruned = await apply(repo, '--ref', 'main');
    expect(pruned.code).toBe(0);
    expect(pruned.stdout).toContain('pod/solo delete (left git)');
    await waitFor(
      async () => !(await runningPods('solo')).includes('solo'),
      'solo removed',
      20_000,
    );
    const keptNow = (await containers()).find((c) => c.pod === 'kept');
    expect(keptNow?.running).toBe(true);
    expect(keptNow?.id).toBe(before.find((c) => c.pod === 'kept')?.id);
  }, 300_000);

  it('refuses a commit that deletes everything unless --allow-empty, changing nothing', async () => {
    const guarded = path.join(temp.path, 'guarded');
    await fsp.mkdir(guarded);
    await fsp.writeFile(path.join(guarded, 'one.yaml'), pod('guarded-one'));
    expect((await apply(guarded)).code).toBe(0);
    const running = await runningPods('guarded-');
    expect(running).toEqual(['guarded-one']);

    await fsp.rm(path.join(guarded, 'one.yaml'));
    const refused = await apply(guarded);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('refusing a plan that deletes all 1 objects');
    expect(refused.stderr).toContain('--allow-empty');
    expect(await runningPods('guarded-')).toEqual(running);
    // Another app's pods were never at stake.
    expect(await runningPods('web-')).toHaveLength(3);

    const allowed = await apply(guarded, '--allow-empty');
    expect(allowed.code).toBe(0);
    await waitFor(
      async () => (await runningPods('guarded-')).length === 0,
      'guarded pods gone',
      20_000,
    );
    expect(await runningPods('web-')).toHaveLength(3);
  }, 180_000);

  it('finishes a sync whose operator was SIGKILLed half way, with no duplicate or orphan', async () => {
    const burst = path.join(temp.path, 'burst');
    await fsp.mkdir(burst);
    await fsp.writeFile(
      path.join(burst, 'rc.yaml'),
      rc(4, 'burst').replaceAll('name: web', 'name: burst').replaceAll('app: web', 'app: burst'),
    );
    const killed = startApply([burst]);
    // The sync is stored once the command prints its plan; kill it while pods are starting.
    await waitFor(
      () => killed.stdout().includes('replicationcontroller/burst create'),
      'the plan printed',
      60_000,
    );
    killed.child.kill('SIGKILL');
    await killed.done;

    const again = await apply(burst);
    expect(again.stderr).toBe('');
    expect(again.code).toBe(0);
    const all = await containers();
    const burstContainers = all.filter((c) => c.pod.startsWith('burst-'));
    // Exactly four pods, one container each, all running: none made twice, none left behind.
    expect(burstContainers.filter((c) => c.running)).toHaveLength(4);
    expect(new Set(burstContainers.map((c) => c.pod)).size).toBe(burstContainers.length);
    await waitFor(
      async () => (await containers()).filter((c) => c.pod.startsWith('burst-')).length === 4,
      'no leftover burst containers',
      20_000,
    );
  }, 180_000);
});
