/**
 * Issue-5 benchmarks, on the real Docker Engine, through the built command: one `berth serve`
 * with its local agent (its own node name and service range) and `berth apply` of an RC of 3
 * busybox httpd backends behind a Service (port 80 -> 8080) and a client pod. Every client
 * (wrk, curl, a small Node poller) runs on the host inside the client pod's network namespace
 * (`nsenter -n`), so its traffic takes the path a pod's does (PREROUTING DNAT on the bridge),
 * not the host's OUTPUT path.
 * - small HTTP requests (wrk) and a 64 MiB transfer (curl) through the service against the
 *   same straight to one pod, alternating in the same run, medians;
 * - a backend's readiness file removed and recreated: time until the service stops (starts)
 *   sending it new connections, in total and after berth recorded the Ready transition.
 */
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createDockerRuntime } from '../operator/agent/index.js';
import { LABELS } from '../operator/agent/runtime.js';
import { docker, removeContainerIfPresent } from '../test/helpers/docker.js';
import { ensureTestImage, TEST_IMAGE } from '../test/helpers/docker-images.js';
import { ms, printVerdicts, type Verdict } from './harness.js';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = path.join(REPO_ROOT, 'bin', 'berth.js');
const CIDR = '10.100.0.0/16';
const REPLICAS = 3;
const ROUNDS = 3;
// A 64 MiB transfer takes well under a second here; more of them steady the median.
const LARGE_ROUNDS = 5;
const WRK_SECONDS = 5;
const LARGE_MIB = 64;
const POLL_MS = 20;
const DEADLINE_MS = 120_000;

const run = promisify(execFile);

// --- sources ---------------------------------------------------------------------------------

const BACKEND_SCRIPT = [
  'mkdir -p /www',
  'hostname > /www/index.html',
  // ~100 bytes.
  "printf '%0100d' 0 > /www/small",
  `dd if=/dev/zero of=/www/large bs=1048576 count=${LARGE_MIB} 2>/dev/null`,
  'touch /www/ready',
  'exec httpd -f -p 8080 -h /www',
].join(' && ');

const BACKEND_CONTAINER = `      terminationGracePeriodSeconds: 1
      containers:
        - name: httpd
          image: ${TEST_IMAGE}
          imagePullPolicy: Never
          command: ["sh", "-c", ${JSON.stringify(BACKEND_SCRIPT)}]
          ports:
            - {name: http, containerPort: 8080}
          readinessProbe:
            exec: {command: ["test", "-f", "/www/ready"]}
            periodSeconds: 1
            failureThreshold: 1
            # docker exec slows down under the load the bench makes; the file test itself
            # answers at once, so a long timeout delays nothing but a false "unready".
            timeoutSeconds: 5
`;

/**
 * bench-web: the RC of 3 behind a service. bench-solo: one more backend behind a service of its
 * own, the control where both sides of the comparison reach the same single server.
 */
const SOURCES = `apiVersion: v1
kind: ReplicationController
metadata:
  name: bench-web
spec:
  replicas: ${REPLICAS}
  selector: {app: bench-web}
  template:
    metadata:
      labels: {app: bench-web}
    spec:
${BACKEND_CONTAINER}---
apiVersion: v1
kind: Service
metadata:
  name: bench-web
spec:
  selector: {app: bench-web}
  ports:
    - {name: http, port: 80, targetPort: 8080}
---
apiVersion: v1
kind: Pod
metadata:
  name: bench-solo
  labels: {app: bench-solo}
spec:
${BACKEND_CONTAINER.replace(/^ {4}/gm, '')}---
apiVersion: v1
kind: Service
metadata:
  name: bench-solo
spec:
  selector: {app: bench-solo}
  ports:
    - {name: http, port: 80, targetPort: 8080}
---
apiVersion: v1
kind: Pod
metadata:
  name: bench-client
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: main
      image: ${TEST_IMAGE}
      imagePullPolicy: Never
      command: ["sleep", "3600"]
`;

// --- small helpers ---------------------------------------------------------------------------

const median = (values: readonly number[]): number =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;

async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + DEADLINE_MS;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`bench: timed out waiting for ${what}`);
    await delay(100);
  }
}

function hasCommand(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).status === 0;
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

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the built `berth` without blocking this process (serve's pipes keep draining). */
function berth(args: readonly string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += String(chunk);
    });
    child.stderr.on('data', (chunk) => {
      stderr += String(chunk);
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

interface ListedPod {
  readonly name: string;
  readonly ip: string | undefined;
  readonly ready: boolean;
  /** Wall-clock ms of the Ready condition's last transition, as berth recorded it. */
  readonly readySince: number | undefined;
}

/** The v1 shapes, read loosely: only what the bench needs. */
interface V1Pod {
  metadata?: { name?: string; labels?: Record<string, string> };
  status?: {
    podIP?: string;
    conditions?: { type: string; status: string; lastTransitionTime?: string }[];
  };
}
interface V1Service {
  metadata?: { name?: string };
  spec?: { clusterIP?: string };
}

// --- the cluster -----------------------------------------------------------------------------

class Cluster {
  private serve: ChildProcess | undefined;
  private serveOut = '';
  private serveErr = '';
  readonly dir = mkdtempSync(path.join(os.tmpdir(), 'berth-bench-services-'));
  readonly dataDir = path.join(this.dir, 'data');
  readonly node = `bench-svc-${process.pid}`;

  async start(): Promise<void> {
    const source = path.join(this.dir, 'source');
    mkdirSync(source);
    writeFileSync(path.join(source, 'bench.yaml'), SOURCES);
    this.serve = spawn(
      process.execPath,
      [
        BIN,
        'serve',
        '--listen',
        '127.0.0.1:0',
        '--data-dir',
        this.dataDir,
        '--node-name',
        this.node,
        '--service-cidr',
        CIDR,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } },
    );
    this.serve.stdout?.on('data', (chunk) => {
      this.serveOut += String(chunk);
    });
    this.serve.stderr?.on('data', (chunk) => {
      this.serveErr += String(chunk);
    });
    await until(`berth serve to listen (stderr: ${this.serveErr})`, async () =>
      /operator at http:\/\/127\.0\.0\.1:\d+ /.test(this.serveOut) ? true : undefined,
    );
    const applied = await berth(['apply', source, '--data-dir', this.dataDir, '--timeout', '2m']);
    if (applied.code !== 0) {
      throw new Error(
        `berth apply exited ${applied.code}: ${applied.stdout}${applied.stderr}\nserve: ${this.serveErr}`,
      );
    }
    if (/services: no service proxy/.test(this.serveErr)) {
      throw new Error(`berth serve runs no service proxy: ${this.serveErr}`);
    }
  }

  private async getJson(resource: string): Promise<{ items: unknown[] }> {
    const result = await berth(['get', resource, '-o', 'json', '--data-dir', this.dataDir]);
    if (result.code !== 0) throw new Error(`berth get ${resource}: ${result.stderr}`);
    return JSON.parse(result.stdout) as { items: unknown[] };
  }

  async backends(app = 'bench-web'): Promise<ListedPod[]> {
    const list = await this.getJson('pods');
    return (list.items as V1Pod[])
      .filter((pod) => pod.metadata?.labels?.app === app)
      .map((pod) => {
        const ready = pod.status?.conditions?.find((c) => c.type === 'Ready');
        const since = ready?.lastTransitionTime;
        return {
          name: pod.metadata?.name ?? '',
          ip: pod.status?.podIP,
          ready: ready?.status === 'True',
          readySince: since === undefined ? undefined : Date.parse(since),
        };
      });
  }

  allReady(app = 'bench-web', count = REPLICAS): Promise<ListedPod[]> {
    return until(`${count} ready ${app} backends`, async () => {
      const pods = await this.backends(app);
      return pods.length === count && pods.every((p) => p.ready && p.ip !== undefined)
        ? pods
        : undefined;
    });
  }

  async clusterIp(name: string): Promise<string> {
    const list = await this.getJson('services');
    const found = (list.items as V1Service[]).find((s) => s.metadata?.name === name);
    const ip = found?.spec?.clusterIP;
    if (ip === undefined || !/^10\.100\.\d+\.\d+$/.test(ip)) {
      throw new Error(`bench: no cluster IP for ${name} in ${JSON.stringify(list)}`);
    }
    return ip;
  }

  /** The running user container of a pod on the bench's node. */
  async container(pod: string): Promise<string> {
    return until(`a running container of ${pod}`, async () => {
      const list = await docker().listContainers({
        filters: {
          label: [
            `${LABELS.node}=${this.node}`,
            `${LABELS.role}=container`,
            `${LABELS.podName}=${pod}`,
          ],
          status: ['running'],
        },
      });
      return list[0]?.Id;
    });
  }

  async stop(): Promise<void> {
    try {
      const serve = this.serve;
      if (serve !== undefined && serve.exitCode === null && serve.signalCode === null) {
        const exited = new Promise((resolve) => serve.once('exit', resolve));
        serve.kill('SIGTERM');
        await Promise.race([exited, delay(30_000)]);
        if (serve.exitCode === null && serve.signalCode === null) serve.kill('SIGKILL');
      }
    } finally {
      const client = docker();
      const list = await client.listContainers({
        all: true,
        filters: { label: [`${LABELS.node}=${this.node}`] },
      });
      for (const c of list) await removeContainerIfPresent(client, c.Id);
      const routes = await run('ip', ['-4', '-o', 'route', 'show', CIDR]).catch(() => undefined);
      if (routes !== undefined && routes.stdout.trim() !== '') {
        await run('ip', ['route', 'del', CIDR]).catch(() => undefined);
      }
      rmSync(this.dir, { recursive: true, force: true });
    }
  }
}

// --- clients in the client pod's network namespace --------------------------------------------

/** `command args` on the host, inside the network namespace of process `pid`. */
async function inPod(pid: number, command: string, args: readonly string[]): Promise<string> {
  const { stdout } = await run('nsenter', ['-t', String(pid), '-n', command, ...args], {
    timeout: 120_000,
    maxBuffer: 16 << 20,
  });
  return stdout;
}

interface WrkResult {
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
}

function durationMs(text: string): number {
  const match = /^([\d.]+)(us|ms|s|m)$/.exec(text.trim());
  if (match === null) return Number.NaN;
  const value = Number(match[1]);
  const unit = match[2];
  return unit === 'us'
    ? value / 1000
    : unit === 'ms'
      ? value
      : unit === 's'
        ? value * 1000
        : value * 60_000;
}

function parseWrk(output: string): WrkResult {
  const rps = Number(/Requests\/sec:\s*([\d.]+)/.exec(output)?.[1]);
  const p50 = /^\s*50%\s+(\S+)/m.exec(output)?.[1];
  const p99 = /^\s*99%\s+(\S+)/m.exec(output)?.[1];
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(
    output,
  );
  const non2xx = Number(/Non-2xx or 3xx responses:\s*(\d+)/.exec(output)?.[1] ?? 0);
  const errors =
    (socket === null ? 0 : socket.slice(1).reduce((sum, n) => sum + Number(n), 0)) + non2xx;
  if (!Number.isFinite(rps) || p50 === undefined || p99 === undefined) {
    throw new Error(`bench: cannot read wrk's output:\n${output}`);
  }
  return { rps, p50Ms: durationMs(p50), p99Ms: durationMs(p99), errors };
}

async function wrk(pid: number, url: string, seconds: number, close: boolean): Promise<WrkResult> {
  const args = ['-t1', '-c8', `-d${seconds}s`, '--latency'];
  if (close) args.push('-H', 'Connection: close');
  return parseWrk(await inPod(pid, 'wrk', [...args, url]));
}

/** Download speed of one curl in MB/s (10^6 bytes). */
async function curlMBps(pid: number, url: string): Promise<number> {
  const out = await inPod(pid, 'curl', [
    '-sS',
    '--fail',
    '-o',
    '/dev/null',
    '-w',
    '%{size_download} %{speed_download}',
    url,
  ]);
  const [size, speed] = out.trim().split(' ').map(Number);
  if (size !== LARGE_MIB * 1024 * 1024 || speed === undefined || !Number.isFinite(speed)) {
    throw new Error(`bench: curl ${url} answered "${out}"`);
  }
  return speed / 1e6;
}

/**
 * A Node process in the client's namespace: a new connection to `ip:80` every POLL_MS, one line
 * per answer on stdout: `<wall-clock ms at connect> <hostname or error>`.
 */
const POLLER = `
const net = require('node:net');
const [ip, every] = process.argv.slice(1);
const once = () => new Promise((resolve) => {
  const at = Date.now();
  const socket = net.connect({ host: ip, port: 80 });
  let body = '';
  const timer = setTimeout(() => { socket.destroy(); resolve(at + ' timeout'); }, 1000);
  socket.setEncoding('utf8');
  socket.on('connect', () => socket.write('GET / HTTP/1.0\\r\\n\\r\\n'));
  socket.on('data', (chunk) => { body += chunk; });
  socket.on('error', (e) => { clearTimeout(timer); resolve(at + ' ' + (e.code || e.message)); });
  socket.on('close', () => {
    clearTimeout(timer);
    const text = body.split('\\r\\n\\r\\n')[1];
    resolve(at + ' ' + (text === undefined ? 'empty' : text.trim()));
  });
});
(async () => {
  for (;;) {
    const start = Date.now();
    process.stdout.write((await once()) + '\\n');
    const rest = Number(every) - (Date.now() - start);
    if (rest > 0) await new Promise((r) => setTimeout(r, rest));
  }
})();
`;

interface Sample {
  readonly at: number;
  readonly answer: string;
}

class Poller {
  readonly samples: Sample[] = [];
  private readonly child: ChildProcess;
  private partial = '';

  constructor(pid: number, ip: string) {
    this.child = spawn(
      'nsenter',
      ['-t', String(pid), '-n', process.execPath, '-e', POLLER, ip, String(POLL_MS)],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    this.child.stdout?.setEncoding('utf8');
    this.child.stdout?.on('data', (chunk: string) => {
      const lines = (this.partial + chunk).split('\n');
      this.partial = lines.pop() ?? '';
      for (const line of lines) {
        const space = line.indexOf(' ');
        this.samples.push({ at: Number(line.slice(0, space)), answer: line.slice(space + 1) });
      }
    });
  }

  since(at: number): Sample[] {
    return this.samples.filter((s) => s.at >= at);
  }

  stop(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

/** The container's root as the host sees it, to flip the readiness file without an exec. */
async function rootOnHost(container: string): Promise<string> {
  const info = await docker().getContainer(container).inspect();
  const merged = (info.GraphDriver?.Data as Record<string, string> | undefined)?.MergedDir;
  if (merged === undefined || !existsSync(path.join(merged, 'www', 'ready'))) {
    throw new Error(
      `bench: no host path to ${container}'s /www/ready (${merged ?? 'no MergedDir'})`,
    );
  }
  return merged;
}

// --- the figures -------------------------------------------------------------------------------

interface Pair<T> {
  readonly service: T[];
  readonly direct: T[];
}

async function alternate<T>(
  rounds: number,
  service: () => Promise<T>,
  direct: () => Promise<T>,
): Promise<Pair<T>> {
  const pair: Pair<T> = { service: [], direct: [] };
  for (let i = 0; i < rounds; i += 1) {
    // Each round swaps who goes first, so a drift in the machine's load hits both sides alike.
    if (i % 2 === 0) {
      pair.service.push(await service());
      pair.direct.push(await direct());
    } else {
      pair.direct.push(await direct());
      pair.service.push(await service());
    }
  }
  return pair;
}

/** Medians of wrk runs through a service against straight to a pod, as one verdict. */
function wrkVerdict(pair: Pair<WrkResult>, name: string, bound: number | undefined): Verdict {
  const side = (results: WrkResult[]) => ({
    rps: median(results.map((r) => r.rps)),
    p50: median(results.map((r) => r.p50Ms)),
    p99: median(results.map((r) => r.p99Ms)),
    errors: results.reduce((sum, r) => sum + r.errors, 0),
  });
  const service = side(pair.service);
  const direct = side(pair.direct);
  const ratio = service.p50 / direct.p50;
  const show = (s: typeof service) =>
    `${s.rps.toFixed(0)} req/s, p50 ${s.p50.toFixed(2)} ms, p99 ${s.p99.toFixed(2)} ms` +
    (s.errors > 0 ? `, ${s.errors} errors` : '');
  const errorsFree = service.errors === 0 && direct.errors === 0;
  return {
    name,
    figure:
      `p50 ${ratio.toFixed(2)}x; service ${show(service)}; direct ${show(direct)} ` +
      `(median of ${pair.service.length} each)`,
    target: bound === undefined ? 'reported, no errors' : `p50 <= ${bound}x direct, no errors`,
    met: errorsFree && (bound === undefined || ratio <= bound),
  };
}

interface Rotation {
  /** From the file's removal (creation) to the service's last (first) new connection to it. */
  readonly totalMs: number;
  /** From berth's recorded Ready transition to the same. */
  readonly afterBerthMs: number | undefined;
}

async function readiness(
  cluster: Cluster,
  pid: number,
  ip: string,
  target: string,
): Promise<{ out: Rotation; back: Rotation; polls: number }> {
  const root = await rootOnHost(await cluster.container(target));
  const readyFile = path.join(root, 'www', 'ready');
  const poller = new Poller(pid, ip);
  try {
    await until(`${target} answering through the service`, async () =>
      poller.samples.some((s) => s.answer === target) ? true : undefined,
    );

    // Out of rotation: berth records Ready=False, then 1 s of answers none of which is the
    // target; the last answer from it is when the service stopped sending it connections.
    const removedAt = Date.now();
    unlinkSync(readyFile);
    const unready = await until(`${target} recorded unready`, async () => {
      const pod = (await cluster.backends()).find((p) => p.name === target);
      return pod !== undefined && !pod.ready ? pod : undefined;
    });
    await until(`${target} out of rotation`, async () => {
      const after = poller.since(removedAt);
      const lastSeen = after.findLast((s) => s.answer === target)?.at ?? removedAt;
      const quiet = after.filter((s) => s.at > lastSeen);
      return quiet.length > 0 && quiet.at(-1)!.at - lastSeen >= 1_000 ? true : undefined;
    });
    const outSamples = poller.since(removedAt);
    const lastSeen = outSamples.findLast((s) => s.answer === target)?.at ?? removedAt;
    const failures = outSamples.filter((s) => !/^bench-web-/.test(s.answer));
    if (failures.length > 0) {
      console.log(`  readiness: ${failures.length} failed connections while ${target} went out`);
    }

    // Back in rotation: berth records Ready=True, and the target answers again.
    const createdAt = Date.now();
    writeFileSync(readyFile, '');
    const firstSeen = await until(`${target} back in rotation`, async () =>
      poller.since(createdAt).find((s) => s.answer === target),
    );
    const ready = await until(`${target} recorded ready`, async () => {
      const pod = (await cluster.backends()).find((p) => p.name === target);
      return pod?.ready === true ? pod : undefined;
    });
    // Both sides are wall-clock milliseconds on this machine; a transition stamped outside
    // the window it must lie in means the bases differ, and the part is not reported.
    const part = (at: number, since: number | undefined, from: number, to: number) =>
      since !== undefined && since >= from && since <= to + 1_000 ? at - since : undefined;
    return {
      out: {
        totalMs: lastSeen - removedAt,
        afterBerthMs: part(lastSeen, unready.readySince, removedAt, createdAt),
      },
      back: {
        totalMs: firstSeen.at - createdAt,
        afterBerthMs: part(firstSeen.at, ready.readySince, createdAt, Date.now()),
      },
      polls: poller.samples.length,
    };
  } finally {
    poller.stop();
    if (!existsSync(readyFile)) writeFileSync(readyFile, '');
  }
}

export async function benchServices(): Promise<Verdict[]> {
  const client = docker();
  await ensureTestImage(client);
  await createDockerRuntime().ensurePauseImage();
  ensureBuilt();
  const haveWrk = hasCommand('wrk');
  if (!hasCommand('curl') || !hasCommand('nsenter')) {
    console.log('\nservices: curl and nsenter are needed on the host; benchmark skipped');
    return [];
  }

  const cluster = new Cluster();
  const verdicts: Verdict[] = [];
  try {
    await cluster.start();
    const pods = await cluster.allReady();
    const ip = await cluster.clusterIp('bench-web');
    const direct = pods[0]?.ip;
    const solo = (await cluster.allReady('bench-solo', 1))[0]?.ip;
    const soloIp = await cluster.clusterIp('bench-solo');
    if (direct === undefined || solo === undefined) throw new Error('bench: no backend IP');
    const clientId = await cluster.container('bench-client');
    const pid = (await client.getContainer(clientId).inspect()).State.Pid;
    // The proxy's rules may trail the pods' readiness: wait until both services answer.
    // Another agent's proxy on this host rewrites the same chains: run the bench alone.
    for (const service of [ip, soloIp]) {
      await until(`${service}:80 answering from the client pod`, async () =>
        (await inPod(pid, 'curl', ['-sS', '-m', '2', `http://${service}/`]).catch(() => '')) !== ''
          ? true
          : undefined,
      );
    }

    // 1. small requests: the service of 3 against one of its pods, keep-alive as wrk asks
    // and a new connection per request; then the control, the one-pod service against its pod.
    if (haveWrk) {
      const small = (host: string) => `http://${host}/small`;
      const cases = [
        {
          name: `small HTTP (wrk -t1 -c8 -d${WRK_SECONDS}s): service of ${REPLICAS} / one of its pods`,
          service: small(ip),
          direct: small(`${direct}:8080`),
          close: false,
          bound: 1.3,
        },
        {
          name: 'same, Connection: close (a new connection per request)',
          service: small(ip),
          direct: small(`${direct}:8080`),
          close: true,
          bound: undefined,
        },
        {
          name: 'same, control: service of 1 / its pod (one server on both sides)',
          service: small(soloIp),
          direct: small(`${solo}:8080`),
          close: false,
          bound: undefined,
        },
      ];
      for (const c of cases) {
        // Warm both paths (conntrack, ARP, page cache) before measuring.
        await wrk(pid, c.service, 1, c.close);
        await wrk(pid, c.direct, 1, c.close);
        const pair = await alternate(
          ROUNDS,
          () => wrk(pid, c.service, WRK_SECONDS, c.close),
          () => wrk(pid, c.direct, WRK_SECONDS, c.close),
        );
        verdicts.push(wrkVerdict(pair, c.name, c.bound));
      }
    } else {
      console.log(
        '\nservices: wrk is not installed (apt-get install wrk); small-request figures skipped',
      );
    }

    // 2. a large transfer.
    await curlMBps(pid, `http://${ip}/large`);
    await curlMBps(pid, `http://${direct}:8080/large`);
    const large = await alternate(
      LARGE_ROUNDS,
      () => curlMBps(pid, `http://${ip}/large`),
      () => curlMBps(pid, `http://${direct}:8080/large`),
    );
    const serviceMBps = median(large.service);
    const directMBps = median(large.direct);
    const share = serviceMBps / directMBps;
    verdicts.push({
      name: `${LARGE_MIB} MiB over HTTP: throughput through the service / direct to one pod`,
      figure: `${(share * 100).toFixed(0)}%; service ${serviceMBps.toFixed(0)} MB/s, direct ${directMBps.toFixed(0)} MB/s (curl, median of ${LARGE_ROUNDS} each)`,
      target: '>= 70% of direct',
      met: share >= 0.7,
    });

    // The figures above assume all three backends stayed in rotation; say so if one left.
    const after = await cluster.backends();
    const flapped = pods.filter((p) => {
      const now = after.find((q) => q.name === p.name);
      return now === undefined || !now.ready || now.readySince !== p.readySince;
    });
    if (flapped.length > 0) {
      console.log(
        `  services: readiness of ${flapped.map((p) => p.name).join(', ')} changed during the traffic figures`,
      );
    }

    // 3. readiness to traffic, on a backend other than the direct one.
    await cluster.allReady();
    const target = pods[1]?.name ?? pods[0]!.name;
    const rotation = await readiness(cluster, pid, ip, target);
    const shown = (r: Rotation) =>
      `${ms(r.afterBerthMs ?? r.totalMs)} after berth recorded it` +
      (r.afterBerthMs === undefined ? ' (clock bases differ: total shown)' : '') +
      `; ${ms(r.totalMs)} after the readiness file changed`;
    const within = (r: Rotation) => (r.afterBerthMs ?? r.totalMs) < 1_000;
    verdicts.push(
      {
        name: 'unready backend: until the service stops sending it new connections',
        figure: `${shown(rotation.out)} (exec probe every 1 s, last answer from it; a new connection every ${POLL_MS} ms)`,
        target: '< 1 s after berth records Ready=False',
        met: within(rotation.out),
      },
      {
        name: 'ready backend: until the service sends it new connections',
        figure: `${shown(rotation.back)} (first answer from it)`,
        target: '< 1 s after berth records Ready=True',
        met: within(rotation.back),
      },
    );
    printVerdicts('services: through the service vs straight to one pod, from a pod', verdicts);
    return verdicts;
  } finally {
    await cluster.stop();
  }
}
