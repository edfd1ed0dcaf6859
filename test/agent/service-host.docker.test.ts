import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDockerRuntime, type DockerRuntime } from '../../operator/agent/docker-runtime.js';
import { createNodeAgent, type NodeAgent } from '../../operator/agent/node-agent.js';
import { SERVICE_ENV_ANNOTATION } from '../../operator/agent/pod-env.js';
import {
  createServiceHost,
  type ServiceHost,
  withServiceHost,
} from '../../operator/agent/service-host.js';
import { createServiceProxy, type ServiceProxy } from '../../operator/agent/service-proxy/index.js';
import type { Pod } from '../../operator/model/generated/types.js';
import type { ServiceView } from '../../operator/services/types.js';
import { docker, uniqueTestName } from '../helpers/docker.js';
import { ensureTestImage, TEST_IMAGE } from '../helpers/docker-images.js';
import { waitFor } from '../helpers/wait.js';

/**
 * A node agent on the real engine with its service host: pods get the cluster DNS (the
 * default bridge's gateway, port 53) in resolv.conf, a client pod reaches a service by name
 * through its cluster IP, and a pod made with the service-env annotation has the variables.
 * The proxy runs in a range, chain prefix and sink bridge of the test's own; afterAll removes
 * them, the pods, and puts route_localnet back.
 */

const run = promisify(execFile);

const CIDR = '10.98.0.0/16';
const PREFIX = 'BSHTEST';
const SINK = 'berth-svch0';
const CLUSTER_IP = '10.98.0.10';
const BACKENDS = ['alpha', 'bravo'] as const;

const node = uniqueTestName('svc-node');
let runtime: DockerRuntime;
let dataDir = '';
let gateway = '';
let proxy: ServiceProxy;
let host: ServiceHost;
let agent: NodeAgent & { setServices(services: readonly ServiceView[]): void };
let routeLocalnetBefore = '';

function pod(name: string, script: string, annotations?: Record<string, string>): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'default',
      labels: { app: name.startsWith('web') ? 'web' : name },
      ...(annotations === undefined ? {} : { annotations }),
    },
    spec: {
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 1,
      dnsPolicy: 'ClusterFirst',
      containers: [{ name: 'main', image: TEST_IMAGE, command: ['sh', '-c', script] }],
    },
  };
}

const serviceEnv = JSON.stringify([
  { name: 'WEB_SERVICE_HOST', value: CLUSTER_IP },
  { name: 'WEB_SERVICE_PORT', value: '80' },
]);

const pods: Pod[] = [
  ...BACKENDS.map((name) =>
    pod(
      `web-${name}`,
      `mkdir -p /www && echo backend=${name} > /www/index.html && exec httpd -f -p 80 -h /www`,
    ),
  ),
  pod('client', 'exec sleep 3600', { [SERVICE_ENV_ANNOTATION]: serviceEnv }),
];

/** The pod's IP and its container's engine id once it runs. */
function running(name: string): { ip: string; id: string } | undefined {
  const status = agent.pods().find((report) => report.name === name)?.status;
  const main = status?.containerStatuses.find((c) => c.name === 'main');
  const id = main?.containerID?.replace('docker://', '');
  if (status?.podIP === undefined || main?.state.running === undefined || id === undefined)
    return undefined;
  return { ip: status.podIP, id };
}

function webService(): ServiceView {
  return {
    namespace: 'default',
    name: 'web',
    type: 'ClusterIP',
    clusterIP: CLUSTER_IP,
    sessionAffinity: 'None',
    ports: [{ name: 'http', protocol: 'TCP', port: 80 }],
    endpoints: BACKENDS.map((name) => ({
      ip: running(`web-${name}`)!.ip,
      pod: `default/web-${name}`,
      node,
      ports: { http: 80 },
    })),
  };
}

async function inClient(script: string): Promise<string> {
  const { exitCode, output } = await runtime.exec(
    running('client')!.id,
    ['sh', '-c', script],
    60_000,
  );
  return `${output}\nexit=${exitCode}`;
}

/** `count` HTTP connections from the client pod to `target`; the backends that answered. */
async function backendsSeen(target: string, count: number): Promise<string[]> {
  const output = await inClient(
    `for i in $(seq ${count}); do printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ${target} 80; echo; done`,
  );
  return [...output.matchAll(/backend=(\w+)/g)].map((match) => match[1]!);
}

beforeAll(async () => {
  await ensureTestImage(docker());
  routeLocalnetBefore = (
    await run('sysctl', ['-n', 'net.ipv4.conf.all.route_localnet'])
  ).stdout.trim();
  dataDir = await mkdtemp(join(tmpdir(), 'berth-service-host-'));
  runtime = createDockerRuntime({ clusterDns: {} });
  gateway = await runtime.bridgeGateway();
  expect(gateway).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
  proxy = createServiceProxy({ serviceCidr: CIDR, chainPrefix: PREFIX, sinkDevice: SINK });
  const lines: string[] = [];
  host = createServiceHost({
    serviceCidr: CIDR,
    dnsHost: gateway,
    dnsPort: 53,
    hostsFile: false,
    proxy,
    log: (line) => lines.push(line),
  });
  agent = withServiceHost(
    createNodeAgent({ runtime, node, dataDir, relistIntervalMs: 2_000, orphanGraceSeconds: 1 }),
    host,
  );
  await agent.start();
  // Both halves run: a line here would say why not (e.g. port 53 held by another process).
  expect(lines).toEqual([]);
  expect(host.running()).toEqual({ proxy: true, dns: { host: gateway, port: 53 } });
  agent.setDesiredPods(pods, 'v1');
  for (const { metadata } of pods) {
    await waitFor(() => running(metadata.name!), `pod ${metadata.name} running`, 60_000);
  }
  agent.setServices([webService()]);
  // The backends answer on their own addresses before the service is put in front of them.
  for (const name of BACKENDS) {
    await waitFor(
      async () => (await backendsSeen(running(`web-${name}`)!.ip, 1))[0] === name,
      `web-${name} answering`,
    );
  }
}, 180_000);

afterAll(async () => {
  try {
    await agent?.stop();
    // The host leaves its rules for the next agent; the test's own go with removeRules.
    await proxy?.stop({ removeRules: true });
  } finally {
    if (runtime !== undefined) {
      for (const container of await runtime.list(node)) await runtime.remove(container.id);
    }
    if (routeLocalnetBefore !== '') {
      await run('sysctl', ['-w', `net.ipv4.conf.all.route_localnet=${routeLocalnetBefore}`]);
    }
    if (dataDir !== '') await rm(dataDir, { recursive: true, force: true });
  }
  expect((await run('iptables-save', ['-t', 'nat'])).stdout).not.toContain(PREFIX);
  expect((await run('ip', ['route'])).stdout).not.toContain(SINK);
}, 120_000);

describe('a node agent with its service host', () => {
  it('gives a ClusterFirst pod the cluster DNS in resolv.conf', async () => {
    const resolv = await inClient('cat /etc/resolv.conf');
    expect(resolv).toMatch(new RegExp(`^nameserver ${gateway.replaceAll('.', '\\.')}$`, 'm'));
    expect(resolv).not.toMatch(/^nameserver (?!\d+\.\d+\.\d+\.\d+$)/m);
    expect(resolv.match(/^nameserver /gm)).toHaveLength(1);
    expect(resolv).toMatch(
      /^search default\.svc\.cluster\.local svc\.cluster\.local cluster\.local$/m,
    );
    expect(resolv).toMatch(/^options ndots:5$/m);
  });

  it('resolves the service by name to its cluster IP', async () => {
    const output = await inClient('nslookup web.default.svc.cluster.local');
    expect(output).toMatch(new RegExp(`^Address:\\s*${CLUSTER_IP.replaceAll('.', '\\.')}$`, 'm'));
  });

  it('reaches every backend through the cluster IP by `web` and by `web.default`', async () => {
    const byName = await backendsSeen('web', 20);
    expect(byName).toHaveLength(20);
    expect(new Set(byName)).toEqual(new Set(BACKENDS));
    const byNamespace = await backendsSeen('web.default', 6);
    expect(byNamespace).toHaveLength(6);
    expect(byNamespace.every((name) => (BACKENDS as readonly string[]).includes(name))).toBe(true);
  });

  it('follows a new service set: a backend that left gets no new connections', async () => {
    const only = webService();
    agent.setServices([{ ...only, endpoints: only.endpoints.slice(1) }]);
    await waitFor(async () => {
      const seen = await backendsSeen('web', 10);
      return seen.length === 10 && seen.every((name) => name === BACKENDS[1]);
    }, 'only the remaining backend answering');
    agent.setServices([webService()]);
    await waitFor(
      async () => new Set(await backendsSeen('web', 10)).size === 2,
      'both backends answering again',
    );
  });

  it('gives the pod made with the service-env annotation the service variables', async () => {
    const env = await inClient('env');
    expect(env).toMatch(new RegExp(`^WEB_SERVICE_HOST=${CLUSTER_IP.replaceAll('.', '\\.')}$`, 'm'));
    expect(env).toMatch(/^WEB_SERVICE_PORT=80$/m);
    // The backends were made without the annotation: none.
    const backendEnv = await runtime.exec(running('web-alpha')!.id, ['env'], 30_000);
    expect(backendEnv.output).not.toContain('WEB_SERVICE_HOST');
  });
});
