/**
 * Issue-6 benchmarks, the watch-mode daemon:
 * - `git push` into the built `berth serve` (its local agent on the real Docker Engine), 20
 *   pushes of a one-Pod repository whose env changes each commit: from the push returning to
 *   the sync starting (the sync history's startedAt; the sync starts inside post-receive, so it
 *   can precede the push's return: such times are negative), and from the new pod's container
 *   start (docker's State.StartedAt) to the readout API reporting the pod Running (polled every
 *   20 ms);
 * - a no-change reconcile pass of an app of 1,000 objects (500 Services, 500 Pods on 10 fake
 *   Ready nodes, every pod Running and Ready, store-backed state) in this process: CPU time per
 *   pass, against planChanges alone on the same objects (`BENCH_RECONCILE_PASSES` passes,
 *   default 30);
 * - the idle daemon after the pushes: CPU of `berth serve` over 30 s from /proc, against an
 *   idle `node -e "setInterval(...)"` over the same 30 s. `BENCH_SERVE_CPU_PROF=<dir>` runs
 *   berth serve under `node --cpu-prof` (its profile is written there when it stops).
 */
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { systemClock } from '../operator/agent/lifecycle/clock.js';
import { LABELS } from '../operator/agent/runtime.js';
import { createNodeClient, type NodeClient } from '../operator/api/node-client.js';
import { createNodeEndpoint } from '../operator/api/node-endpoint.js';
import type { PodReport } from '../operator/api/protocol.js';
import { createEngine } from '../operator/engine/engine.js';
import { createStoreState } from '../operator/engine/store-state.js';
import { processFile } from '../operator/manifests/load.js';
import { DEFAULT_PARSE_LIMITS, type ManifestObject } from '../operator/manifests/types.js';
import {
  type DesiredObject,
  isPlanRefusal,
  type LiveObject,
  planChanges,
} from '../operator/plan/plan.js';
import { openStore, type PodAssignment } from '../operator/store/store.js';
import { docker, removeContainerIfPresent } from '../test/helpers/docker.js';
import { ensureTestImage, TEST_IMAGE } from '../test/helpers/docker-images.js';
import { commitFiles, GIT_TEST_ENV, initRepo } from '../test/helpers/git-repo.js';
import { ms, printVerdicts, type Verdict } from './harness.js';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = path.join(REPO_ROOT, 'bin', 'berth.js');
const APP = 'benchpush';
const POD = 'benchpush-web';
const PUSHES = Number(process.env.BENCH_PUSHES ?? 20);
const POLL_MS = 20;
/** A directory: berth serve runs under `node --cpu-prof` and writes its profile there. */
const SERVE_CPU_PROF = process.env.BENCH_SERVE_CPU_PROF;
const DEADLINE_MS = 120_000;
const IDLE_SECONDS = 30;
/** After the last change, before the idle measure starts. */
const SETTLE_MS = 5_000;
const SYNC_START_TARGET_MS = 100;
const RUNNING_TARGET_MS = 300;

const RECONCILE_NODES = 10;
const RECONCILE_PAIRS = 500;
const RECONCILE_PASSES = Number(process.env.BENCH_RECONCILE_PASSES ?? 30);
const RECONCILE_TARGET_MS = 20;
const TOKEN = 'bench-daemon';

// --- small helpers ---------------------------------------------------------------------------

const sorted = (values: readonly number[]): number[] => [...values].sort((a, b) => a - b);
const median = (values: readonly number[]): number =>
  sorted(values)[Math.floor(values.length / 2)] ?? Number.NaN;
/** Nearest-rank p90. */
const p90 = (values: readonly number[]): number =>
  sorted(values)[Math.max(0, Math.ceil(values.length * 0.9) - 1)] ?? Number.NaN;

async function until<T>(what: string, probe: () => Promise<T | undefined>, every = 100) {
  const deadline = Date.now() + DEADLINE_MS;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`bench: timed out waiting for ${what}`);
    await delay(every);
  }
}

/** Wall-clock ms of an RFC 3339 time with up to nanoseconds (docker's), to the millisecond. */
function parseTime(text: string): number {
  const value = Date.parse(text.replace(/(\.\d{3})\d+/, '$1'));
  if (!Number.isFinite(value)) throw new Error(`bench: cannot read the time "${text}"`);
  return value;
}

/** Newest modification time of the TypeScript sources the built command comes from. */
function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(full));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(full).mtimeMs);
  }
  return newest;
}

/** The built command; builds dist/ when it is missing or older than the sources. */
function ensureBuilt(): void {
  const main = path.join(REPO_ROOT, 'dist', 'cli', 'main.js');
  if (
    existsSync(main) &&
    statSync(main).mtimeMs >= newestSource(path.join(REPO_ROOT, 'operator'))
  ) {
    return;
  }
  const build = spawnSync('npm', ['run', 'build'], { cwd: REPO_ROOT, encoding: 'utf8' });
  if (build.status !== 0 && !existsSync(main)) {
    throw new Error(`npm run build failed:\n${build.stdout}${build.stderr}`);
  }
}

/** user + system CPU of a process so far, in seconds, from /proc/<pid>/stat. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces; fields after its ')' are space-separated.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15, the 12th and 13th after the name.
  const ticks = Number(fields[11]) + Number(fields[12]);
  const hz = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
  return ticks / hz;
}

function gitPush(cwd: string, remote: string): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      'git',
      ['push', '-q', remote, 'main'],
      { cwd, encoding: 'utf8', env: { ...process.env, ...GIT_TEST_ENV } },
      (error, _stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
        resolve({ code, stderr });
      },
    );
  });
}

function podYaml(round: number): string {
  return `apiVersion: v1
kind: Pod
metadata:
  name: ${POD}
  labels: {app: ${POD}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: main
      image: ${TEST_IMAGE}
      imagePullPolicy: Never
      command: ["sleep", "3600"]
      env:
        - {name: BENCH_ROUND, value: "${round}"}
`;
}

/** The v1 pod as the readout holds it, read loosely. */
interface ReadPod {
  status?: {
    phase?: string;
    containerStatuses?: { containerID?: string; state?: { running?: unknown } }[];
  };
}

// --- the daemon ------------------------------------------------------------------------------

class Daemon {
  private serve: ChildProcess | undefined;
  private serveOut = '';
  private serveErr = '';
  readonly dir = mkdtempSync(path.join(os.tmpdir(), 'berth-bench-daemon-'));
  readonly dataDir = path.join(this.dir, 'data');
  readonly node = `bench-push-${process.pid}`;
  url = '';
  token = '';

  /** What berth serve wrote to stderr so far. */
  get log(): string {
    return this.serveErr;
  }

  get pid(): number {
    const pid = this.serve?.pid;
    if (pid === undefined) throw new Error('bench: berth serve is not running');
    return pid;
  }

  async start(): Promise<void> {
    this.serve = spawn(
      process.execPath,
      [
        ...(SERVE_CPU_PROF === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${SERVE_CPU_PROF}`]),
        BIN,
        'serve',
        '--listen',
        '127.0.0.1:0',
        '--data-dir',
        this.dataDir,
        '--node-name',
        this.node,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } },
    );
    this.serve.stdout?.on('data', (chunk) => {
      this.serveOut += String(chunk);
    });
    this.serve.stderr?.on('data', (chunk) => {
      this.serveErr += String(chunk);
    });
    this.url = await until(`berth serve to listen (stderr: ${this.serveErr})`, async () => {
      return /operator at (http:\/\/127\.0\.0\.1:\d+) /.exec(this.serveOut)?.[1];
    });
    this.token = readFileSync(path.join(this.dataDir, 'token'), 'utf8').trim();
  }

  get remote(): string {
    return `${this.url.replace('http://', `http://x:${this.token}@`)}/git/${APP}.git`;
  }

  /** The pod's assignment as the readout API has it now. */
  async pod(): Promise<ReadPod | undefined> {
    const response = await fetch(`${this.url}/api/v1/readout`, {
      headers: { authorization: `Bearer ${this.token}` },
    });
    if (!response.ok) throw new Error(`bench: readout answered ${response.status}`);
    const readout = (await response.json()) as { assignments: PodAssignment[] };
    return readout.assignments.find((a) => a.podKey === `default/${POD}`)?.pod as
      | ReadPod
      | undefined;
  }

  /** Docker's view of a container: its env and start time (undefined when it is gone). */
  async container(id: string): Promise<{ env: readonly string[]; startedAt: number } | undefined> {
    try {
      const info = await docker().getContainer(id).inspect();
      const started = info.State.StartedAt;
      return {
        env: info.Config.Env ?? [],
        startedAt: started.startsWith('0001-') ? Number.NaN : parseTime(started),
      };
    } catch {
      return undefined;
    }
  }

  async stop(): Promise<void> {
    const serve = this.serve;
    if (serve !== undefined && serve.exitCode === null && serve.signalCode === null) {
      const exited = new Promise((resolve) => serve.once('exit', resolve));
      serve.kill('SIGTERM');
      await Promise.race([exited, delay(30_000)]);
      if (serve.exitCode === null && serve.signalCode === null) serve.kill('SIGKILL');
    }
  }

  async cleanUp(): Promise<void> {
    try {
      await this.stop();
    } finally {
      const client = docker();
      const list = await client.listContainers({
        all: true,
        filters: { label: [`${LABELS.node}=${this.node}`] },
      });
      for (const c of list) await removeContainerIfPresent(client, c.Id);
      rmSync(this.dir, { recursive: true, force: true });
    }
  }
}

interface PushSample {
  readonly commit: string;
  /** Wall-clock ms when `git push` exited. */
  readonly pushedAt: number;
  /** From the container's start to the first poll that saw the pod Running. */
  readonly runningMs: number;
}

/** One push of round `round`, followed until its pod runs. */
async function push(daemon: Daemon, work: string, round: number): Promise<PushSample> {
  const commit = commitFiles(work, { 'deploy/web.yaml': podYaml(round) }, `round ${round}`);
  const pushed = await gitPush(work, daemon.remote);
  const pushedAt = Date.now();
  if (pushed.code !== 0) throw new Error(`bench: git push exited ${pushed.code}: ${pushed.stderr}`);
  let last: ReadPod | undefined;
  // Until the agent reports the new container, the pod's status may still be the old one's.
  const containers = new Map<string, Awaited<ReturnType<Daemon['container']>>>();
  const { startedAt, seenAt } = await until(
    `pod of round ${round} Running`,
    async () => {
      const pod = await daemon.pod();
      const seenAt = Date.now();
      last = pod;
      const status = pod?.status?.containerStatuses?.[0];
      const id = status?.containerID?.replace(/^docker:\/\//, '');
      if (pod?.status?.phase !== 'Running' || status?.state?.running === undefined || !id) {
        return undefined;
      }
      if (!containers.has(id)) containers.set(id, await daemon.container(id));
      const container = containers.get(id);
      return container?.env.includes(`BENCH_ROUND=${round}`) === true
        ? { startedAt: container.startedAt, seenAt }
        : undefined;
    },
    POLL_MS,
  ).catch((error: unknown) => {
    throw new Error(
      `${error instanceof Error ? error.message : String(error)}; the readout holds ` +
        `${JSON.stringify(last)}; berth serve logged:\n${daemon.log.slice(-4000)}`,
    );
  });
  return { commit, pushedAt, runningMs: seenAt - startedAt };
}

async function idleCpu(daemon: Daemon): Promise<{ serve: number; baseline: number }> {
  const idle = spawn(process.execPath, ['-e', 'setInterval(()=>{},1000)'], { stdio: 'ignore' });
  try {
    const idlePid = idle.pid;
    if (idlePid === undefined) throw new Error('bench: the idle node did not start');
    // Past the baseline's start-up.
    await delay(2_000);
    const before = { serve: cpuSeconds(daemon.pid), baseline: cpuSeconds(idlePid) };
    const start = performance.now();
    await delay(IDLE_SECONDS * 1000);
    const seconds = (performance.now() - start) / 1000;
    const after = { serve: cpuSeconds(daemon.pid), baseline: cpuSeconds(idlePid) };
    return {
      serve: ((after.serve - before.serve) / seconds) * 100,
      baseline: ((after.baseline - before.baseline) / seconds) * 100,
    };
  } finally {
    idle.kill('SIGKILL');
  }
}

async function benchPushes(): Promise<Verdict[]> {
  await ensureTestImage(docker());
  ensureBuilt();
  const daemon = new Daemon();
  try {
    await daemon.start();
    const work = initRepo(path.join(daemon.dir, 'work'));
    // Round 0 makes the app and its first pod; not measured.
    await push(daemon, work, 0);
    const samples: PushSample[] = [];
    for (let round = 1; round <= PUSHES; round += 1) samples.push(await push(daemon, work, round));

    // The app synced and the replaced pods' containers gone: nothing changes, the daemon idles.
    await until('the replaced pods cleaned up', async () => {
      const list = await docker().listContainers({
        all: true,
        filters: { label: [`${LABELS.node}=${daemon.node}`] },
      });
      // The running pod's sandbox and container.
      return list.length <= 2 ? true : undefined;
    });
    await delay(SETTLE_MS);
    const cpu = await idleCpu(daemon);

    await daemon.stop();
    const store = openStore(daemon.dataDir);
    const history = (() => {
      try {
        return store.syncHistory(APP, 200);
      } finally {
        store.close();
      }
    })();
    const syncStartMs = samples.map((sample) => {
      const record = history.find((r) => r.commit === sample.commit);
      if (record === undefined) throw new Error(`bench: no sync of ${sample.commit} recorded`);
      return parseTime(record.startedAt) - sample.pushedAt;
    });
    const runningMs = samples.map((s) => s.runningMs);
    const spread = (values: readonly number[]) =>
      `median ${ms(median(values))}, p90 ${ms(p90(values))}, ` +
      `min ${ms(sorted(values)[0] ?? Number.NaN)}, max ${ms(sorted(values).at(-1) ?? Number.NaN)}`;
    const verdicts: Verdict[] = [
      {
        name: `git push returned -> sync started (${PUSHES} pushes)`,
        figure: `${spread(syncStartMs)} (negative: started before the push returned)`,
        target: `median < ${SYNC_START_TARGET_MS} ms`,
        met: median(syncStartMs) < SYNC_START_TARGET_MS,
      },
      {
        name: `container started -> pod reported Running (${PUSHES} pushes)`,
        figure: `${spread(runningMs)} (polled every ${POLL_MS} ms)`,
        target: `median <= ${RUNNING_TARGET_MS} ms`,
        met: median(runningMs) <= RUNNING_TARGET_MS,
      },
      {
        name: `idle berth serve CPU over ${IDLE_SECONDS} s, one app synced`,
        figure: `${cpu.serve.toFixed(2)}% of one core (idle node baseline ${cpu.baseline.toFixed(2)}%)`,
        target: '< 1%',
        met: cpu.serve < 1,
      },
    ];
    return verdicts;
  } finally {
    await daemon.cleanUp();
  }
}

// --- reconcile of 1,000 objects --------------------------------------------------------------

function reconcileObjects(): ManifestObject[] {
  const documents: string[] = [];
  for (let i = 0; i < RECONCILE_PAIRS; i += 1) {
    documents.push(`apiVersion: v1
kind: Pod
metadata:
  name: web-${i}
  labels: {app: web-${i}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: main
      image: ${TEST_IMAGE}
      command: [sleep, "3600"]
      ports: [{containerPort: 8080, name: http}]
      resources:
        requests: {cpu: 10m, memory: 16Mi}
---
apiVersion: v1
kind: Service
metadata:
  name: web-${i}
spec:
  selector: {app: web-${i}}
  ports: [{name: http, port: 80, targetPort: http}]
`);
  }
  const result = processFile(
    'bench.yaml',
    new TextEncoder().encode(documents.join('---\n')),
    DEFAULT_PARSE_LIMITS,
  );
  if (result.problems.length > 0) {
    throw new Error(`bench manifests are invalid: ${JSON.stringify(result.problems[0])}`);
  }
  return [...result.objects];
}

function runningReport(
  pod: { metadata: { namespace?: string; name?: string; uid?: string } },
  index: number,
  startedAt: string,
): PodReport {
  return {
    namespace: pod.metadata.namespace ?? 'default',
    name: pod.metadata.name ?? '',
    uid: pod.metadata.uid ?? '',
    status: {
      phase: 'Running',
      conditions: [
        { type: 'Initialized', status: 'True' },
        { type: 'Ready', status: 'True' },
      ],
      hostIP: '127.0.0.1',
      podIP: `10.88.${Math.floor(index / 250)}.${(index % 250) + 2}`,
      startTime: startedAt,
      containerStatuses: [
        {
          name: 'main',
          state: { running: { startedAt } },
          lastState: {},
          ready: true,
          restartCount: 0,
          image: TEST_IMAGE,
          imageID:
            'docker://sha256:0000000000000000000000000000000000000000000000000000000000000000',
          containerID: `docker://${index.toString(16).padStart(64, '0')}`,
        },
      ],
    },
  };
}

/**
 * A long synchronous sync can outlast the node server's keep-alive, so a reused connection may
 * be reset: such a call is made again.
 */
async function retried<T>(call: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await call();
    } catch (error) {
      if (attempt >= 3) throw error;
    }
  }
}

/** CPU ms (user + system) of `body`, once. */
function cpuMs(body: () => unknown): number {
  const before = process.cpuUsage();
  body();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000;
}

async function benchReconcile(): Promise<Verdict[]> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'berth-bench-reconcile-'));
  const store = openStore(dataDir);
  const endpoint = createNodeEndpoint({ token: TOKEN, now: () => systemClock.now() });
  const server = await endpoint.listen('127.0.0.1', 0);
  try {
    const state = createStoreState(store, {
      now: () => new Date(systemClock.now()).toISOString(),
    });
    const engine = createEngine({ endpoint, state, clock: systemClock, random: Math.random });
    const clients: NodeClient[] = [];
    for (let i = 0; i < RECONCILE_NODES; i += 1) {
      const client = createNodeClient({ server: server.url, token: TOKEN, name: `node-${i}` });
      await client.register({ labels: {}, capacity: { cpu: 64, memoryBytes: 256 * 2 ** 30 } });
      clients.push(client);
    }
    const objects = reconcileObjects();
    const synced = engine.sync('bench', objects);
    if (synced.refused !== undefined) throw new Error(`sync refused: ${synced.refused.code}`);
    // Every fake node runs what it was given: Running and Ready.
    const startedAt = new Date(systemClock.now()).toISOString();
    let index = 0;
    let pods = 0;
    for (const client of clients) {
      const assigned = await retried(() => client.watchAssignments('', 0));
      const reports = assigned.pods.map((pod) => runningReport(pod, index++, startedAt));
      await retried(() => client.reportStatus(reports));
      pods += assigned.pods.length;
    }
    if (pods !== RECONCILE_PAIRS)
      throw new Error(`bench: ${pods} pods assigned, not ${RECONCILE_PAIRS}`);
    // The nodes heard from now: a slow set-up must not leave them NotReady for the passes.
    for (const client of clients) await retried(() => client.heartbeat());
    // The first passes store the reported statuses; the rest change nothing.
    for (let i = 0; i < 3; i += 1) engine.reconcile();
    const passes: number[] = [];
    for (let i = 0; i < RECONCILE_PASSES; i += 1) {
      let changed = 0;
      passes.push(
        cpuMs(() => {
          const result = engine.reconcile();
          changed = result.reports.filter(
            (r) => r.action !== 'unchanged' && r.action !== 'scheduled',
          ).length;
        }),
      );
      if (changed > 0) throw new Error(`bench: a no-change pass reported ${changed} changes`);
    }

    // Baseline: the plan alone, of the same objects against what the store holds for them.
    const inventory = store.inventory('bench');
    const live: LiveObject[] = inventory.map((entry) => ({
      kind: entry.ref.kind as LiveObject['kind'],
      object: entry.applied as LiveObject['object'],
    }));
    const keys = new Set(inventory.map((entry) => entry.key));
    const desired: DesiredObject[] = objects.map((o) => ({
      kind: o.kind as DesiredObject['kind'],
      object: o.object as DesiredObject['object'],
    }));
    if (live.length !== objects.length) {
      throw new Error(`bench: the store holds ${live.length} objects, not ${objects.length}`);
    }
    const plans: number[] = [];
    for (let i = 0; i < RECONCILE_PASSES; i += 1) {
      plans.push(
        cpuMs(() => {
          const plan = planChanges(desired, live, keys);
          if (isPlanRefusal(plan)) throw new Error('bench plan refused');
          if (plan.summary.unchanged !== objects.length) {
            throw new Error(`bench: the plan finds ${plan.summary.unchanged} unchanged`);
          }
        }),
      );
    }
    const notReady = endpoint.nodes().filter((node) => !endpoint.isReady(node.name)).length;
    if (notReady > 0) throw new Error(`bench: ${notReady} nodes went NotReady during the passes`);
    const pass = median(passes);
    const plan = median(plans);
    return [
      {
        name: `no-change reconcile, ${objects.length} objects on ${RECONCILE_NODES} nodes (CPU/pass)`,
        figure:
          `median ${ms(pass)}, p90 ${ms(p90(passes))}, min ${ms(sorted(passes)[0] ?? Number.NaN)} ` +
          `of ${RECONCILE_PASSES} passes ` +
          `(${(pass / plan).toFixed(1)}x the plan alone: ${ms(plan)})`,
        target: `< ${RECONCILE_TARGET_MS} ms CPU`,
        met: pass < RECONCILE_TARGET_MS,
      },
    ];
  } finally {
    await server.close();
    store.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** `BENCH_DAEMON=reconcile` or `=pushes` runs one part only (e.g. under `--cpu-prof`). */
export async function benchDaemon(): Promise<Verdict[]> {
  const only = process.env.BENCH_DAEMON;
  const verdicts = [
    ...(only === 'pushes' ? [] : await benchReconcile()),
    ...(only === 'reconcile' ? [] : await benchPushes()),
  ];
  printVerdicts('Daemon (issue 6)', verdicts);
  return verdicts;
}

if (
  process.argv[1] !== undefined &&
  fileURLToPath(import.meta.url) === path.resolve(process.argv[1])
) {
  await benchDaemon();
  process.exit(0);
}
