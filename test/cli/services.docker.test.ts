/**
 * Services end to end, as users run them: one built `berth serve` with its local agent (its own
 * node name and service range), sources applied with the built `berth apply`, real containers
 * and real traffic. Backends are an RC of 3 busybox httpd pods that answer with their pod name
 * and a boot id (new for every container start) and are ready while /www/ready exists; a client
 * pod talks to the services by name and through the environment; the test process talks to the
 * cluster IP (host traffic takes the same nat rules) and to the node port on 127.0.0.1.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LABELS } from '../../operator/agent/runtime.js';
import { docker, removeContainerIfPresent, uniqueTestName } from '../helpers/docker.js';
import { ensureTestImage, TEST_IMAGE } from '../helpers/docker-images.js';
import { waitFor } from '../helpers/wait.js';

const run = promisify(execFile);
const BIN = fileURLToPath(new URL('../../bin/berth.js', import.meta.url));
const NODE = uniqueTestName('svc-e2e');
const CIDR = '10.99.0.0/16';
const NODE_PORT = 30999;
const REPLICAS = 3;

let dir = '';
let dataDir = '';
let appDir = '';
let serve: ChildProcess | undefined;
let serveOut = '';
let serveErr = '';

// --- sources -----------------------------------------------------------------------------------

const BACKEND_SCRIPT = [
  'mkdir -p /www',
  'echo "pod=`hostname` boot=`cat /proc/sys/kernel/random/uuid`" > /www/index.html',
  'touch /www/ready',
  'exec httpd -f -p 8080 -h /www',
].join(' && ');

const RC = `apiVersion: v1
kind: ReplicationController
metadata:
  name: web
spec:
  replicas: ${REPLICAS}
  selector: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: httpd
          image: ${TEST_IMAGE}
          imagePullPolicy: Never
          command: ["sh", "-c", ${JSON.stringify(BACKEND_SCRIPT)}]
          ports:
            - {name: http, containerPort: 8080}
          readinessProbe:
            httpGet: {path: /ready, port: 8080}
            periodSeconds: 1
            failureThreshold: 1
`;

function service(name: string, spec: string): string {
  return `apiVersion: v1
kind: Service
metadata:
  name: ${name}
spec:
  selector: {app: web}
${spec}`;
}

const SERVICES = [
  service('web', '  ports:\n    - {name: http, port: 80, targetPort: http}\n'),
  service(
    'web-np',
    `  type: NodePort\n  ports:\n    - {name: http, port: 80, targetPort: http, nodePort: ${NODE_PORT}}\n`,
  ),
  service(
    'web-headless',
    '  clusterIP: None\n  ports:\n    - {name: http, port: 80, targetPort: http}\n',
  ),
  service(
    'web-sticky',
    '  sessionAffinity: ClientIP\n  ports:\n    - {name: http, port: 80, targetPort: http}\n',
  ),
].join('---\n');

const CLIENT = `apiVersion: v1
kind: Pod
metadata:
  name: client
  labels: {app: client}
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: main
      image: ${TEST_IMAGE}
      imagePullPolicy: Never
      command: ["sleep", "3600"]
`;

const LATE = service('late', '  ports:\n    - {name: http, port: 80, targetPort: http}\n');

// --- the built command ---------------------------------------------------------------------------

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

async function apply(): Promise<void> {
  const result = await berth(['apply', appDir, '--data-dir', dataDir, '--timeout', '90s']);
  expect(result.code, `${result.stdout}\n${result.stderr}\nserve: ${serveErr}`).toBe(0);
}

interface ListedPod {
  readonly name: string;
  readonly ip: string | undefined;
  readonly ready: boolean;
}

async function getJson(resource: string): Promise<{ items: Record<string, unknown>[] }> {
  const result = await berth(['get', resource, '-o', 'json', '--data-dir', dataDir]);
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as { items: Record<string, unknown>[] };
}

/** The app's backend pods as `berth get pods -o json` shows them. */
async function backendPods(): Promise<ListedPod[]> {
  const list = await getJson('pods');
  // The v1 Pod shape, read loosely: only what the test needs.
  type V1Pod = {
    metadata?: { name?: string; labels?: Record<string, string> };
    status?: { podIP?: string; conditions?: { type: string; status: string }[] };
  };
  return (list.items as V1Pod[])
    .filter((pod) => pod.metadata?.labels?.app === 'web')
    .map((pod) => ({
      name: pod.metadata?.name ?? '',
      ip: pod.status?.podIP,
      ready:
        pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
    }));
}

/** All three backends ready; their names and IPs. */
function allReady(): Promise<ListedPod[]> {
  return waitFor(
    async () => {
      const pods = await backendPods();
      return pods.length === REPLICAS && pods.every((p) => p.ready && p.ip !== undefined)
        ? pods
        : undefined;
    },
    `${REPLICAS} ready backends`,
    60_000,
  );
}

async function clusterIp(name: string): Promise<string> {
  const list = await getJson('services');
  type V1Service = { metadata?: { name?: string }; spec?: { clusterIP?: string } };
  const found = (list.items as V1Service[]).find((s) => s.metadata?.name === name);
  const ip = found?.spec?.clusterIP;
  expect(ip, `service ${name} in ${JSON.stringify(list)}`).toMatch(/^10\.99\.\d+\.\d+$/);
  return ip!;
}

// --- containers ----------------------------------------------------------------------------------

/** The running user container of a pod on the test's node. */
async function containerOf(pod: string): Promise<string | undefined> {
  const list = await docker().listContainers({
    filters: {
      label: [`${LABELS.node}=${NODE}`, `${LABELS.role}=container`, `${LABELS.podName}=${pod}`],
      status: ['running'],
    },
  });
  return list[0]?.Id;
}

async function exec(pod: string, script: string): Promise<string> {
  const id = await waitFor(() => containerOf(pod), `a running container of ${pod}`);
  try {
    const { stdout, stderr } = await run('docker', ['exec', id, 'sh', '-c', script], {
      timeout: 60_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    return `${stdout}${stderr}`;
  } catch (error) {
    // A non-zero exit still carries the output (busybox nslookup exits 1 after a hit).
    const failed = error as { stdout?: string; stderr?: string };
    if (typeof failed.stdout === 'string') return `${failed.stdout}${failed.stderr ?? ''}`;
    throw error;
  }
}

interface Answer {
  readonly pod: string;
  readonly boot: string;
}

function answers(output: string): Answer[] {
  return [...output.matchAll(/pod=(\S+) boot=(\S+)/g)].map((m) => ({ pod: m[1]!, boot: m[2]! }));
}

/** `count` HTTP connections from the client pod to `host port`; who answered. */
async function fromClient(host: string, port: string, count: number): Promise<Answer[]> {
  const output = await exec(
    'client',
    `for i in $(seq ${count}); do printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ${host} ${port}; echo; done`,
  );
  return answers(output);
}

/** One HTTP connection from this process; the answer, or why there was none. */
function fromHost(host: string, port: number, timeoutMs = 1_000): Promise<Answer | string> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    let body = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve('timeout');
    }, timeoutMs);
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write('GET / HTTP/1.0\r\n\r\n'));
    socket.on('data', (chunk) => {
      body += chunk;
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(error.code ?? error.message);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(answers(body)[0] ?? `no answer: ${JSON.stringify(body)}`);
    });
  });
}

interface Sample {
  readonly at: number;
  readonly result: Answer | string;
}

// --- setup ---------------------------------------------------------------------------------------

async function removeNodeContainers(): Promise<void> {
  const list = await docker().listContainers({
    all: true,
    filters: { label: [`${LABELS.node}=${NODE}`] },
  });
  for (const c of list) await removeContainerIfPresent(docker(), c.Id);
}

beforeAll(async () => {
  await ensureTestImage(docker());
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-services-'));
  dataDir = path.join(dir, 'operator');
  appDir = path.join(dir, 'shop');
  await fsp.mkdir(appDir);
  await fsp.writeFile(path.join(appDir, 'web-rc.yaml'), RC);
  await fsp.writeFile(path.join(appDir, 'services.yaml'), SERVICES);
  await fsp.writeFile(path.join(appDir, 'client.yaml'), CLIENT);

  serve = spawn(
    process.execPath,
    [
      BIN,
      'serve',
      '--listen',
      '127.0.0.1:0',
      '--data-dir',
      dataDir,
      '--node-name',
      NODE,
      '--service-cidr',
      CIDR,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } },
  );
  serve.stdout!.on('data', (chunk) => {
    serveOut += String(chunk);
  });
  serve.stderr!.on('data', (chunk) => {
    serveErr += String(chunk);
  });
  await waitFor(
    () => /operator at http:\/\/127\.0\.0\.1:\d+ /.test(serveOut),
    `the served URL (stderr: ${serveErr})`,
    30_000,
  );
  // Services are made before pods in the same sync: the client is stamped with their variables.
  await apply();
  // Both halves of the service host run (a line would say why not, e.g. port 53 taken).
  expect(serveErr).not.toMatch(/services: no (service proxy|cluster DNS)/);
  await allReady();
}, 180_000);

afterAll(async () => {
  try {
    if (serve !== undefined && serve.exitCode === null && serve.signalCode === null) {
      const exited = new Promise((resolve) => serve!.once('exit', resolve));
      serve.kill('SIGTERM');
      await exited;
    }
  } finally {
    await removeNodeContainers();
    // The sink route of the test's range; the chains stay for the next agent to rewrite.
    const routes = await run('ip', ['-4', '-o', 'route', 'show', CIDR]);
    if (routes.stdout.trim() !== '') await run('ip', ['route', 'del', CIDR]);
    if (dir !== '') await fsp.rm(dir, { recursive: true, force: true });
  }
}, 120_000);

// --- tests ---------------------------------------------------------------------------------------

describe('services through berth serve on Docker', () => {
  it('reaches a 3-replica service by name, name.namespace and env; get shows it', async () => {
    const pods = await allReady();
    const names = new Set(pods.map((p) => p.name));

    const byName = await fromClient('web', '80', 30);
    expect(byName).toHaveLength(30);
    expect(new Set(byName.map((a) => a.pod))).toEqual(names);

    const byNamespace = await fromClient('web.default', '80', 10);
    expect(byNamespace).toHaveLength(10);
    for (const a of byNamespace) expect(names).toContain(a.pod);

    const byEnv = await fromClient('$WEB_SERVICE_HOST', '$WEB_SERVICE_PORT', 10);
    expect(byEnv).toHaveLength(10);
    for (const a of byEnv) expect(names).toContain(a.pod);

    const ip = await clusterIp('web');
    const env = await exec('client', 'env');
    const at = ip.replaceAll('.', '\\.');
    expect(env).toMatch(new RegExp(`^WEB_SERVICE_HOST=${at}$`, 'm'));
    expect(env).toMatch(/^WEB_SERVICE_PORT=80$/m);
    expect(env).toMatch(/^WEB_SERVICE_PORT_HTTP=80$/m);
    expect(env).toMatch(new RegExp(`^WEB_PORT=tcp://${at}:80$`, 'm'));
    expect(env).toMatch(new RegExp(`^WEB_PORT_80_TCP_ADDR=${at}$`, 'm'));
    expect(env).toMatch(/^WEB_PORT_80_TCP_PROTO=tcp$/m);
    expect(env).toMatch(/^WEB_NP_SERVICE_HOST=10\.99\./m);
    // Headless services give no variables.
    expect(env).not.toContain('WEB_HEADLESS_');

    const services = await berth(['get', 'services', '--data-dir', dataDir]);
    expect(services.code, services.stderr).toBe(0);
    expect(services.stdout).toMatch(new RegExp(`^web\\s+ClusterIP\\s+${at}\\s+80/TCP\\s`, 'm'));
    expect(services.stdout).toMatch(
      new RegExp(`^web-np\\s+NodePort\\s+10\\.99\\.\\S+\\s+80:${NODE_PORT}/TCP\\s`, 'm'),
    );
    expect(services.stdout).toMatch(/^web-headless\s+ClusterIP\s+None\s/m);

    const endpoints = await berth(['get', 'endpoints', '--data-dir', dataDir]);
    expect(endpoints.code, endpoints.stderr).toBe(0);
    const row = endpoints.stdout.split('\n').find((line) => /^web\s/.test(line));
    const listed = [...(row ?? '').matchAll(/(\d+\.\d+\.\d+\.\d+):8080/g)].map((m) => m[1]);
    expect(listed.sort(), endpoints.stdout).toEqual(pods.map((p) => p.ip).sort());
  });

  it('stops sending new connections to a killed backend and sends them to its replacement', async () => {
    const pods = await allReady();
    const ip = await clusterIp('web');
    const victim = pods[0]!.name;
    const before = await waitFor(async () => {
      const answer = await fromHost(ip, 80);
      return typeof answer !== 'string' && answer.pod === victim ? answer : undefined;
    }, `${victim} answering through the cluster IP`);
    const id = await waitFor(() => containerOf(victim), `${victim}'s container`);

    const samples: Sample[] = [];
    const killedAt = Date.now();
    await run('docker', ['kill', id]);
    // Polls from right after the kill until the replacement (the pod's restarted container, or
    // a new pod) answers and a second of connections after it all succeeded.
    await waitFor(
      async () => {
        samples.push({ at: Date.now(), result: await fromHost(ip, 80, 500) });
        const back = samples.findIndex(
          ({ result }) =>
            typeof result !== 'string' &&
            (result.pod === victim
              ? result.boot !== before.boot
              : !pods.some((p) => p.name === result.pod)),
        );
        if (back < 0) return false;
        const last = samples.at(-1)!;
        const failedSince = samples.slice(back).some(({ result }) => typeof result === 'string');
        return !failedSince && last.at - samples[back]!.at >= 1_000;
      },
      'the replacement answering through the cluster IP',
      45_000,
    );
    const failures = samples.filter(({ result }) => typeof result === 'string');
    const lastFailure = failures.at(-1);
    const goneAfterMs = lastFailure === undefined ? 0 : lastFailure.at - killedAt;
    console.log(
      `killed backend ${victim}: ${failures.length} of ${samples.length} connections failed, ` +
        `the last ${goneAfterMs} ms after the kill; ${[...new Set(failures.map((f) => f.result))].join(', ')}`,
    );
    // The dead container answered nothing after the kill, and connections stopped going to it
    // within 3 s (the agent, the operator's pass and the rules rewrite in between).
    expect(
      samples.some(({ result }) => typeof result !== 'string' && result.boot === before.boot),
    ).toBe(false);
    expect(goneAfterMs).toBeLessThan(3_000);
    await allReady();
  });

  it('takes a backend out of rotation while its readiness fails and back after', async () => {
    const pods = await allReady();
    const ip = await clusterIp('web');
    const target = pods[1]!.name;
    await waitFor(async () => {
      const answer = await fromHost(ip, 80);
      return typeof answer !== 'string' && answer.pod === target;
    }, `${target} answering`);

    const samples: Sample[] = [];
    await exec(target, 'rm /www/ready');
    const unreadyAt = Date.now();
    try {
      // Out: 40 answers in a row from the others.
      await waitFor(
        async () => {
          samples.push({ at: Date.now(), result: await fromHost(ip, 80) });
          const recent = samples.slice(-40);
          return (
            recent.length === 40 &&
            recent.every(({ result }) => typeof result !== 'string' && result.pod !== target)
          );
        },
        `${target} out of rotation`,
        20_000,
      );
      expect(samples.filter(({ result }) => typeof result === 'string')).toEqual([]);
      const lastSeen = samples
        .filter(({ result }) => typeof result !== 'string' && result.pod === target)
        .at(-1);
      const outAfterMs = lastSeen === undefined ? 0 : lastSeen.at - unreadyAt;
      console.log(`unready backend ${target}: last answer ${outAfterMs} ms after /www/ready went`);
      expect(outAfterMs).toBeLessThan(3_000);
      expect((await backendPods()).find((p) => p.name === target)?.ready).toBe(false);
    } catch (error) {
      // What the connections got, to tell a slow endpoint update from broken service rules.
      const got = samples.map(({ result }) => (typeof result === 'string' ? result : result.pod));
      throw new Error(`${String(error)}; answers: ${got.join(' ')}`, { cause: error });
    } finally {
      // Ready again (also when the test failed, so the tests after it find three backends).
      await exec(target, 'touch /www/ready');
    }
    const readyAt = Date.now();
    await waitFor(async () => {
      const answer = await fromHost(ip, 80);
      return typeof answer !== 'string' && answer.pod === target;
    }, `${target} back in rotation`);
    console.log(
      `ready again backend ${target}: answering ${Date.now() - readyAt} ms after /www/ready`,
    );
  });

  it('answers on the node port on 127.0.0.1', async () => {
    const pods = await allReady();
    const names = pods.map((p) => p.name);
    const seen = new Set<string>();
    for (let i = 0; i < 10; i += 1) {
      const answer = await fromHost('127.0.0.1', NODE_PORT);
      expect(typeof answer === 'string' ? answer : answer.pod).toBeOneOf(names);
      if (typeof answer !== 'string') seen.add(answer.pod);
    }
    expect(seen.size).toBeGreaterThan(0);
  });

  it('resolves a headless service to the ready pods’ addresses', async () => {
    const pods = await allReady();
    const ips = pods.map((p) => p.ip!).sort();
    const output = await waitFor(
      async () => {
        const text = await exec('client', 'nslookup web-headless');
        // `Address: IP` lines; the server's own line ends in `:53`.
        const found = [...text.matchAll(/^Address:\s*(\d+\.\d+\.\d+\.\d+)\s*$/gm)].map(
          (m) => m[1]!,
        );
        return JSON.stringify(found.sort()) === JSON.stringify(ips) ? text : undefined;
      },
      `web-headless resolving to ${ips.join(', ')}`,
    );
    expect(output).toMatch(/^Name:\s*web-headless\.default\.svc\.cluster\.local$/m);
  });

  it('keeps a client on one backend with ClientIP affinity', async () => {
    await allReady();
    const sticky = await fromClient('web-sticky', '80', 20);
    expect(sticky).toHaveLength(20);
    expect(new Set(sticky.map((a) => a.pod)).size).toBe(1);
    // Without affinity the same client is spread (the control for the assertion above).
    const spread = await fromClient('web', '80', 20);
    expect(new Set(spread.map((a) => a.pod)).size).toBeGreaterThan(1);
  });

  it('reaches a service made after the client by DNS, not by environment', async () => {
    const clientBefore = await containerOf('client');
    await fsp.writeFile(path.join(appDir, 'late.yaml'), LATE);
    await apply();
    const ip = await clusterIp('late');
    const names = (await allReady()).map((p) => p.name);
    const late = await waitFor(async () => {
      const got = await fromClient('late', '80', 5);
      return got.length === 5 ? got : undefined;
    }, 'late answering by name');
    for (const a of late) expect(names).toContain(a.pod);
    const lookup = await exec('client', 'nslookup late');
    expect(lookup).toMatch(new RegExp(`^Address:\\s*${ip.replaceAll('.', '\\.')}\\s*$`, 'm'));
    // Same container as before the second apply: its environment is the one it started with.
    expect(await containerOf('client')).toBe(clientBefore);
    const env = await exec('client', 'env');
    expect(env).toMatch(/^WEB_SERVICE_HOST=/m);
    expect(env).not.toContain('LATE_SERVICE_HOST');
    expect(env).not.toContain('LATE_PORT');
  });
});
