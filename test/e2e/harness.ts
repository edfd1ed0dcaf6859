/**
 * End-to-end tests as users run berth: the built `berth serve` (operator and its local agent)
 * on a temp data dir and a free port, apps pushed to it with the real `git` client, pods read
 * from the operator's API and containers from the real Docker Engine. `startServe` gives one
 * server with its own node name; `stop()` ends it and removes every container of that node.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { acquireMachineLock } from '../../images/machine-lock.js';
import type { PodStatusReport } from '../../operator/agent/lifecycle/status-types.js';
import { LABELS } from '../../operator/agent/runtime.js';
import { connectDaemon, connectOperatorServer } from '../../operator/api/operator-client.js';
import type { AppStatus } from '../../operator/daemon/status.js';
import type { Pod } from '../../operator/model/generated/types.js';
import type { OperatorReadout } from '../../operator/operator/session.js';
import { docker, removeContainerIfPresent, uniqueTestName } from '../helpers/docker.js';
import { GIT_TEST_ENV, git } from '../helpers/git-repo.js';
import { waitFor } from '../helpers/wait.js';
import { otherBerthProcesses } from '../no-other-berth.js';

const BIN = fileURLToPath(new URL('../../bin/berth.js', import.meta.url));

/** The default service range of `berth serve` (its sink route is left for the next agent). */
const DEFAULT_SERVICE_CIDR = '10.96.0.0/16';

export interface GitRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs git without blocking this process (serve's pipes keep draining meanwhile). */
export function runGit(cwd: string, ...args: string[]): Promise<GitRun> {
  return new Promise((resolve) => {
    execFile(
      'git',
      args,
      { cwd, encoding: 'utf8', maxBuffer: 1 << 26, env: { ...process.env, ...GIT_TEST_ENV } },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** A pod as the operator sees it: what it asked for and what the node's agent reported. */
export interface E2ePod {
  readonly namespace: string;
  readonly name: string;
  readonly node: string;
  readonly labels: Readonly<Record<string, string>>;
  /** The images of the pod's containers, as the pod asks for them. */
  readonly images: readonly string[];
  readonly phase: string | undefined;
  readonly ready: boolean;
  readonly podIP: string | undefined;
  /** `docker://<id>` of each container that has one, as the agent reported. */
  readonly containerIDs: readonly string[];
  readonly pod: Pod;
}

/** A container of the serve's node, as Docker lists it. */
export interface NodeContainer {
  readonly id: string;
  readonly pod: string;
  /** The pod container's name (`''` for a sandbox). */
  readonly container: string;
  readonly role: string;
  readonly state: string;
  readonly image: string;
}

export interface ServeOptions {
  /** Prefix of the node name and temp dir. */
  readonly name: string;
  /** `--service-cidr`; the default range when absent. */
  readonly serviceCidr?: string;
  /** More `berth serve` flags. */
  readonly args?: readonly string[];
}

export interface Serve {
  readonly url: string;
  readonly token: string;
  readonly node: string;
  /** The temp dir of this server (data dir and work repos below it). */
  readonly dir: string;
  readonly dataDir: string;
  readonly child: ChildProcess;
  /** What serve wrote so far (for failure messages). */
  output(): { stdout: string; stderr: string };
  /** The push URL of an app, token included (`http://x:TOKEN@host:port/git/APP.git`). */
  remote(app: string): string;
  readout(): Promise<OperatorReadout>;
  /** Every pod the operator assigned, with its last reported status. */
  pods(): Promise<E2ePod[]>;
  app(name: string): Promise<AppStatus>;
  /** Waits until the app is Synced and Healthy, at `commit` when given; its status then. */
  waitForApp(name: string, options?: { commit?: string; timeoutMs?: number }): Promise<AppStatus>;
  /** Containers of this server's node, all states. */
  containers(): Promise<NodeContainer[]>;
  /** Stops serve (SIGTERM, SIGKILL after a deadline), removes its node's containers and its dir. */
  stop(): Promise<void>;
}

/**
 * One e2e server at a time on this machine, across processes: every agent's service proxy
 * writes the same BERTH chains and its DNS binds port 53 on the bridge, so two at once would
 * take each other's node ports and names. A lock directory holding the owner's pid; a lock
 * whose owner died is taken over.
 */
const SERVE_LOCK_NAME = 'berth-e2e-serve.lock';
const SERVE_LOCK_WAIT_MS = 20 * 60_000;

/**
 * Takes the machine's e2e serve lock (waiting while another process holds it); the function
 * returned releases it. startServe takes it itself; other code that runs a berth agent with
 * services on this machine (a bench, a hand-started serve) can take it too.
 */
export function acquireServeLock(): Promise<() => Promise<void>> {
  return acquireMachineLock({
    name: SERVE_LOCK_NAME,
    waitMs: SERVE_LOCK_WAIT_MS,
    timeoutError: (lockDir) =>
      new Error(`another e2e berth serve held ${lockDir} for ${SERVE_LOCK_WAIT_MS} ms`),
    onWait: (lockDir) =>
      console.log(`waiting for ${lockDir}: another e2e berth serve runs on this machine`),
  });
}

/**
 * Starts `berth serve` on a fresh temp data dir, a free port and a unique node name, once no
 * other e2e server runs on this machine.
 */
export async function startServe(options: ServeOptions): Promise<Serve> {
  const release = await acquireServeLock();
  try {
    // An agent outside this lock (a bench, a hand-started serve) may hold the cluster DNS
    // port: this server would run without DNS, so wait for the port instead.
    await waitForDnsPort();
    return await startServeLocked(options, release);
  } catch (error) {
    await release();
    throw error;
  }
}

/** The default bridge's gateway, where an agent's cluster DNS listens. */
async function bridgeGateway(): Promise<string | undefined> {
  const bridge = await docker().getNetwork('bridge').inspect();
  const config = (bridge as { IPAM?: { Config?: { Gateway?: string }[] } }).IPAM?.Config ?? [];
  return config.find((c) => c.Gateway !== undefined)?.Gateway;
}

function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket('udp4');
    socket.once('error', () => {
      socket.close();
      resolve(false);
    });
    socket.bind(port, host, () => socket.close(() => resolve(true)));
  });
}

/** Waits (up to the lock's wait) until no process holds port 53 on the bridge gateway. */
async function waitForDnsPort(): Promise<void> {
  const gateway = await bridgeGateway();
  if (gateway === undefined) return;
  if (await portFree(gateway, 53)) return;
  console.log(`waiting for ${gateway}:53: another berth agent's DNS holds it`);
  // Looked at once a second: each look binds the port for an instant, which another agent
  // starting right then would find taken.
  await waitFor(
    () => portFree(gateway, 53),
    `${gateway}:53 to be free (berth agents: ${JSON.stringify(await otherBerthAgents())})`,
    SERVE_LOCK_WAIT_MS,
    1_000,
  );
}

async function startServeLocked(
  options: ServeOptions,
  release: () => Promise<void>,
): Promise<Serve> {
  const node = uniqueTestName(options.name);
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), `berth-${options.name}-`));
  const dataDir = path.join(dir, 'operator');
  const args = [
    BIN,
    'serve',
    '--listen',
    '127.0.0.1:0',
    '--data-dir',
    dataDir,
    '--node-name',
    node,
    ...(options.serviceCidr === undefined ? [] : ['--service-cidr', options.serviceCidr]),
    ...(options.args ?? []),
  ];
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1' },
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk) => {
    stdout += String(chunk);
  });
  child.stderr?.on('data', (chunk) => {
    stderr += String(chunk);
  });
  const output = () => ({ stdout, stderr });

  const containers = async (): Promise<NodeContainer[]> => {
    const list = await docker().listContainers({
      all: true,
      filters: { label: [`${LABELS.node}=${node}`] },
    });
    return list.map((c) => ({
      id: c.Id,
      pod: c.Labels[LABELS.podName] ?? '',
      container: c.Labels[LABELS.containerName] ?? '',
      role: c.Labels[LABELS.role] ?? '',
      state: c.State,
      image: c.Image,
    }));
  };

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    try {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
        await exited;
        clearTimeout(timer);
      }
    } finally {
      for (const c of await containers()) await removeContainerIfPresent(docker(), c.id);
      const cidr = options.serviceCidr;
      if (cidr !== undefined && cidr !== DEFAULT_SERVICE_CIDR) {
        // The sink route of the test's own range; the chains stay for the next agent to rewrite.
        const routes = await runCommand('ip', ['-4', '-o', 'route', 'show', cidr]);
        if (routes.trim() !== '') await runCommand('ip', ['route', 'del', cidr]);
      }
      await fsp.rm(dir, { recursive: true, force: true });
      await release();
    }
  };

  let url: string;
  let token: string;
  try {
    url = (
      await waitFor(
        () => {
          if (child.exitCode !== null) {
            throw new Error(`berth serve exited ${child.exitCode}: ${stderr}`);
          }
          return /operator at (http:\/\/127\.0\.0\.1:\d+) /.exec(stdout);
        },
        `the served URL (stderr: ${stderr})`,
        30_000,
      )
    )[1]!;
    token = (await fsp.readFile(path.join(dataDir, 'token'), 'utf8')).trim();
  } catch (error) {
    await stop();
    throw error;
  }
  const address = { url, token, timeoutMs: 30_000 };
  const session = connectOperatorServer(address);
  const daemon = connectDaemon(address);

  const pods = async (): Promise<E2ePod[]> => podsOf(await session.read());

  return {
    url,
    token,
    node,
    dir,
    dataDir,
    child,
    output,
    remote: (app) => `${url.replace('http://', `http://x:${token}@`)}/git/${app}.git`,
    readout: () => session.read(),
    pods,
    app: (name) => daemon.app(name),
    async waitForApp(name, waitOptions = {}) {
      let last: AppStatus | undefined;
      try {
        return await waitFor(
          async () => {
            last = await daemon.app(name).catch(() => undefined);
            if (last === undefined) return undefined;
            if (
              waitOptions.commit !== undefined &&
              last.lastApplied?.commit !== waitOptions.commit
            ) {
              return undefined;
            }
            return last.sync === 'Synced' && last.health === 'Healthy' ? last : undefined;
          },
          `app ${name} Synced and Healthy${waitOptions.commit === undefined ? '' : ` at ${waitOptions.commit}`}`,
          waitOptions.timeoutMs ?? 120_000,
        );
      } catch (error) {
        throw new Error(
          `${(error as Error).message}\nstatus: ${JSON.stringify(last)}\nserve stderr (tail): ${stderr.slice(-4000)}`,
        );
      }
    },
    containers,
    stop,
  };
}

/**
 * The pods of a readout: assignments joined with the status their node reported for that pod
 * (same name and uid: while a pod is replaced, its node reports the old one, being removed,
 * under the same name).
 */
export function podsOf(readout: OperatorReadout): E2ePod[] {
  const reported = new Map<string, OperatorReadout['nodes'][number]['pods'][number][]>();
  for (const node of readout.nodes) {
    for (const report of node.pods) {
      const key = `${report.namespace}/${report.name}`;
      reported.set(key, [...(reported.get(key) ?? []), report]);
    }
  }
  return readout.assignments.map((assignment) => {
    const pod = assignment.pod as Pod;
    const uid = pod.metadata?.uid;
    const report = reported
      .get(assignment.podKey)
      ?.find((entry) => uid === undefined || entry.uid === uid);
    // The wire carries the generated, loosely typed PodStatus; agents send this shape.
    const status = report?.status as PodStatusReport | undefined;
    const [namespace = '', name = ''] = assignment.podKey.split('/');
    return {
      namespace,
      name,
      node: assignment.node,
      labels: pod.metadata?.labels ?? {},
      images: pod.spec.containers.map((c) => c.image ?? ''),
      phase: status?.phase,
      ready:
        status?.phase === 'Running' &&
        (status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'),
      podIP: status?.podIP,
      containerIDs: (status?.containerStatuses ?? []).flatMap((c) =>
        c.containerID === undefined ? [] : [c.containerID],
      ),
      pod,
    };
  });
}

/** True when every label of `selector` is on the pod. */
export function hasLabels(pod: E2ePod, selector: Readonly<Record<string, string>>): boolean {
  return Object.entries(selector).every(([key, value]) => pod.labels[key] === value);
}

/**
 * A working tree holding a copy of `source` (a folder of manifests), committed on main:
 * the repository a user would push. Returns the tree's path and the commit.
 */
export async function repoFromDirectory(
  source: string,
  target: string,
  message = 'initial',
): Promise<{ dir: string; commit: string }> {
  await fsp.mkdir(target, { recursive: true });
  await fsp.cp(source, target, { recursive: true });
  git(target, 'init', '-q', '-b', 'main');
  git(target, 'add', '-A');
  git(target, 'commit', '-q', '-m', message);
  return { dir: target, commit: git(target, 'rev-parse', 'HEAD') };
}

/**
 * Rewrites one file of the working tree with `edit` and commits it; fails when the edit
 * changed nothing (a test that meant to change something would otherwise pass vacuously).
 */
export async function commitEdit(
  dir: string,
  file: string,
  edit: (text: string) => string,
  message: string,
): Promise<string> {
  const target = path.join(dir, file);
  const before = await fsp.readFile(target, 'utf8');
  const after = edit(before);
  if (after === before) throw new Error(`the edit of ${file} changed nothing`);
  await fsp.writeFile(target, after);
  git(dir, 'add', '-A');
  git(dir, 'commit', '-q', '-m', message);
  return git(dir, 'rev-parse', 'HEAD');
}

/** `git push remote main`; throws with git's output when the push is refused. */
export async function pushRepo(dir: string, remote: string, branch = 'main'): Promise<GitRun> {
  const pushed = await runGit(dir, 'push', remote, branch);
  if (pushed.code !== 0) {
    throw new Error(`git push failed (exit ${pushed.code}):\n${pushed.stderr}`);
  }
  return pushed;
}

function runCommand(command: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { encoding: 'utf8', timeout: 30_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${command} ${args.join(' ')}: ${stderr || error.message}`));
      else resolve(stdout);
    });
  });
}

/** `docker exec` in a container; its stdout (throws with stderr on a non-zero exit). */
export function dockerExec(container: string, command: readonly string[]): Promise<string> {
  return runCommand('docker', ['exec', container, ...command]);
}

/**
 * Other `berth serve` and `berth agent` processes on this machine (not `ownPid`): each runs a
 * service proxy that rewrites the same BERTH chains, so a node port can vanish under a test
 * while one runs. For failure messages: `pid args` per process.
 */
export async function otherBerthAgents(ownPid?: number): Promise<string[]> {
  return otherBerthProcesses()
    .filter((other) => other.pid !== ownPid)
    .map((other) => `${other.pid} ${other.command}`);
}

/** Samples otherBerthAgents every `everyMs` until `stop()`, which gives every one seen. */
export function watchOtherBerthAgents(
  ownPid?: number,
  everyMs = 500,
): { stop(): Promise<string[]> } {
  const seen = new Set<string>();
  let running = true;
  const loop = (async () => {
    while (running) {
      for (const line of await otherBerthAgents(ownPid)) seen.add(line);
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return [...seen];
    },
  };
}
