/**
 * `git push` into `berth serve` as users do it: the built command with its local agent on the
 * real Docker Engine and the real `git` client. A push of a repository with one Pod makes the
 * app and runs the pod, and the pusher reads what the sync does; a push whose manifest does not
 * validate is refused with the problem on the pusher's terminal and the ref stays; a force-push
 * is followed.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LABELS } from '../../operator/agent/runtime.js';
import { docker, removeContainerIfPresent, uniqueTestName } from '../helpers/docker.js';
import { ensureTestImage, TEST_IMAGE } from '../helpers/docker-images.js';
import { commitFiles, GIT_TEST_ENV, git, initRepo } from '../helpers/git-repo.js';
import { waitFor } from '../helpers/wait.js';

const BIN = fileURLToPath(new URL('../../bin/berth.js', import.meta.url));
const NODE = uniqueTestName('push');

let dir: string;
let serve: { child: ChildProcess; stdout: string; stderr: string } | undefined;

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

const BAD_POD = `apiVersion: v1
kind: Pod
metadata:
  name: broken
spec:
  containers:
    - name: main
      image: ${TEST_IMAGE}
      ports:
        - containerPort: "eighty"
`;

interface GitRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs git without blocking (the server answers in another process, but keep the loop free). */
function runGit(cwd: string, ...args: string[]): Promise<GitRun> {
  return new Promise((resolve) => {
    execFile(
      'git',
      args,
      { cwd, encoding: 'utf8', env: { ...process.env, ...GIT_TEST_ENV } },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

async function nodeContainers(): Promise<{ id: string; pod: string; state: string }[]> {
  const list = await docker().listContainers({
    all: true,
    filters: { label: [`${LABELS.node}=${NODE}`, `${LABELS.role}=container`] },
  });
  return list.map((c) => ({ id: c.Id, pod: c.Labels[LABELS.podName] ?? '', state: c.State }));
}

async function runningPods(): Promise<string[]> {
  return (await nodeContainers())
    .filter((c) => c.state === 'running')
    .map((c) => c.pod)
    .sort();
}

beforeAll(async () => {
  await ensureTestImage(docker());
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-serve-push-'));
});

afterAll(async () => {
  const child = serve?.child;
  if (child !== undefined && child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }
  const all = await docker().listContainers({
    all: true,
    filters: { label: [`${LABELS.node}=${NODE}`] },
  });
  for (const c of all) await removeContainerIfPresent(docker(), c.Id);
  if (dir !== undefined) await fsp.rm(dir, { recursive: true, force: true });
});

describe('git push into berth serve', () => {
  it('deploys a push, refuses an invalid one with the problems, and follows a force-push', async () => {
    const dataDir = path.join(dir, 'operator');
    const child = spawn(
      process.execPath,
      [BIN, 'serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--node-name', NODE],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } },
    );
    const started = { child, stdout: '', stderr: '' };
    serve = started;
    child.stdout.on('data', (chunk) => {
      started.stdout += String(chunk);
    });
    child.stderr.on('data', (chunk) => {
      started.stderr += String(chunk);
    });
    const url = (
      await waitFor(
        () => /operator at (http:\/\/127\.0\.0\.1:\d+) /.exec(started.stdout),
        `the served URL (stderr: ${started.stderr})`,
        30_000,
      )
    )[1]!;
    const token = (await fsp.readFile(path.join(dataDir, 'token'), 'utf8')).trim();
    const remote = `${url.replace('http://', `http://x:${token}@`)}/git/shop.git`;

    const work = initRepo(path.join(dir, 'shop'));
    const good = commitFiles(work, { 'deploy/web.yaml': podYaml('shop-web') }, 'web');

    // 1. A push to a new name makes the app and runs its pod.
    const first = await runGit(work, 'push', remote, 'main');
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toContain('remote: berth: app shop created, tracking main');
    expect(first.stderr).toContain('remote: 1 to create, 0 to update, 0 to replace, 0 to delete');
    expect(first.stderr).toContain('remote: watch it: berth status shop');
    await waitFor(
      async () => (await runningPods()).includes('shop-web'),
      `pod shop-web running (serve stderr: ${started.stderr})`,
      60_000,
    );

    // 2. An invalid manifest is refused before the ref moves, with file:line:col.
    commitFiles(work, { 'deploy/bad.yaml': BAD_POD }, 'bad');
    const refused = await runGit(work, 'push', remote, 'main');
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(
      /remote: deploy\/bad\.yaml:10:\d+: pod\/broken: spec\.containers\[0\]\.ports\[0\]\.containerPort: /,
    );
    expect(refused.stderr).toContain('nothing was changed');
    const listed = await runGit(work, 'ls-remote', remote, 'refs/heads/main');
    expect(listed.stdout.split(/\s+/)[0]).toBe(good);
    expect(await runningPods()).toEqual(['shop-web']);

    // 3. A rewritten history, force-pushed, is followed: web goes, api comes.
    git(work, 'reset', '-q', '--hard', good);
    git(work, 'rm', '-q', 'deploy/web.yaml');
    const rewritten = commitFiles(work, { 'deploy/api.yaml': podYaml('shop-api') }, 'api');
    git(work, 'commit', '-q', '--amend', '-m', 'api instead of web');
    const amended = git(work, 'rev-parse', 'HEAD');
    expect(amended).not.toBe(rewritten);
    const forced = await runGit(work, 'push', '--force', remote, 'main');
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stderr).toContain('remote: 1 to create, 0 to update, 0 to replace, 1 to delete');
    await waitFor(
      async () => {
        const pods = await runningPods();
        return pods.length === 1 && pods[0] === 'shop-api';
      },
      `only shop-api running (serve stderr: ${started.stderr})`,
      60_000,
    );
    const after = await runGit(work, 'ls-remote', remote, 'refs/heads/main');
    expect(after.stdout.split(/\s+/)[0]).toBe(amended);

    // A clean stop leaves the pod running.
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(await runningPods()).toEqual(['shop-api']);
  });
});
