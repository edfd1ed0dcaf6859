import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDockerRuntime, type DockerRuntime } from '../../operator/agent/docker-runtime.js';
import { PAUSE_IMAGE } from '../../operator/agent/images.js';
import {
  LABELS,
  type ObservedContainer,
  type PreparedVolume,
  type RuntimeEvent,
  type SandboxInfo,
} from '../../operator/agent/runtime.js';
import { BerthError } from '../../operator/model/errors.js';
import type { Container, Pod } from '../../operator/model/generated/types.js';
import { docker, uniqueTestName } from '../helpers/docker.js';
import { ensureRecipeImage, ensureTestImage, TEST_IMAGE } from '../helpers/docker-images.js';
import { busyboxRecipe } from '../images/busybox.js';

/**
 * The Docker adapter against the real engine. Each file uses its own node names, so parallel
 * test files never see each other's containers; afterAll removes every container of them.
 */

const ENTRYPOINT_IMAGE = 'berth-test/entrypoint:1';
const node = uniqueTestName('test-node');
const otherNode = uniqueTestName('test-node');
let runtime: DockerRuntime;

beforeAll(async () => {
  runtime = createDockerRuntime();
  await ensureTestImage(docker());
  const busybox = busyboxRecipe();
  await ensureRecipeImage(docker(), ENTRYPOINT_IMAGE, {
    entries: busybox.entries,
    changes: [
      ...busybox.changes,
      'ENTRYPOINT ["/bin/echo", "from-entrypoint"]',
      'CMD ["from-cmd"]',
    ],
  });
});

afterAll(async () => {
  for (const name of [node, otherNode]) {
    for (const container of await runtime.list(name)) await runtime.remove(container.id);
  }
});

function makePod(
  name: string,
  containers: Partial<Container>[],
  extra: Partial<Pod['spec']> = {},
): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', uid: randomUUID() },
    spec: {
      terminationGracePeriodSeconds: 30,
      ...extra,
      containers: containers.map((container, index) => ({
        name: `c${index}`,
        image: TEST_IMAGE,
        command: ['sleep', '3600'],
        ...container,
      })),
    },
  };
}

async function createIn(
  pod: Pod,
  sandbox: SandboxInfo,
  index: number,
  options: {
    node?: string;
    volumes?: ReadonlyMap<string, PreparedVolume>;
    restartCount?: number;
  } = {},
): Promise<string> {
  return runtime.createContainer({
    pod,
    node: options.node ?? node,
    sandbox,
    containerIndex: index,
    specHash: `hash-${index}`,
    restartCount: options.restartCount ?? 0,
    volumes: options.volumes ?? new Map(),
  });
}

/** Sandbox plus every container, started. */
async function runPod(pod: Pod, onNode = node): Promise<{ sandbox: SandboxInfo; ids: string[] }> {
  const sandbox = await runtime.createSandbox(pod, onNode);
  const ids: string[] = [];
  for (let index = 0; index < pod.spec.containers.length; index++) {
    const id = await createIn(pod, sandbox, index, { node: onNode });
    await runtime.start(id);
    ids.push(id);
  }
  return { sandbox, ids };
}

async function removePod(onNode: string, podName: string): Promise<void> {
  for (const container of await runtime.list(onNode)) {
    if (container.podName === podName) await runtime.remove(container.id);
  }
}

async function waitFor<T>(
  probe: () => Promise<T | undefined>,
  what: string,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(50);
  }
}

async function observed(id: string, onNode = node): Promise<ObservedContainer | undefined> {
  return (await runtime.list(onNode)).find((container) => container.id === id);
}

function waitExited(id: string): Promise<ObservedContainer> {
  return waitFor(async () => {
    const container = await observed(id);
    return container?.state === 'exited' ? container : undefined;
  }, `container ${id} to exit`);
}

async function logsOf(id: string): Promise<string> {
  const stream = await runtime.logs(id, { follow: false });
  let text = '';
  for await (const chunk of stream) text += chunk.toString();
  return text;
}

async function sh(id: string, script: string): Promise<{ exitCode: number; output: string }> {
  return runtime.exec(id, ['sh', '-c', script], 10_000);
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

describe('pods on Docker', () => {
  it('shares one network namespace and hostname; the IP survives a container re-creation', async () => {
    const pod = makePod(uniqueTestName('web'), [
      {
        command: [
          'sh',
          '-c',
          'mkdir -p /www && echo served-by-c0 > /www/index.html && exec httpd -f -p 8080 -h /www',
        ],
      },
      {},
    ]);
    try {
      const { sandbox, ids } = await runPod(pod);
      const [server, client] = ids as [string, string];
      expect(sandbox.ip).toMatch(/^\d+\.\d+\.\d+\.\d+$/);

      const fetchFromClient = () => sh(client, 'wget -qO- http://127.0.0.1:8080/');
      const first = await waitFor(async () => {
        const result = await fetchFromClient();
        return result.exitCode === 0 ? result : undefined;
      }, 'httpd in c0');
      expect(first.output).toBe('served-by-c0\n');
      expect((await sh(client, 'hostname')).output.trim()).toBe(pod.metadata.name);
      expect((await sh(server, 'hostname')).output.trim()).toBe(pod.metadata.name);

      // The agent's restart: the old container goes, a new one joins the same sandbox.
      await runtime.remove(server);
      const replacement = await createIn(pod, sandbox, 0, { restartCount: 1 });
      await runtime.start(replacement);
      const second = await waitFor(async () => {
        const result = await fetchFromClient();
        return result.exitCode === 0 ? result : undefined;
      }, 'httpd in the new c0');
      expect(second.output).toBe('served-by-c0\n');
      const inspected = await docker().getContainer(sandbox.id).inspect();
      expect(inspected.NetworkSettings.Networks.bridge?.IPAddress).toBe(sandbox.ip);
      const ipInContainer = await sh(replacement, "ip -4 addr show eth0 | grep -o 'inet [0-9.]*'");
      expect(ipInContainer.output.trim()).toBe(`inet ${sandbox.ip}`);

      const labels = (await observed(replacement))?.labels;
      expect(labels).toMatchObject({
        [LABELS.role]: 'container',
        [LABELS.containerName]: 'c0',
        [LABELS.restartCount]: '1',
        [LABELS.specHash]: 'hash-0',
        [LABELS.node]: node,
        [LABELS.owner]: 'berth',
        [LABELS.podName]: pod.metadata.name,
        [LABELS.podNamespace]: 'default',
        [LABELS.podUid]: pod.metadata.uid,
      });
      const sandboxObserved = await observed(sandbox.id);
      expect(sandboxObserved?.ip).toBe(sandbox.ip);
      expect((await observed(replacement))?.ip).toBeUndefined();
      expect(sandboxObserved).toMatchObject({
        role: 'sandbox',
        containerName: '',
        state: 'running',
        image: PAUSE_IMAGE,
      });
    } finally {
      await removePod(node, pod.metadata.name ?? '');
    }
  });

  it('applies Kubernetes command/args semantics over the image ENTRYPOINT and CMD', async () => {
    const pod = makePod(uniqueTestName('cmd'), [
      { image: ENTRYPOINT_IMAGE, command: undefined },
      { image: ENTRYPOINT_IMAGE, command: undefined, args: ['my-args'] },
      { image: ENTRYPOINT_IMAGE, command: ['/bin/echo', 'my-command'] },
      { image: ENTRYPOINT_IMAGE, command: ['/bin/echo', 'my-command'], args: ['my-args'] },
    ]);
    try {
      const { ids } = await runPod(pod);
      const outputs: string[] = [];
      for (const id of ids) {
        const exited = await waitExited(id);
        expect(exited.exitCode).toBe(0);
        outputs.push((await logsOf(id)).trim());
      }
      expect(outputs).toEqual([
        'from-entrypoint from-cmd',
        'from-entrypoint my-args',
        'my-command',
        'my-command my-args',
      ]);
    } finally {
      await removePod(node, pod.metadata.name ?? '');
    }
  });

  it('gives env with fieldRef values, working dir, and limits', async () => {
    const pod = makePod(uniqueTestName('env'), [
      {
        command: [
          'sh',
          '-c',
          'echo "ip=$POD_IP name=$POD_NAME ns=$NS url=$URL node=$NODE pwd=$(pwd)"; sleep 3600',
        ],
        workingDir: '/tmp',
        env: [
          { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
          { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
          { name: 'NS', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
          { name: 'NODE', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
          { name: 'URL', value: 'http://$(POD_IP):80' },
        ],
        resources: { limits: { memory: '64Mi', cpu: '500m' } },
      },
    ]);
    try {
      const { sandbox, ids } = await runPod(pod);
      const id = ids[0] as string;
      const line = await waitFor(async () => {
        const text = await logsOf(id);
        return text.includes('\n') ? text.trim() : undefined;
      }, 'env output');
      expect(line).toBe(
        `ip=${sandbox.ip} name=${pod.metadata.name} ns=default url=http://${sandbox.ip}:80 node=${node} pwd=/tmp`,
      );
      const inspected = await docker().getContainer(id).inspect();
      expect(inspected.HostConfig.Memory).toBe(64 * 1024 * 1024);
      expect(inspected.HostConfig.NanoCpus).toBe(500_000_000);
      expect(inspected.HostConfig.RestartPolicy?.Name ?? '').toMatch(/^(no|)$/);
    } finally {
      await removePod(node, pod.metadata.name ?? '');
    }
  });

  it('enforces the memory limit: a container going over it is killed', async () => {
    const pod = makePod(uniqueTestName('oom'), [
      {
        // tail keeps the last line in memory, and /dev/zero never ends one.
        command: ['tail', '-n', '1', '/dev/zero'],
        resources: { limits: { memory: '16Mi' } },
      },
    ]);
    try {
      const { ids } = await runPod(pod);
      const exited = await waitExited(ids[0] as string);
      // SIGKILL from the kernel's OOM killer. Docker 20.10's OOMKilled flag (mapped to
      // oomKilled) and its oom event both depend on a cgroup notification that is lost under
      // load, so neither is asserted here.
      expect(exited.exitCode).toBe(137);
    } finally {
      await removePod(node, pod.metadata.name ?? '');
    }
  });

  it('publishes hostPort on the sandbox, reachable on 127.0.0.1', async () => {
    const hostPort = await freePort();
    const pod = makePod(uniqueTestName('port'), [
      {
        command: [
          'sh',
          '-c',
          'mkdir -p /www && echo via-host-port > /www/index.html && exec httpd -f -p 8080 -h /www',
        ],
        ports: [{ containerPort: 8080, hostPort, protocol: 'TCP' }],
      },
    ]);
    try {
      await runPod(pod);
      const body = await waitFor(async () => {
        try {
          const response = await fetch(`http://127.0.0.1:${hostPort}/`, {
            signal: AbortSignal.timeout(2_000),
          });
          return response.ok ? await response.text() : undefined;
        } catch {
          return undefined;
        }
      }, 'the host port');
      expect(body).toBe('via-host-port\n');

      // A second pod asking for the same host port: the sandbox cannot start, nothing is left.
      const clash = makePod(uniqueTestName('clash'), [
        { ports: [{ containerPort: 80, hostPort }] },
      ]);
      const failure = await runtime.createSandbox(clash, node).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(BerthError);
      expect((failure as BerthError).code).toBe('RUNTIME_SANDBOX_FAILED');
      expect((failure as BerthError).message).toMatch(/port|allocated|bind/i);
      expect((await runtime.list(node)).filter((c) => c.podName === clash.metadata.name)).toEqual(
        [],
      );
    } finally {
      await removePod(node, pod.metadata.name ?? '');
    }
  });

  it('refuses a container whose env cannot be resolved with a config error', async () => {
    const pod = makePod(uniqueTestName('bad-env'), [
      { env: [{ name: 'S', valueFrom: { secretKeyRef: { name: 'x', key: 'y' } } }] },
    ]);
    try {
      const sandbox = await runtime.createSandbox(pod, node);
      const failure = await createIn(pod, sandbox, 0).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect((failure as BerthError).code).toBe('RUNTIME_CONTAINER_CONFIG');
      expect((failure as BerthError).message).toContain('secretKeyRef');
    } finally {
      await removePod(node, pod.metadata.name ?? '');
    }
  });
});

describe('pod and container settings', () => {
  it('sandbox: spec.hostname, hostAliases and DNS options; container: user and read-only root', async () => {
    const pod = makePod(
      uniqueTestName('settings'),
      [{ securityContext: { runAsUser: 1234, runAsGroup: 99, readOnlyRootFilesystem: true } }],
      {
        hostname: 'custom-host',
        hostAliases: [{ ip: '10.1.2.3', hostnames: ['alias-one', 'alias-two'] }],
        dnsConfig: { searches: ['example.test'], options: [{ name: 'ndots', value: '2' }] },
      },
    );
    try {
      const { ids } = await runPod(pod);
      const id = ids[0] as string;
      expect((await sh(id, 'hostname')).output.trim()).toBe('custom-host');
      expect((await sh(id, 'grep 10.1.2.3 /etc/hosts')).output).toMatch(/alias-one/);
      expect((await sh(id, 'grep 10.1.2.3 /etc/hosts')).output).toMatch(/alias-two/);
      const resolv = (await sh(id, 'cat /etc/resolv.conf')).output;
      expect(resolv).toMatch(/search example\.test/);
      expect(resolv).toMatch(/ndots:2/);
      expect((await sh(id, 'id -u; id -g')).output).toBe('1234\n99\n');
      const write = await sh(id, 'echo x > /probe-file');
      expect(write.exitCode).not.toBe(0);
      expect(write.output).toMatch(/read-only/i);
    } finally {
      await removePod(node, pod.metadata.name ?? '');
    }
  });

  it('runAsNonRoot refuses root (the image USER counts) and accepts an explicit uid', async () => {
    const pod = makePod(uniqueTestName('nonroot'), [
      { securityContext: { runAsNonRoot: true } },
      { securityContext: { runAsNonRoot: true, runAsUser: 1000 } },
    ]);
    try {
      const sandbox = await runtime.createSandbox(pod, node);
      const failure = await createIn(pod, sandbox, 0).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect((failure as BerthError).code).toBe('RUNTIME_CONTAINER_CONFIG');
      expect((failure as BerthError).message).toMatch(/would run as root/);
      const id = await createIn(pod, sandbox, 1);
      await runtime.start(id);
      expect((await sh(id, 'id -u')).output).toBe('1000\n');
    } finally {
      await removePod(node, pod.metadata.name ?? '');
    }
  });

  it('hostNetwork and hostIPC: the pod gets the host IP and the host IPC namespace', async () => {
    const pod = makePod(uniqueTestName('hostnet'), [{}], { hostNetwork: true, hostIPC: true });
    try {
      const { sandbox, ids } = await runPod(pod);
      const inspected = await docker().getContainer(sandbox.id).inspect();
      expect(inspected.HostConfig.NetworkMode).toBe('host');
      expect(sandbox.ip).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
      const links = (await sh(ids[0] as string, 'ip -4 addr')).output;
      expect(links).toContain(sandbox.ip);
      const container = await docker()
        .getContainer(ids[0] as string)
        .inspect();
      expect(container.HostConfig.IpcMode).toBe('host');
    } finally {
      await removePod(node, pod.metadata.name ?? '');
    }
  });
});

describe('images', () => {
  it('knows which images are present', async () => {
    expect(await runtime.hasImage(TEST_IMAGE)).toBe(true);
    expect(await runtime.hasImage('berth-test/never-built:1')).toBe(false);
  });

  it('a pull without a reachable registry resolves ok:false with the engine message, quickly', async () => {
    const started = Date.now();
    const result = await runtime.pull('127.0.0.1:1/berth/missing:1');
    expect(result.ok).toBe(false);
    expect(result.message).toMatch(/127\.0\.0\.1:1|connection refused|dial/i);
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('a pull from a registry that never answers ends at the deadline', async () => {
    const sockets: import('node:net').Socket[] = [];
    const silent = createServer((socket) => {
      sockets.push(socket); // accepted, never answered
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const address = silent.address();
    if (address === null || typeof address === 'string') throw new Error('no address');
    try {
      const impatient = createDockerRuntime({ pullTimeoutMs: 500 });
      const started = Date.now();
      const result = await impatient.pull(`127.0.0.1:${address.port}/berth/silent:1`);
      expect(result.ok).toBe(false);
      expect(result.message).toMatch(/within 500 ms|timeout|deadline/i);
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it('makes the pause image locally, also when asked twice at once', async () => {
    const other = createDockerRuntime();
    await Promise.all([runtime.ensurePauseImage(), other.ensurePauseImage()]);
    const image = await docker().getImage(PAUSE_IMAGE).inspect();
    expect(image.Comment).toMatch(/^berth helper image/);
  });
});

describe('lifecycle calls', () => {
  it('lists only its own node and streams only its own node events', async () => {
    const events: RuntimeEvent[] = [];
    const unsubscribe = runtime.events(node, (event) => events.push(event));
    const mine = makePod(uniqueTestName('mine'), [{}]);
    const theirs = makePod(uniqueTestName('theirs'), [{}]);
    try {
      const own = await runPod(mine);
      const foreign = await runPod(theirs, otherNode);
      const ownId = own.ids[0] as string;
      const foreignId = foreign.ids[0] as string;

      const listed = await runtime.list(node);
      expect(listed.map((c) => c.id)).toEqual(expect.arrayContaining([own.sandbox.id, ownId]));
      expect(listed.map((c) => c.id)).not.toContain(foreignId);
      expect(listed.map((c) => c.id)).not.toContain(foreign.sandbox.id);
      expect((await runtime.list(otherNode)).map((c) => c.id)).toContain(foreignId);

      await waitFor(
        async () =>
          events.some((e) => e.containerId === ownId && e.action === 'start') ? true : undefined,
        'the start event of my container',
      );
      await docker().getContainer(ownId).kill();
      await docker().getContainer(foreignId).kill();
      const died = await waitFor(
        async () => events.find((e) => e.containerId === ownId && e.action === 'die'),
        'the die event of my container',
      );
      expect(died.labels[LABELS.containerName]).toBe('c0');
      expect(died.labels[LABELS.podName]).toBe(mine.metadata.name);
      expect(events.every((e) => e.labels[LABELS.node] === node)).toBe(true);
      expect(events.map((e) => e.containerId)).not.toContain(foreignId);

      const exited = await waitExited(ownId);
      expect(exited.exitCode).toBe(137);
      expect(exited.finishedAt).toBeDefined();
      expect(exited.startedAt).toBeDefined();
    } finally {
      unsubscribe();
      await removePod(node, mine.metadata.name ?? '');
      await removePod(otherNode, theirs.metadata.name ?? '');
    }
  });

  it('stop sends SIGTERM, waits the grace, then kills; stop and remove are idempotent', async () => {
    const pod = makePod(uniqueTestName('stop'), [
      // Ignores TERM (says so): only the kill after the grace ends it.
      {
        command: ['sh', '-c', 'trap "echo got-term" TERM; echo ready; while :; do sleep 0.1; done'],
      },
      // Leaves at once on TERM.
      { command: ['sh', '-c', 'trap "exit 3" TERM; echo ready; while :; do sleep 0.1; done'] },
    ]);
    try {
      const { ids } = await runPod(pod);
      const [stubborn, polite] = ids as [string, string];
      for (const id of ids)
        await waitFor(
          async () => ((await logsOf(id)).includes('ready') ? true : undefined),
          'ready',
        );

      const politeStarted = Date.now();
      await runtime.stop(polite, 30);
      expect(Date.now() - politeStarted).toBeLessThan(5_000);
      expect((await observed(polite))?.exitCode).toBe(3);

      const stubbornStarted = Date.now();
      await runtime.stop(stubborn, 2);
      const took = Date.now() - stubbornStarted;
      expect(took).toBeGreaterThanOrEqual(1_900);
      expect(took).toBeLessThan(15_000);
      expect((await observed(stubborn))?.exitCode).toBe(137);
      expect(await logsOf(stubborn)).toContain('got-term');

      await runtime.stop(stubborn, 2);
      await runtime.remove(stubborn);
      await runtime.remove(stubborn);
      await runtime.stop(stubborn, 2);
      expect(await observed(stubborn)).toBeUndefined();
    } finally {
      await removePod(node, pod.metadata.name ?? '');
    }
  });

  it('exec returns exit code and output, and fails with a code on timeout', async () => {
    const pod = makePod(uniqueTestName('exec'), [{}]);
    try {
      const { ids } = await runPod(pod);
      const id = ids[0] as string;
      const result = await sh(id, 'echo out; echo err >&2; exit 4');
      expect(result.exitCode).toBe(4);
      // The two streams are separate pipes: their relative order is not kept.
      expect(result.output.split('\n').sort()).toEqual(['', 'err', 'out']);
      const started = Date.now();
      const failure = await runtime.exec(id, ['sleep', '30'], 300).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect((failure as BerthError).code).toBe('RUNTIME_EXEC_TIMEOUT');
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      await removePod(node, pod.metadata.name ?? '');
    }
  });

  it('follows logs as plain text, stdout and stderr together', async () => {
    const pod = makePod(uniqueTestName('logs'), [
      {
        command: [
          'sh',
          '-c',
          'i=0; while :; do i=$((i+1)); echo "line $i"; echo "warn $i" >&2; sleep 0.1; done',
        ],
      },
    ]);
    try {
      const { ids } = await runPod(pod);
      const stream = await runtime.logs(ids[0] as string, { follow: true });
      let text = '';
      stream.on('data', (chunk: Buffer) => {
        text += chunk.toString();
      });
      await waitFor(
        async () => (text.includes('line 5\n') ? true : undefined),
        'five lines followed',
      );
      (stream as unknown as { destroy(): void }).destroy();
      // Whole lines from both streams (their relative order is not kept), no frame headers.
      for (const line of text.trimEnd().split('\n')) expect(line).toMatch(/^(line|warn) \d+$/);
      expect(text).toContain('line 1\n');
      expect(text).toContain('warn 3\n');

      const tail = await runtime.logs(ids[0] as string, { follow: false, tail: 2 });
      let tailText = '';
      for await (const chunk of tail) tailText += chunk.toString();
      expect(tailText.trim().split('\n')).toHaveLength(2);
    } finally {
      await removePod(node, pod.metadata.name ?? '');
    }
  });

  it('reports the host capacity', async () => {
    const capacity = await runtime.capacity();
    expect(capacity.cpu).toBeGreaterThan(0);
    expect(capacity.memoryBytes).toBeGreaterThan(64 * 1024 * 1024);
  });
});
