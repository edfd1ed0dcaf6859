/**
 * Every folder of examples/ as its README runs it: `berth apply examples/<topic>` (the built
 * command, the embedded operator on a temp data dir, a node name of its own, the real Docker
 * Engine), exit 0 with every pod ready, then one thing the README says to look at. The image is
 * `busybox:1.35`, built from Debian's busybox-static by images/ (no registry). Each test removes
 * the containers and engine volumes of its node.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, promises as fsp, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureImages } from '../../images/build.js';
import { LABELS } from '../../operator/agent/runtime.js';
import {
  containerOutput,
  docker,
  removeContainerIfPresent,
  uniqueTestName,
} from '../helpers/docker.js';
import { commitFiles, git, initRepo } from '../helpers/git-repo.js';
import { REPO_ROOT, runBerth } from '../helpers/run-berth.js';
import { waitFor } from '../helpers/wait.js';
import { acquireServeLock, dockerExec } from './harness.js';

const BIN = fileURLToPath(new URL('../../bin/berth.js', import.meta.url));
const EXAMPLES = path.join(REPO_ROOT, 'examples');
const IMAGE = 'busybox:1.35';
/** Where examples/volumes/gitrepo.yaml clones from (serve-git.mjs's default port). */
const GIT_PORT = 7071;
/** examples/volumes/hostpath.yaml's directory on the node. */
const HOSTPATH_DIR = '/var/lib/berth-examples/hostpath';
/** examples/service/whoami-nodeport-service.yaml's node port. */
const NODE_PORT = 30082;

const FOLDERS = readdirSync(EXAMPLES, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort();

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** One example applied: its node, data dir and the output of `berth apply`. */
interface Applied {
  readonly node: string;
  readonly dataDir: string;
  readonly run: Run;
}

let dir: string;
let release: (() => Promise<void>) | undefined;
/** The node of the running test, cleaned up after it. */
let current: string | undefined;
/** A git server the running test started. */
let gitServer: ChildProcess | undefined;
/** Made by the hostPath example (DirectoryOrCreate) unless the node had it already. */
const hostpathParentExisted = existsSync(path.dirname(HOSTPATH_DIR));

function apply(folder: string, node: string, dataDir: string): Promise<Run> {
  const child = spawn(
    process.execPath,
    [
      BIN,
      'apply',
      path.join(EXAMPLES, folder),
      '--data-dir',
      dataDir,
      '--node-name',
      node,
      '--timeout',
      '90s',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } },
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

async function applyExample(folder: string): Promise<Applied> {
  const node = uniqueTestName(`ex-${folder}`);
  current = node;
  const dataDir = path.join(dir, folder);
  const run = await apply(folder, node, dataDir);
  expect(run.stderr).not.toContain('not ready');
  expect(run.code, `berth apply examples/${folder}:\n${run.stdout}\n${run.stderr}`).toBe(0);
  expect(run.stdout).toMatch(/ready: \d+ pods?/);
  return { node, dataDir, run };
}

/** Running user containers of a node: pod name → container id (one container per pod). */
async function containersByPod(node: string, containerName?: string): Promise<Map<string, string>> {
  const list = await docker().listContainers({
    filters: {
      label: [
        `${LABELS.node}=${node}`,
        `${LABELS.role}=container`,
        ...(containerName === undefined ? [] : [`${LABELS.containerName}=${containerName}`]),
      ],
      status: ['running'],
    },
  });
  return new Map(list.map((c) => [c.Labels[LABELS.podName] ?? '', c.Id]));
}

async function containerOf(node: string, pod: string, containerName?: string): Promise<string> {
  const id = (await containersByPod(node, containerName)).get(pod);
  if (id === undefined) throw new Error(`no running container of pod ${pod} on ${node}`);
  return id;
}

async function logsOf(node: string, pod: string): Promise<string> {
  return (await containerOutput(docker(), await containerOf(node, pod))).stdout;
}

function berth(args: readonly string[], applied: Applied): string {
  const run = runBerth([...args, '--data-dir', applied.dataDir]);
  expect(run.status, run.stderr).toBe(0);
  return run.stdout;
}

/** One GET from this host; the body, or undefined when nothing answers. */
async function httpGet(url: string): Promise<string | undefined> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    return response.ok ? await response.text() : undefined;
  } catch {
    return undefined;
  }
}

/** Answers of `url` until every one of `expected` was seen (each answer is kept). */
async function answersUntil(url: string, expected: readonly string[]): Promise<Set<string>> {
  const seen = new Set<string>();
  await waitFor(
    async () => {
      const body = await httpGet(url);
      if (body !== undefined) seen.add(body.trim());
      return expected.every((answer) => seen.has(answer));
    },
    `${url} to answer ${expected.join(', ')}`,
    30_000,
  );
  return seen;
}

/** A bare repository `site.git` under `root` whose main branch holds index.html. */
function siteRepository(root: string, page: string): void {
  const work = initRepo(path.join(root, 'work'));
  commitFiles(work, { 'index.html': page }, 'first page');
  git(root, 'clone', '-q', '--bare', work, path.join(root, 'site.git'));
}

/** examples/volumes/serve-git.mjs on its default port, as the README starts it. */
async function startGitServer(root: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [path.join(EXAMPLES, 'volumes', 'serve-git.mjs'), root], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  gitServer = child;
  let output = '';
  child.stdout?.on('data', (chunk) => {
    output += String(chunk);
  });
  child.stderr?.on('data', (chunk) => {
    output += String(chunk);
  });
  await waitFor(
    () => {
      if (child.exitCode !== null) throw new Error(`serve-git.mjs exited: ${output}`);
      return output.includes(`http://127.0.0.1:${GIT_PORT}/git/`);
    },
    'serve-git.mjs to listen',
    10_000,
  );
  return child;
}

async function stopGitServer(): Promise<void> {
  const child = gitServer;
  gitServer = undefined;
  if (child === undefined || child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

/** Removes every container and engine volume of a node. */
async function removeNode(node: string): Promise<void> {
  const client = docker();
  const left = await client.listContainers({
    all: true,
    filters: { label: [`${LABELS.node}=${node}`] },
  });
  await Promise.all(left.map((container) => removeContainerIfPresent(client, container.Id)));
  const { Volumes: volumes } = await client.listVolumes({
    filters: { label: [`${LABELS.node}=${node}`] },
  });
  for (const volume of volumes ?? []) await client.getVolume(volume.Name).remove();
}

beforeAll(async () => {
  await ensureImages([IMAGE]);
  // Every agent writes the same BERTH chains and binds port 53: one e2e node at a time.
  release = await acquireServeLock();
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-examples-'));
}, 600_000);

afterEach(async () => {
  await stopGitServer();
  if (current !== undefined) await removeNode(current);
  current = undefined;
});

afterAll(async () => {
  await release?.();
  if (dir !== undefined) await fsp.rm(dir, { recursive: true, force: true });
  if (!hostpathParentExisted)
    await fsp.rm(path.dirname(HOSTPATH_DIR), { recursive: true, force: true });
});

/** What each folder's README says to look at, after `berth apply` of the folder. */
const CHECKS: Readonly<Record<string, (applied: Applied) => Promise<void>>> = {
  // Two containers share the volume and localhost: ask the server from the other container.
  'multi-container-pod': async ({ node, run }) => {
    expect(run.stdout).toMatch(/pod\/web-with-content Running 2\/2/);
    const puller = await containerOf(node, 'web-with-content', 'content-puller');
    const page = await dockerExec(puller, ['wget', '-qO-', 'http://localhost:8080/']);
    expect(page).toMatch(/^<p>written by content-puller at .+ UTC \d{4}<\/p>$/m);
  },

  volumes: async ({ node, run }) => {
    for (const pod of ['emptydir-scratch', 'emptydir-memory', 'hostpath-log', 'gitrepo-site']) {
      expect(run.stdout).toMatch(new RegExp(`pod/${pod} Running 1/1`));
    }
    // emptyDir: the counter's count of its starts, kept in the volume (one start so far).
    expect(
      await waitFor(async () => (await logsOf(node, 'emptydir-scratch')) || undefined, 'counter'),
    ).toContain('this container has started 1 time(s)');
    // medium: Memory: its /proc/mounts line, a tmpfs of sizeLimit 16Mi.
    const mount = await waitFor(
      async () => (await logsOf(node, 'emptydir-memory')) || undefined,
      'mount line',
    );
    expect(mount).toMatch(/^tmpfs \/cache tmpfs \S*size=16384k/m);
    // hostPath: the line the pod appended is in the node's own directory.
    const visits = await fsp.readFile(path.join(HOSTPATH_DIR, 'visits.log'), 'utf8');
    expect(visits).toMatch(/^pod hostpath-log started at /m);
    // gitRepo: the clone is what the web server serves.
    const site = await containerOf(node, 'gitrepo-site');
    expect(await dockerExec(site, ['wget', '-qO-', 'http://localhost:8080/index.html'])).toBe(
      '<h1>served from git</h1>\n',
    );
  },

  // The service sends traffic to the production front ends (stable and canary) only.
  'labels-selectors': async (applied) => {
    const services = JSON.parse(berth(['get', 'services', '-o', 'json'], applied)) as {
      items: { metadata: { name: string }; spec: { clusterIP?: string } }[];
    };
    const service = services.items.find((item) => item.metadata.name === 'frontend-production');
    const clusterIP = service?.spec.clusterIP;
    expect(clusterIP).toMatch(/^10\.96\.\d+\.\d+$/);
    const seen = await answersUntil(`http://${clusterIP}/`, [
      'frontend-production-stable: environment=production tier=frontend track=stable',
      'frontend-production-canary: environment=production tier=frontend track=canary',
    ]);
    expect([...seen].filter((answer) => /qa|backend/.test(answer))).toEqual([]);
    expect(berth(['get', 'endpoints'], applied)).toMatch(
      /frontend-production\s+\S+:8080,\S+:8080\s/,
    );
  },

  // Three replicas, each serving its own name.
  'replication-controller': async (applied) => {
    expect(berth(['get', 'rc'], applied)).toMatch(/^hello\s+3\s+3\s+3\s/m);
    const pods = await containersByPod(applied.node);
    const names = [...pods.keys()].filter((name) => /^hello-[a-z0-9]{5}$/.test(name)).sort();
    expect(names).toHaveLength(3);
    for (const name of names) {
      const page = await dockerExec(pods.get(name)!, ['wget', '-qO-', 'http://localhost:8080/']);
      expect(page).toBe(`hello from ${name}\n`);
    }
  },

  // The NodePort answers on the host, from both pods.
  service: async (applied) => {
    const pods = [...(await containersByPod(applied.node)).keys()].filter((name) =>
      /^whoami-[a-z0-9]{5}$/.test(name),
    );
    expect(pods).toHaveLength(2);
    const seen = await answersUntil(
      `http://127.0.0.1:${NODE_PORT}/`,
      pods.map((pod) => `served by ${pod}`),
    );
    expect([...seen].sort()).toEqual(pods.map((pod) => `served by ${pod}`).sort());
  },
};

describe('examples/ with berth apply on the Docker Engine', () => {
  it('has a check for every folder of examples/', () => {
    expect(Object.keys(CHECKS).sort()).toEqual(FOLDERS);
  });

  for (const folder of FOLDERS) {
    it(`${folder}: applied, every pod ready, what its README shows`, async () => {
      const check = CHECKS[folder];
      if (check === undefined) throw new Error(`no check for examples/${folder}`);
      if (folder === 'volumes') {
        const root = path.join(dir, 'git');
        siteRepository(root, '<h1>served from git</h1>\n');
        await startGitServer(root);
      }
      await check(await applyExample(folder));
    }, 240_000);
  }
});
