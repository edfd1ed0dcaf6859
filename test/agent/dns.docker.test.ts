import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type DnsServer, startDnsServer } from '../../operator/agent/dns/index.js';
import type { ServiceView } from '../../operator/services/types.js';
import {
  containerOutput,
  docker,
  removeContainerIfPresent,
  TEST_LABELS,
  uniqueTestName,
} from '../helpers/docker.js';
import { ensureTestImage, TEST_IMAGE } from '../helpers/docker-images.js';

/**
 * The agent's DNS server as pods meet it: bound to port 53 on the default bridge's gateway, and
 * containers started with that server, the cluster search path and ndots:5 (Kubernetes'
 * ClusterFirst), resolving services with the image's own resolver (busybox nslookup).
 */

const web: ServiceView = {
  namespace: 'default',
  name: 'web',
  type: 'ClusterIP',
  // A loopback address, so that `ping` can show what the libc resolver found without a packet
  // leaving the container (a real cluster IP lives on the node, not in the test's reach).
  clusterIP: '127.0.0.7',
  sessionAffinity: 'None',
  ports: [{ name: 'http', protocol: 'TCP', port: 80 }],
  endpoints: [{ ip: '172.17.9.1', pod: 'default/web-a', node: 'node-1', ports: { http: 8080 } }],
};

const db: ServiceView = {
  namespace: 'shop',
  name: 'db',
  type: 'ClusterIP',
  sessionAffinity: 'None',
  ports: [{ name: 'mysql', protocol: 'TCP', port: 3306 }],
  endpoints: [
    { ip: '172.17.9.2', pod: 'shop/db-0', node: 'node-1', ports: { mysql: 3306 } },
    { ip: '172.17.9.3', pod: 'shop/db-1', node: 'node-1', ports: { mysql: 3306 } },
  ],
};

let gateway = '';
let server: DnsServer | undefined;
const created: string[] = [];

beforeAll(async () => {
  await ensureTestImage(docker());
  const bridge = (await docker().getNetwork('bridge').inspect()) as {
    IPAM?: { Config?: { Gateway?: string }[] };
  };
  gateway = bridge.IPAM?.Config?.find((config) => config.Gateway)?.Gateway ?? '';
  expect(gateway).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
  // Pods' resolv.conf names no port: the server must hold 53 on the gateway address.
  server = await startDnsServer({ host: gateway, port: 53, hostsFile: false, services: [web] });
});

afterEach(async () => {
  for (const id of created.splice(0)) await removeContainerIfPresent(docker(), id);
});

afterAll(async () => {
  await server?.close();
});

/** Runs `nslookup ARGS` in a pod-like container (cluster DNS, search path of `namespace`). */
function nslookup(namespace: string, ...args: string[]): Promise<{ code: number; output: string }> {
  return runInPod(namespace, ['nslookup', ...args]);
}

/** Runs `cmd` in a container set up as a pod's: the cluster DNS server and search path. */
async function runInPod(
  namespace: string,
  cmd: string[],
): Promise<{ code: number; output: string }> {
  const container = await docker().createContainer({
    name: uniqueTestName('berth-test-dns'),
    Image: TEST_IMAGE,
    Cmd: cmd,
    Labels: { ...TEST_LABELS },
    HostConfig: {
      NetworkMode: 'bridge',
      Dns: [gateway],
      DnsSearch: [`${namespace}.svc.cluster.local`, 'svc.cluster.local', 'cluster.local'],
      DnsOptions: ['ndots:5'],
    },
  });
  created.push(container.id);
  await container.start();
  const { StatusCode } = (await container.wait()) as { StatusCode: number };
  const { stdout, stderr } = await containerOutput(docker(), container.id);
  return { code: StatusCode, output: stdout + stderr };
}

/**
 * The addresses nslookup found: `Address: IP` lines (the server's own line ends in `:53`).
 * Busybox's nslookup asks every search domain and exits 1 when any of them is NXDOMAIN, even
 * after a hit, so its exit code says nothing here; the answers do.
 */
function resolved(output: string): string[] {
  return [...output.matchAll(/^Address:\s*(\d+\.\d+\.\d+\.\d+)$/gm)]
    .map((match) => match[1] ?? '')
    .sort();
}

describe('cluster DNS from a container on the default bridge', () => {
  it('resolves a service by its short name to its cluster IP (nslookup)', async () => {
    const short = await nslookup('default', 'web');
    expect(short.output).toMatch(/^Name:\s*web\.default\.svc\.cluster\.local$/m);
    expect(resolved(short.output)).toEqual(['127.0.0.7']);
  });

  it("resolves name, name.namespace and name.namespace.svc through the libc resolver's search path", async () => {
    // Busybox's nslookup skips the search path for names with a dot; its ping resolves with
    // glibc, which follows ndots:5 and the search list as any program in a pod would.
    const script = ['web', 'web.default', 'web.default.svc', 'nope']
      .map((name) => `ping -c1 -W1 ${name} 2>&1 | head -n1`)
      .join('; ');
    const { output } = await runInPod('other', ['sh', '-c', script]);
    expect(output.trim().split('\n')).toEqual([
      "ping: bad address 'web'", // from namespace other, web.other does not exist
      'PING web.default (127.0.0.7): 56 data bytes',
      'PING web.default.svc (127.0.0.7): 56 data bytes',
      "ping: bad address 'nope'",
    ]);
    const { output: local } = await runInPod('default', [
      'sh',
      '-c',
      'ping -c1 -W1 web | head -n1',
    ]);
    expect(local.trim()).toBe('PING web (127.0.0.7): 56 data bytes');
  });

  it('answers from the latest update: a headless service resolves to its ready pods', async () => {
    server?.update([web, db]);
    const headless = await nslookup('shop', 'db');
    expect(headless.output).toMatch(/^Name:\s*db\.shop\.svc\.cluster\.local$/m);
    expect(resolved(headless.output)).toEqual(['172.17.9.2', '172.17.9.3']);

    server?.update([web, { ...db, endpoints: db.endpoints.slice(1) }]);
    const fewer = await nslookup('shop', 'db');
    expect(resolved(fewer.output)).toEqual(['172.17.9.3']);
  });

  it('fails for an unknown service and for names outside the cluster', async () => {
    const unknown = await nslookup('default', 'nope');
    expect(unknown.code, unknown.output).not.toBe(0);
    expect(resolved(unknown.output)).toEqual([]);
    expect(unknown.output).toContain("can't find nope.default.svc.cluster.local: NXDOMAIN");

    const outside = await nslookup('default', 'example.com');
    expect(outside.code, outside.output).not.toBe(0);
    expect(resolved(outside.output)).toEqual([]);
    // Refused, never forwarded: the search-path names are NXDOMAIN, the name itself REFUSED.
    expect(outside.output).toContain("can't find example.com: REFUSED");
  });
});
