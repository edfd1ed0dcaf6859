import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:net';
import { promisify } from 'node:util';
import type Dockerode from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServiceProxy, type ServiceProxy } from '../../operator/agent/service-proxy/index.js';
import type { ServiceView } from '../../operator/services/types.js';
import {
  demuxDockerStream,
  docker,
  removeContainerIfPresent,
  TEST_LABELS,
  uniqueTestName,
} from '../helpers/docker.js';
import { ensureTestImage, TEST_IMAGE } from '../helpers/docker-images.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The service proxy on the real host: iptables rules in a range, chain prefix and sink bridge
 * of the test's own (never the agent's), real containers, real traffic. afterAll removes every
 * chain, jump, route and link it made and puts route_localnet back.
 */

const run = promisify(execFile);

const CIDR = '10.97.0.0/16';
const PREFIX = 'BTEST';
const SINK = 'berth-svct0';
const CLUSTER_IP = '10.97.0.10';
const UDP_IP = '10.97.0.53';
const NODE_PORT = 31997;
const BACKENDS = ['alpha', 'bravo', 'charlie'] as const;

interface Backend {
  readonly name: string;
  readonly container: Dockerode.Container;
  readonly ip: string;
}

const created: string[] = [];
const helpers: ChildProcess[] = [];
let backends: Backend[] = [];
let client: Dockerode.Container;
let udpBackend: Backend;
let proxy: ServiceProxy;
let routeLocalnetBefore = '';

async function startContainer(name: string, script: string): Promise<Backend> {
  const container = await docker().createContainer({
    Image: TEST_IMAGE,
    Cmd: ['sh', '-c', script],
    Labels: { ...TEST_LABELS },
    name: uniqueTestName(`svc-${name}`),
  });
  created.push(container.id);
  await container.start();
  const info = await container.inspect();
  const ip = info.NetworkSettings.Networks.bridge?.IPAddress;
  if (ip === undefined || ip === '')
    throw new Error(`${name} has no address on the default bridge`);
  return { name, container, ip };
}

/** Runs a shell script in a container with a deadline; gives stdout. */
async function execIn(container: Dockerode.Container, script: string, timeoutMs = 60_000) {
  const exec = await container.exec({
    Cmd: ['sh', '-c', script],
    AttachStdout: true,
    AttachStderr: true,
  });
  const stream = await exec.start({});
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      stream.destroy();
      reject(new Error(`exec did not finish within ${timeoutMs} ms: ${script}`));
    }, timeoutMs);
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => {
      clearTimeout(timer);
      resolve();
    });
    stream.on('error', (error: Error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
  return demuxDockerStream(Buffer.concat(chunks));
}

/** `count` HTTP connections from the client container; the backends that answered, in order. */
async function backendsSeen(ip: string, count: number): Promise<string[]> {
  const { stdout } = await execIn(
    client,
    `for i in $(seq ${count}); do printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ${ip} 80; echo; done`,
  );
  return [...stdout.matchAll(/backend=(\w+)/g)].map((match) => match[1]!);
}

function httpService(overrides: Partial<ServiceView> = {}, members = backends): ServiceView {
  return {
    namespace: 'default',
    name: 'web',
    type: 'NodePort',
    clusterIP: CLUSTER_IP,
    sessionAffinity: 'None',
    ports: [{ name: 'http', protocol: 'TCP', port: 80, nodePort: NODE_PORT }],
    endpoints: members.map((b) => ({
      ip: b.ip,
      pod: `default/${b.name}`,
      node: 'node-1',
      ports: { http: 80 },
    })),
    ...overrides,
  };
}

function udpService(): ServiceView {
  return {
    namespace: 'default',
    name: 'echo',
    type: 'ClusterIP',
    clusterIP: UDP_IP,
    sessionAffinity: 'None',
    ports: [{ name: 'dns', protocol: 'UDP', port: 53 }],
    endpoints: [{ ip: udpBackend.ip, pod: 'default/echo', node: 'node-1', ports: { dns: 5353 } }],
  };
}

/** A node process inside a container's network namespace (the image has no UDP server). */
function nodeInNetns(pid: number, script: string): ChildProcess {
  const child = spawn('nsenter', [`--net=/proc/${pid}/ns/net`, process.execPath, '-e', script], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  helpers.push(child);
  return child;
}

async function output(child: ChildProcess, timeoutMs = 10_000): Promise<string> {
  const chunks: Buffer[] = [];
  child.stdout?.on('data', (chunk: Buffer) => chunks.push(chunk));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('helper did not exit')), timeoutMs);
    child.on('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  return Buffer.concat(chunks).toString('utf8');
}

/** One HTTP/1.0 request from the host; the response, or 'timeout' / the error code. */
function hostRequest(host: string, port: number, timeoutMs = 3_000): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const chunks: Buffer[] = [];
    socket.setTimeout(timeoutMs, () => {
      socket.destroy();
      resolve('timeout');
    });
    socket.on('connect', () => socket.write('GET / HTTP/1.0\r\n\r\n'));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

function newProxy(): ServiceProxy {
  return createServiceProxy({ serviceCidr: CIDR, chainPrefix: PREFIX, sinkDevice: SINK });
}

async function natSave(): Promise<string> {
  return (await run('iptables-save', ['-t', 'nat'])).stdout;
}

beforeAll(async () => {
  await ensureTestImage(docker());
  routeLocalnetBefore = (
    await run('sysctl', ['-n', 'net.ipv4.conf.all.route_localnet'])
  ).stdout.trim();
  backends = await Promise.all(
    BACKENDS.map((name) =>
      startContainer(
        name,
        `mkdir -p /www && echo backend=${name} > /www/index.html && exec httpd -f -p 80 -h /www`,
      ),
    ),
  );
  client = (await startContainer('client', 'exec sleep 3600')).container;
  udpBackend = await startContainer('udp', 'exec sleep 3600');
  const pid = (await udpBackend.container.inspect()).State.Pid;
  const server = nodeInNetns(
    pid,
    `const s = require('node:dgram').createSocket('udp4');
     s.on('message', (m, r) => s.send('echo:' + m, r.port, r.address));
     s.bind(5353, () => console.log('listening'));`,
  );
  let said = '';
  server.stdout?.on('data', (chunk: Buffer) => {
    said += chunk.toString('utf8');
  });
  await waitFor(() => said.includes('listening'), 'the UDP echo server');
  proxy = newProxy();
  await proxy.start();
  // Every backend answers before the proxy is put in front of them.
  for (const backend of backends) {
    await waitFor(
      async () => (await backendsSeen(backend.ip, 1))[0] === backend.name,
      `${backend.name} answering`,
    );
  }
}, 120_000);

afterAll(async () => {
  try {
    await proxy?.stop({ removeRules: true });
  } finally {
    for (const child of helpers) child.kill('SIGKILL');
    await Promise.all(created.map((id) => removeContainerIfPresent(docker(), id)));
    if (routeLocalnetBefore !== '') {
      await run('sysctl', ['-w', `net.ipv4.conf.all.route_localnet=${routeLocalnetBefore}`]);
    }
  }
  // Nothing of the test is left in the host's tables, routes or links.
  expect(await natSave()).not.toContain(PREFIX);
  expect((await run('iptables-save', ['-t', 'filter'])).stdout).not.toContain(PREFIX);
  expect((await run('ip', ['route'])).stdout).not.toContain(SINK);
}, 120_000);

describe('service proxy on iptables', () => {
  it('starts idempotently: each jump once, the sink route in place', async () => {
    await proxy.start();
    const nat = await natSave();
    expect(
      nat.split('\n').filter((line) => line === `-A PREROUTING -j ${PREFIX}-SERVICES`),
    ).toHaveLength(1);
    expect(
      nat.split('\n').filter((line) => line === `-A OUTPUT -j ${PREFIX}-SERVICES`),
    ).toHaveLength(1);
    const route = (await run('ip', ['route', 'get', CLUSTER_IP])).stdout;
    expect(route).toContain(`dev ${SINK}`);
  });

  it('balances connections to the cluster IP over all three backends', async () => {
    await proxy.sync([httpService()]);
    const seen = await backendsSeen(CLUSTER_IP, 30);
    expect(seen).toHaveLength(30);
    expect(new Set(seen)).toEqual(new Set(BACKENDS));
  });

  it('sends no new connection to an endpoint that left', async () => {
    const [gone, ...rest] = backends;
    await proxy.sync([httpService({}, rest)]);
    const seen = await backendsSeen(CLUSTER_IP, 30);
    expect(seen).toHaveLength(30);
    expect(seen).not.toContain(gone!.name);
    expect(new Set(seen)).toEqual(new Set(rest.map((b) => b.name)));
  });

  it('keeps a client on one backend with ClientIP affinity', async () => {
    await proxy.sync([httpService({ sessionAffinity: 'ClientIP', affinityTimeoutSeconds: 60 })]);
    const seen = await backendsSeen(CLUSTER_IP, 20);
    expect(seen).toHaveLength(20);
    expect(new Set(seen).size).toBe(1);
  });

  it('answers the node port on 127.0.0.1 from the host', async () => {
    await proxy.sync([httpService()]);
    const seen = new Set<string>();
    for (let i = 0; i < 15; i++) {
      const response = await hostRequest('127.0.0.1', NODE_PORT);
      expect(response).toMatch(/^HTTP\/1\.[01] 200/);
      seen.add(/backend=(\w+)/.exec(response)?.[1] ?? response);
    }
    expect([...seen].every((name) => (BACKENDS as readonly string[]).includes(name))).toBe(true);
    expect(seen.size).toBeGreaterThan(1);
  });

  it('keeps the rules and an established connection across an agent restart', async () => {
    await proxy.sync([httpService()]);
    const socket = connect({ host: '127.0.0.1', port: NODE_PORT });
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    const ended = once(socket, 'end');
    await once(socket, 'connect');
    socket.write('GET / HTTP/1.0\r\n');

    await proxy.stop();
    // The agent is gone; its rules still carry the traffic.
    expect(await backendsSeen(CLUSTER_IP, 3)).toHaveLength(3);
    proxy = newProxy();
    await proxy.start();
    await proxy.sync([httpService()]);
    const nat = (await natSave()).split('\n');
    expect(nat.filter((line) => line === `-A PREROUTING -j ${PREFIX}-SERVICES`)).toHaveLength(1);
    expect(nat.filter((line) => line === `-A POSTROUTING -j ${PREFIX}-POSTROUTING`)).toHaveLength(
      1,
    );

    // The request started before the restart finishes on the same connection.
    socket.write('\r\n');
    await ended;
    expect(Buffer.concat(chunks).toString('utf8')).toMatch(/^HTTP\/1\.[01] 200[\s\S]*backend=\w+/);
  });

  it('carries UDP to its endpoint', async () => {
    await proxy.sync([httpService(), udpService()]);
    const pid = (await client.inspect()).State.Pid;
    const reply = await output(
      nodeInNetns(
        pid,
        `const s = require('node:dgram').createSocket('udp4');
         const t = setTimeout(() => { console.log('no reply'); s.close(); }, 3000);
         s.on('message', (m) => { console.log(String(m)); clearTimeout(t); s.close(); });
         s.send('hello', 53, '${UDP_IP}');`,
      ),
    );
    expect(reply.trim()).toBe('echo:hello');
  });

  it('refuses connections at once to a service without endpoints', async () => {
    await proxy.sync([httpService({}, [])]);
    const started = Date.now();
    const { stdout, stderr } = await execIn(
      client,
      `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ${CLUSTER_IP} 80; echo exit=$?`,
    );
    expect(stdout).not.toContain('backend=');
    expect(stdout).toContain('exit=1');
    expect(stderr).toMatch(/refused/i);
    expect(Date.now() - started).toBeLessThan(2_500);
    expect(await hostRequest('127.0.0.1', NODE_PORT)).toBe('ECONNREFUSED');
  });

  it('lets traffic to the range without rules time out in the sink, never leave', async () => {
    await proxy.sync([]);
    const nat = await natSave();
    expect(nat).not.toContain(`${PREFIX}-SVC-`);
    expect(nat).not.toContain(`${PREFIX}-SEP-`);
    // Counting rules (no target) on the way out: into the sink, and anywhere else.
    const counters = [
      ['-d', CIDR, '-o', SINK, '-m', 'comment', '--comment', 'btest-sink'],
      ['-d', CIDR, '!', '-o', SINK, '-m', 'comment', '--comment', 'btest-elsewhere'],
    ];
    for (const rule of counters)
      await run('iptables', ['-t', 'mangle', '-A', 'POSTROUTING', ...rule]);
    try {
      await sinkTraffic();
      const save = (await run('iptables-save', ['-c', '-t', 'mangle'])).stdout;
      const packets = (tag: string) =>
        Number(new RegExp(`^\\[(\\d+):\\d+\\].*${tag}`, 'm').exec(save)?.[1] ?? Number.NaN);
      expect(packets('btest-sink')).toBeGreaterThan(0);
      expect(packets('btest-elsewhere')).toBe(0);
    } finally {
      for (const rule of counters)
        await run('iptables', ['-t', 'mangle', '-D', 'POSTROUTING', ...rule]);
    }
  });
});

/** A connection from a container and one from the host to the range, with no rules for it. */
async function sinkTraffic(): Promise<void> {
  const started = Date.now();
  const { stdout } = await execIn(
    client,
    `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 ${CLUSTER_IP} 80; echo exit=$?`,
  );
  expect(stdout).toContain('exit=1');
  expect(stdout).not.toContain('backend=');
  expect(Date.now() - started).toBeGreaterThanOrEqual(1_900);
  // From the host the sink's missing neighbour answers first: unreachable, still local.
  expect(['timeout', 'EHOSTUNREACH']).toContain(await hostRequest(CLUSTER_IP, 80, 1_500));
  const route = (await run('ip', ['route', 'get', '10.97.200.1'])).stdout;
  expect(route).toContain(`dev ${SINK}`);
}

describe('service proxy on iptables, its range', () => {
  it('refuses a service range that overlaps a network of the host', async () => {
    const clash = createServiceProxy({
      serviceCidr: '172.17.128.0/24',
      chainPrefix: 'BCLASH',
      sinkDevice: 'berth-svcx0',
    });
    await expect(clash.start()).rejects.toMatchObject({ code: 'PROXY_RANGE_CONFLICT' });
    expect((await run('ip', ['link'])).stdout).not.toContain('berth-svcx0');
    expect(await natSave()).not.toContain('BCLASH');
  });
});
