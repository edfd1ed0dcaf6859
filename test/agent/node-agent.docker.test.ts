import { access, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDockerRuntime, type DockerRuntime } from '../../operator/agent/docker-runtime.js';
import { type Clock, ManualClock } from '../../operator/agent/lifecycle/clock.js';
import { podUid } from '../../operator/agent/lifecycle/spec-hash.js';
import type {
  ContainerStatusReport,
  PodStatusReport,
} from '../../operator/agent/lifecycle/status-types.js';
import { createNodeAgent, type NodeAgent } from '../../operator/agent/node-agent.js';
import { podVolumeDir } from '../../operator/agent/volumes.js';
import type { Container, Pod } from '../../operator/model/generated/types.js';
import {
  docker,
  removeContainerIfPresent,
  TEST_LABELS,
  uniqueTestName,
} from '../helpers/docker.js';
import { ensureTestImage, TEST_IMAGE } from '../helpers/docker-images.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The node agent on the real engine. Nodes are named uniquely per file so parallel test
 * files never see each other's containers; afterAll removes every container of them.
 */

const nodeA = uniqueTestName('test-node');
const nodeB = uniqueTestName('test-node');
let runtime: DockerRuntime;
let dataDir: string;
const agents: NodeAgent[] = [];
const foreignIds: string[] = [];

beforeAll(async () => {
  runtime = createDockerRuntime();
  await ensureTestImage(docker());
  await runtime.ensurePauseImage();
  dataDir = await mkdtemp(join(tmpdir(), 'berth-agent-docker-'));
});

async function removeNodeContainers(): Promise<void> {
  for (const node of [nodeA, nodeB]) {
    for (const container of await runtime.list(node)) await runtime.remove(container.id);
  }
}

// Each test starts from an empty node: leftovers would be orphans the next agent removes.
afterEach(async () => {
  for (const agent of agents.splice(0)) await agent.stop();
  await removeNodeContainers();
});

afterAll(async () => {
  for (const agent of agents.splice(0)) await agent.stop();
  await removeNodeContainers();
  for (const id of foreignIds) await removeContainerIfPresent(docker(), id);
  if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
});

function newAgent(node = nodeA, clock?: Clock): NodeAgent {
  const agent = createNodeAgent({
    ...(clock !== undefined ? { clock } : {}),
    runtime,
    node,
    dataDir,
    relistIntervalMs: 2_000,
    orphanGraceSeconds: 1,
  });
  agents.push(agent);
  return agent;
}

function makePod(
  name: string,
  containers: Partial<Container>[],
  spec: Partial<Pod['spec']> = {},
): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default' },
    spec: {
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 2,
      ...spec,
      containers: containers.map((container, index) => ({
        name: `c${index}`,
        image: TEST_IMAGE,
        command: ['sleep', '3600'],
        ...container,
      })),
    },
  };
}

const until = waitFor;

function statusOf(agent: NodeAgent, name: string): PodStatusReport | undefined {
  return agent.pods().find((report) => report.name === name)?.status;
}

function containerOf(
  agent: NodeAgent,
  name: string,
  container = 'c0',
): ContainerStatusReport | undefined {
  return statusOf(agent, name)?.containerStatuses.find((status) => status.name === container);
}

function engineId(status: ContainerStatusReport | undefined): string | undefined {
  return status?.containerID?.replace('docker://', '');
}

function isReady(status: PodStatusReport | undefined): boolean {
  return status?.conditions.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

describe('node agent on Docker', () => {
  it('runs a pod and brings a killed container back at once, with restartCount 1', async () => {
    const agent = newAgent();
    agent.setDesiredPods([makePod('kill-me', [{}])], 'v1');
    await agent.start();
    const first = await until(
      () => containerOf(agent, 'kill-me')?.state.running && containerOf(agent, 'kill-me'),
      'running',
    );
    const status = statusOf(agent, 'kill-me');
    expect(status?.phase).toBe('Running');
    expect(status?.podIP).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect(isReady(status)).toBe(true);

    const killedAt = Date.now();
    await docker().getContainer(engineId(first)!).kill();
    const again = await until(() => {
      const current = containerOf(agent, 'kill-me');
      return (
        current?.state.running !== undefined && engineId(current) !== engineId(first) && current
      );
    }, 'running again');
    const elapsed = Date.now() - killedAt;
    expect(again.restartCount).toBe(1);
    expect(again.lastState.terminated?.exitCode).toBe(137);
    // Events wake the worker: no backoff on a first restart, well under the relist period.
    expect(elapsed).toBeLessThan(1_500);
    expect(statusOf(agent, 'kill-me')?.podIP).toBe(status?.podIP);
  });

  it('makes the pod again in a new sandbox when every container died (as after a dockerd restart)', async () => {
    const agent = newAgent();
    agent.setDesiredPods([makePod('revive', [{}])], 'v1');
    await agent.start();
    const first = await until(
      () => containerOf(agent, 'revive')?.state.running && containerOf(agent, 'revive'),
      'running',
    );
    const sandbox = (await runtime.list(nodeA)).find(
      (c) => c.podName === 'revive' && c.role === 'sandbox',
    );
    expect(sandbox).toBeDefined();
    // What a dockerd restart leaves behind: every container exited, none restarted by Docker.
    await Promise.all([
      docker().getContainer(engineId(first)!).kill(),
      docker().getContainer(sandbox!.id).kill(),
    ]);
    const again = await until(() => {
      const current = containerOf(agent, 'revive');
      return (
        current?.state.running !== undefined && engineId(current) !== engineId(first) && current
      );
    }, 'running again');
    expect(again.restartCount).toBe(1);
    const sandboxes = (await runtime.list(nodeA)).filter(
      (c) => c.podName === 'revive' && c.role === 'sandbox',
    );
    expect(sandboxes.map((c) => c.state)).toEqual(['running']);
    expect(sandboxes[0]?.id).not.toBe(sandbox!.id);
    await until(() => statusOf(agent, 'revive')?.podIP, 'pod IP of the new sandbox');
  });

  it('makes a new sandbox when only the sandbox died, restarting the containers in it', async () => {
    const agent = newAgent();
    agent.setDesiredPods([makePod('lost-net', [{}])], 'v1');
    await agent.start();
    const first = await until(
      () => containerOf(agent, 'lost-net')?.state.running && containerOf(agent, 'lost-net'),
      'running',
    );
    const sandbox = (await runtime.list(nodeA)).find(
      (c) => c.podName === 'lost-net' && c.role === 'sandbox',
    );
    await docker().getContainer(sandbox!.id).kill();
    const again = await until(() => {
      const current = containerOf(agent, 'lost-net');
      return (
        current?.state.running !== undefined && engineId(current) !== engineId(first) && current
      );
    }, 'running again in a new sandbox');
    expect(again.restartCount).toBe(1);
    const sandboxes = (await runtime.list(nodeA)).filter(
      (c) => c.podName === 'lost-net' && c.role === 'sandbox',
    );
    expect(sandboxes.map((c) => c.state)).toEqual(['running']);
  });

  it.each([
    ['Never', 1, 'Failed'],
    ['Never', 0, 'Succeeded'],
    ['OnFailure', 0, 'Succeeded'],
  ] as const)('restartPolicy %s, exit %i: %s', async (policy, exitCode, phase) => {
    const agent = newAgent();
    const name = `exit-${policy.toLowerCase()}-${exitCode}`;
    agent.setDesiredPods(
      [makePod(name, [{ command: ['sh', '-c', `exit ${exitCode}`] }], { restartPolicy: policy })],
      'v1',
    );
    await agent.start();
    await until(() => statusOf(agent, name)?.phase === phase, `phase ${phase}`);
    const container = containerOf(agent, name);
    expect(container?.state.terminated).toMatchObject({
      exitCode,
      reason: exitCode === 0 ? 'Completed' : 'Error',
    });
    expect(container?.restartCount).toBe(0);
  });

  it('restarts an OnFailure container that fails, then backs off', async () => {
    const agent = newAgent();
    agent.setDesiredPods(
      [makePod('crashy', [{ command: ['sh', '-c', 'exit 3'] }], { restartPolicy: 'OnFailure' })],
      'v1',
    );
    await agent.start();
    await until(
      () => containerOf(agent, 'crashy')?.state.waiting?.reason === 'CrashLoopBackOff',
      'CrashLoopBackOff',
    );
    const status = containerOf(agent, 'crashy');
    expect(status?.restartCount).toBe(1);
    expect(status?.lastState.terminated?.exitCode).toBe(3);
    expect(statusOf(agent, 'crashy')?.phase).toBe('Running');
  });

  it('follows the CrashLoopBackOff schedule on a clock the test moves: at once, then 10 s, then 20 s', async () => {
    const clock = new ManualClock(Date.now());
    const agent = newAgent(nodeA, clock);
    agent.setDesiredPods([makePod('crashloop', [{ command: ['sh', '-c', 'exit 1'] }])], 'v1');
    await agent.start();
    const waitingWith = (restarts: number) =>
      until(() => {
        const status = containerOf(agent, 'crashloop');
        return (
          status?.state.waiting?.reason === 'CrashLoopBackOff' && status.restartCount === restarts
        );
      }, `CrashLoopBackOff after ${restarts} restarts`);
    // The first exit restarts at once; the second one waits.
    await waitingWith(1);
    const engineContainers = async () =>
      (await runtime.list(nodeA)).filter(
        (c) => c.podName === 'crashloop' && c.role === 'container',
      );
    clock.advance(9_000);
    expect((await engineContainers()).map((c) => c.labels['io.berth.restart-count'])).toEqual([
      '1',
    ]);
    clock.advance(1_000);
    await waitingWith(2);
    clock.advance(19_000);
    expect((await engineContainers()).map((c) => c.labels['io.berth.restart-count'])).toEqual([
      '2',
    ]);
    clock.advance(1_000);
    await waitingWith(3);
  });

  it('never asks a registry for an IfNotPresent image it has, and says ErrImageNeverPull for Never', async () => {
    const agent = newAgent();
    agent.setDesiredPods(
      [
        makePod('local', [{ imagePullPolicy: 'IfNotPresent' }]),
        makePod('never', [{ image: 'berth-test/not-here:1', imagePullPolicy: 'Never' }]),
      ],
      'v1',
    );
    await agent.start();
    await until(() => isReady(statusOf(agent, 'local')), 'local image used');
    const never = await until(
      () =>
        containerOf(agent, 'never')?.state.waiting?.reason === 'ErrImageNeverPull' &&
        containerOf(agent, 'never'),
      'ErrImageNeverPull',
    );
    expect(never.state.waiting?.message).toContain('berth-test/not-here:1');
  });

  it('restarts a container whose liveness exec fails', async () => {
    const agent = newAgent();
    agent.setDesiredPods(
      [
        makePod(
          'liveness',
          [
            {
              command: ['sh', '-c', 'touch /tmp/alive; sleep 3600'],
              livenessProbe: {
                exec: { command: ['test', '-f', '/tmp/alive'] },
                periodSeconds: 1,
                failureThreshold: 2,
              },
            },
          ],
          { terminationGracePeriodSeconds: 1 },
        ),
      ],
      'v1',
    );
    await agent.start();
    const first = await until(
      () => containerOf(agent, 'liveness')?.state.running && containerOf(agent, 'liveness'),
      'running',
    );
    const exec = await docker()
      .getContainer(engineId(first)!)
      .exec({ Cmd: ['rm', '/tmp/alive'] });
    await exec.start({ Detach: true });
    const again = await until(() => {
      const current = containerOf(agent, 'liveness');
      return (
        current?.state.running !== undefined && engineId(current) !== engineId(first) && current
      );
    }, 'restarted after liveness failure');
    expect(again.restartCount).toBe(1);
  });

  it('turns Ready on readiness httpGet and tcpSocket, and not on a failing httpGet', async () => {
    const agent = newAgent();
    const serve = (port: number) => [
      'sh',
      '-c',
      `mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p ${port} -h /www`,
    ];
    agent.setDesiredPods(
      [
        makePod('ready', [
          {
            command: serve(8080),
            readinessProbe: { httpGet: { path: '/', port: 8080 }, periodSeconds: 1 },
          },
          {
            command: serve(8081),
            ports: [{ name: 'web', containerPort: 8081 }],
            readinessProbe: { tcpSocket: { port: 'web' }, periodSeconds: 1 },
          },
        ]),
        makePod('unready', [
          {
            command: serve(8080),
            readinessProbe: { httpGet: { path: '/missing', port: 8080 }, periodSeconds: 1 },
          },
        ]),
      ],
      'v1',
    );
    await agent.start();
    await until(() => isReady(statusOf(agent, 'ready')), 'ready');
    expect(statusOf(agent, 'ready')?.containerStatuses.map((c) => c.ready)).toEqual([true, true]);
    // By now the failing probe has run several times.
    await until(() => containerOf(agent, 'unready')?.state.running, 'unready running');
    expect(isReady(statusOf(agent, 'unready'))).toBe(false);
    expect(statusOf(agent, 'unready')?.phase).toBe('Running');
  });

  it('runs an init container to completion first; its output is there for the app', async () => {
    const agent = newAgent();
    agent.setDesiredPods(
      [
        makePod(
          'init-seed',
          [
            {
              command: ['sh', '-c', 'test -f /work/seed && exec sleep 3600'],
              volumeMounts: [{ name: 'work', mountPath: '/work' }],
            },
          ],
          {
            volumes: [{ name: 'work', emptyDir: {} }],
            initContainers: [
              {
                name: 'seed',
                image: TEST_IMAGE,
                command: ['sh', '-c', 'echo seeded > /work/seed'],
                volumeMounts: [{ name: 'work', mountPath: '/work' }],
              },
            ],
          },
        ),
      ],
      'v1',
    );
    await agent.start();
    await until(() => isReady(statusOf(agent, 'init-seed')), 'ready after init');
    const status = statusOf(agent, 'init-seed')!;
    expect(status.initContainerStatuses?.[0]?.state.terminated).toMatchObject({
      exitCode: 0,
      reason: 'Completed',
    });
    expect(status.containerStatuses[0]?.restartCount).toBe(0);
  });

  it('adopts running pods after the agent stops and a new one starts: nothing restarted', async () => {
    const first = newAgent();
    const pod = makePod('adopt', [{}, {}]);
    first.setDesiredPods([pod], 'v1');
    await first.start();
    await until(() => isReady(statusOf(first, 'adopt')), 'ready');
    const before = statusOf(first, 'adopt')!;
    await first.stop();

    const second = newAgent();
    second.setDesiredPods([pod], 'v1');
    await second.start();
    await until(() => isReady(statusOf(second, 'adopt')), 'ready under the new agent');
    const after = statusOf(second, 'adopt')!;
    expect(after.containerStatuses.map((c) => c.containerID)).toEqual(
      before.containerStatuses.map((c) => c.containerID),
    );
    expect(after.containerStatuses.map((c) => c.state.running?.startedAt)).toEqual(
      before.containerStatuses.map((c) => c.state.running?.startedAt),
    );
    expect(after.containerStatuses.map((c) => c.restartCount)).toEqual([0, 0]);
    expect(after.podIP).toBe(before.podIP);
  });

  it("removes its orphans, never a foreign container, never another node's", async () => {
    const foreign = await docker().createContainer({
      Image: TEST_IMAGE,
      Cmd: ['sleep', '3600'],
      Labels: { ...TEST_LABELS },
      name: uniqueTestName('foreign'),
    });
    foreignIds.push(foreign.id);
    await foreign.start();

    const a = newAgent(nodeA);
    const b = newAgent(nodeB);
    a.setDesiredPods([makePod('orphan', [{}])], 'v1');
    b.setDesiredPods([makePod('other-node', [{}])], 'v1');
    await Promise.all([a.start(), b.start()]);
    await until(
      () => isReady(statusOf(a, 'orphan')) && isReady(statusOf(b, 'other-node')),
      'both running',
    );
    await a.stop();

    // A new agent of node A that is given nothing: the orphan goes, the rest stays.
    const fresh = newAgent(nodeA);
    await fresh.start();
    fresh.setDesiredPods([], 'v2');
    await until(
      async () => (await runtime.list(nodeA)).every((c) => c.podName !== 'orphan'),
      'orphan removed',
    );
    expect((await docker().getContainer(foreign.id).inspect()).State.Running).toBe(true);
    expect(isReady(statusOf(b, 'other-node'))).toBe(true);
    expect((await runtime.list(nodeB)).filter((c) => c.state === 'running')).toHaveLength(2);
  });

  it('stops a removed pod gracefully (SIGTERM first) and removes its emptyDir', async () => {
    const agent = newAgent();
    const pod = makePod(
      'graceful',
      [
        {
          command: ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 0.1; done'],
          volumeMounts: [{ name: 'scratch', mountPath: '/scratch' }],
        },
      ],
      { terminationGracePeriodSeconds: 30, volumes: [{ name: 'scratch', emptyDir: {} }] },
    );
    agent.setDesiredPods([pod], 'v1');
    await agent.start();
    const running = await until(
      () => containerOf(agent, 'graceful')?.state.running && containerOf(agent, 'graceful'),
      'running',
    );
    const volume = podVolumeDir(dataDir, podUid(pod), 'scratch');
    await access(volume);

    const removedAt = Date.now();
    agent.setDesiredPods([], 'v2');
    await until(
      async () => (await runtime.list(nodeA)).every((c) => c.podName !== 'graceful'),
      'pod removed',
    );
    // It left on SIGTERM, long before the 30 s grace would have run out.
    expect(Date.now() - removedAt).toBeLessThan(10_000);
    await expect(docker().getContainer(engineId(running)!).inspect()).rejects.toMatchObject({
      statusCode: 404,
    });
    await until(
      async () =>
        access(volume).then(
          () => false,
          () => true,
        ),
      'emptyDir removed',
    );
    expect(agent.pods()).toEqual([]);
  });

  it('keeps the node running when a pod cannot: missing image, host port taken', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '0.0.0.0', resolve));
    const address = blocker.address();
    const takenPort = typeof address === 'object' && address !== null ? address.port : 0;
    try {
      const agent = newAgent();
      agent.setDesiredPods(
        [
          makePod('no-image', [{ image: 'berth-test/does-not-exist:1' }]),
          makePod('no-port', [{ ports: [{ containerPort: 80, hostPort: takenPort }] }]),
          makePod('fine', [{}]),
        ],
        'v1',
      );
      await agent.start();
      await until(() => isReady(statusOf(agent, 'fine')), 'the good pod ready');
      const pull = await until(() => {
        const reason = containerOf(agent, 'no-image')?.state.waiting?.reason;
        return (
          (reason === 'ErrImagePull' || reason === 'ImagePullBackOff') &&
          containerOf(agent, 'no-image')
        );
      }, 'image pull failure in status');
      expect(pull.state.waiting?.message).toBeTruthy();
      const portStatus = await until(
        () =>
          statusOf(agent, 'no-port')?.reason === 'FailedCreatePodSandBox' &&
          statusOf(agent, 'no-port'),
        'sandbox failure in status',
      );
      expect(portStatus.message).toMatch(/port|address/i);
      expect(portStatus.phase).toBe('Pending');
      expect(isReady(statusOf(agent, 'fine'))).toBe(true);
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });
});
