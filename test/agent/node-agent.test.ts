import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../operator/agent/lifecycle/clock.js';
import type { PodStatusReport } from '../../operator/agent/lifecycle/status-types.js';
import { createNodeAgent, type NodeAgent, pullPolicyOf } from '../../operator/agent/node-agent.js';
import { LABELS } from '../../operator/agent/runtime.js';
import type { Container, Pod } from '../../operator/model/generated/types.js';
import { FakeRuntime } from './fake-runtime.js';

const NODE = 'node-a';
const IMAGE = 'busybox:1';

function pod(
  name: string,
  spec: Partial<Pod['spec']> = {},
  container: Partial<Container> = {},
): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default' },
    spec: {
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 5,
      containers: [{ name: 'app', image: IMAGE, imagePullPolicy: 'IfNotPresent', ...container }],
      ...spec,
    },
  };
}

/** Polls (real time, the agent's clock stands still) until the check passes or 5 s pass. */
async function until<T>(check: () => T | undefined | false, what: string): Promise<T> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const value = check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Lets pending promise chains (a probe scheduling its next run) finish. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
}

let clock: ManualClock;
let runtime: FakeRuntime;
let dataDir: string;
let agents: NodeAgent[];

beforeEach(async () => {
  clock = new ManualClock(Date.UTC(2026, 0, 1));
  runtime = new FakeRuntime(clock);
  runtime.images.add(IMAGE);
  dataDir = await mkdtemp(join(tmpdir(), 'berth-agent-'));
  agents = [];
});

afterEach(async () => {
  for (const agent of agents) await agent.stop();
  await rm(dataDir, { recursive: true, force: true });
});

function newAgent(
  node = NODE,
  limits: { stopTimeoutMs?: number; runtimeTimeoutMs?: number } = {},
): NodeAgent {
  const agent = createNodeAgent({
    ...limits,
    runtime,
    node,
    dataDir,
    clock,
    hostIp: '10.0.0.1',
    orphanGraceSeconds: 1,
  });
  agents.push(agent);
  return agent;
}

function statusOf(agent: NodeAgent, name: string): PodStatusReport | undefined {
  return agent.pods().find((report) => report.name === name)?.status;
}

function containerState(agent: NodeAgent, name: string) {
  return statusOf(agent, name)?.containerStatuses[0];
}

function runningOf(name: string, container = 'app') {
  return runtime.containersOf(name, container).find((c) => c.state === 'running');
}

describe('node agent with a fake runtime', () => {
  it('runs a pod: sandbox, container, Running and Ready status with IPs', async () => {
    const agent = newAgent();
    agent.setDesiredPods([pod('web')], 'v1');
    await agent.start();
    const status = await until(() => {
      const s = statusOf(agent, 'web');
      return (
        s?.phase === 'Running' &&
        s.conditions.some((c) => c.type === 'Ready' && c.status === 'True') &&
        s
      );
    }, 'web running and ready');
    expect(status.podIP).toMatch(/^172\.17\.0\.\d+$/);
    expect(status.hostIP).toBe('10.0.0.1');
    expect(status.containerStatuses[0]).toMatchObject({
      name: 'app',
      ready: true,
      restartCount: 0,
      image: IMAGE,
    });
    expect(runtime.sandboxesOf('web')).toHaveLength(1);
    expect(runtime.calls.filter((c) => c.startsWith('pull'))).toEqual([]);
    expect(agent.pods()[0]?.uid).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('restarts a killed container of an Always pod at once, then backs off 10 s (CrashLoopBackOff)', async () => {
    const agent = newAgent();
    agent.setDesiredPods([pod('web')], 'v1');
    await agent.start();
    const first = await until(() => runningOf('web'), 'first container');
    runtime.exit(first.id, 137);
    const second = await until(() => runningOf('web'), 'restarted container');
    expect(second.labels[LABELS.restartCount]).toBe('1');
    await until(() => containerState(agent, 'web')?.restartCount === 1, 'restartCount 1 in status');
    expect(containerState(agent, 'web')?.lastState.terminated).toMatchObject({
      exitCode: 137,
      reason: 'Error',
    });

    runtime.exit(second.id, 1);
    await until(
      () => containerState(agent, 'web')?.state.waiting?.reason === 'CrashLoopBackOff',
      'CrashLoopBackOff',
    );
    expect(runningOf('web')).toBeUndefined();
    clock.advance(9_000);
    await new Promise((resolve) => setImmediate(resolve));
    expect(runningOf('web')).toBeUndefined();
    clock.advance(1_000);
    const third = await until(() => runningOf('web'), 'restart after 10 s');
    expect(third.labels[LABELS.restartCount]).toBe('2');
  });

  it.each([
    ['Never', 1, 'Failed', 1],
    ['Never', 0, 'Succeeded', 1],
    ['OnFailure', 0, 'Succeeded', 1],
  ] as const)(
    'restartPolicy %s, exit %i: phase %s',
    async (policy, exitCode, phase, containers) => {
      runtime.exitOnStart.set('app', exitCode);
      const agent = newAgent();
      agent.setDesiredPods([pod('job', { restartPolicy: policy })], 'v1');
      await agent.start();
      await until(() => statusOf(agent, 'job')?.phase === phase, `phase ${phase}`);
      expect(runtime.containersOf('job', 'app')).toHaveLength(containers);
      expect(containerState(agent, 'job')?.state.terminated?.exitCode).toBe(exitCode);
    },
  );

  it('stops the containers of a dead sandbox; under Never the pod then fails, with no new sandbox', async () => {
    const agent = newAgent();
    agent.setDesiredPods([pod('once', { restartPolicy: 'Never' })], 'v1');
    await agent.start();
    const running = await until(() => runningOf('once'), 'running');
    const sandbox = runtime.sandboxesOf('once')[0]!;
    runtime.exit(sandbox.id, 137);
    await until(() => statusOf(agent, 'once')?.phase === 'Failed', 'Failed');
    expect(runtime.calls).toContain(`stop ${running.id} 5`);
    expect(containerState(agent, 'once')?.state.terminated?.exitCode).toBe(137);
    expect(runtime.sandboxesOf('once')).toEqual([]);
    expect(runtime.calls.filter((c) => c === 'createSandbox once')).toHaveLength(1);
  });

  it('restarts an OnFailure pod that failed', async () => {
    runtime.exitOnStart.set('app', 3);
    const agent = newAgent();
    agent.setDesiredPods([pod('job', { restartPolicy: 'OnFailure' })], 'v1');
    await agent.start();
    await until(() => containerState(agent, 'job')?.restartCount === 1, 'one restart');
    await until(
      () => containerState(agent, 'job')?.state.waiting?.reason === 'CrashLoopBackOff',
      'back-off after the second failure',
    );
    expect(statusOf(agent, 'job')?.phase).toBe('Running');
  });

  it('reports ErrImagePull then ImagePullBackOff for an image it cannot pull, and keeps other pods running', async () => {
    const agent = newAgent();
    agent.setDesiredPods([pod('bad', {}, { image: 'nowhere/missing:1' }), pod('good')], 'v1');
    await agent.start();
    await until(
      () => containerState(agent, 'bad')?.state.waiting?.reason === 'ErrImagePull',
      'ErrImagePull',
    );
    expect(containerState(agent, 'bad')?.state.waiting?.message).toContain('no such host');
    expect(statusOf(agent, 'bad')?.phase).toBe('Pending');
    clock.advance(500);
    await until(
      () => containerState(agent, 'bad')?.state.waiting?.reason === 'ImagePullBackOff',
      'ImagePullBackOff',
    );
    const pulls = runtime.calls.filter((c) => c === 'pull nowhere/missing:1').length;
    clock.advance(600);
    await until(
      () => runtime.calls.filter((c) => c === 'pull nowhere/missing:1').length > pulls,
      'a retry',
    );
    await until(() => statusOf(agent, 'good')?.phase === 'Running', 'good running');
  });

  it('never pulls for Never, and reports ErrImageNeverPull', async () => {
    const agent = newAgent();
    agent.setDesiredPods([pod('never', {}, { image: 'absent:1', imagePullPolicy: 'Never' })], 'v1');
    await agent.start();
    await until(
      () => containerState(agent, 'never')?.state.waiting?.reason === 'ErrImageNeverPull',
      'ErrImageNeverPull',
    );
    expect(runtime.calls.some((c) => c.startsWith('pull'))).toBe(false);
  });

  it('pulls an Always image even when present', async () => {
    runtime.pullable.add(IMAGE);
    const agent = newAgent();
    agent.setDesiredPods([pod('always', {}, { imagePullPolicy: 'Always' })], 'v1');
    await agent.start();
    await until(() => runningOf('always'), 'running');
    expect(runtime.calls).toContain(`pull ${IMAGE}`);
  });

  it('reports a host port that is taken, and runs the pod once it is free', async () => {
    runtime.takenHostPorts.add(8080);
    const agent = newAgent();
    agent.setDesiredPods(
      [pod('ported', {}, { ports: [{ containerPort: 80, hostPort: 8080 }] })],
      'v1',
    );
    await agent.start();
    const status = await until(
      () =>
        statusOf(agent, 'ported')?.reason === 'FailedCreatePodSandBox' && statusOf(agent, 'ported'),
      'sandbox failure in status',
    );
    expect(status.message).toContain('port is already allocated');
    expect(status.containerStatuses[0]?.state.waiting?.reason).toBe('ContainerCreating');
    runtime.takenHostPorts.clear();
    clock.advance(1_000);
    await until(
      () => statusOf(agent, 'ported')?.phase === 'Running',
      'running after the port is free',
    );
    expect(statusOf(agent, 'ported')?.reason).toBeUndefined();
  });

  it('shows RunContainerError for a start that fails, retries it, and counts no restart', async () => {
    runtime.startErrors.set('app', 'exec: "nope": executable file not found in $PATH');
    const agent = newAgent();
    agent.setDesiredPods([pod('broken')], 'v1');
    await agent.start();
    await until(
      () => containerState(agent, 'broken')?.state.waiting?.reason === 'RunContainerError',
      'RunContainerError',
    );
    expect(containerState(agent, 'broken')?.state.waiting?.message).toContain(
      'executable file not found',
    );
    expect(runtime.containersOf('broken', 'app')).toEqual([]);
    runtime.startErrors.clear();
    clock.advance(1_000);
    const running = await until(() => runningOf('broken'), 'running after the retry');
    expect(running.labels[LABELS.restartCount]).toBe('0');
  });

  it('runs init containers one by one to success before the app container', async () => {
    runtime.exitOnStart.set('init-a', 0);
    runtime.exitOnStart.set('init-b', 0);
    const agent = newAgent();
    agent.setDesiredPods(
      [
        pod('seeded', {
          initContainers: [
            { name: 'init-a', image: IMAGE, imagePullPolicy: 'IfNotPresent' },
            { name: 'init-b', image: IMAGE, imagePullPolicy: 'IfNotPresent' },
          ],
        }),
      ],
      'v1',
    );
    await agent.start();
    await until(() => statusOf(agent, 'seeded')?.phase === 'Running', 'running');
    const creates = runtime.calls.filter((c) => c.startsWith('createContainer seeded/'));
    expect(creates).toEqual([
      'createContainer seeded/init-a',
      'createContainer seeded/init-b',
      'createContainer seeded/app',
    ]);
    const status = statusOf(agent, 'seeded')!;
    expect(status.initContainerStatuses?.map((c) => c.state.terminated?.reason)).toEqual([
      'Completed',
      'Completed',
    ]);
    expect(status.conditions.find((c) => c.type === 'Initialized')?.status).toBe('True');
  });

  it('fails a Never pod whose init container fails, never starting the app container', async () => {
    runtime.exitOnStart.set('init-a', 2);
    const agent = newAgent();
    agent.setDesiredPods(
      [
        pod('doomed', {
          restartPolicy: 'Never',
          initContainers: [{ name: 'init-a', image: IMAGE, imagePullPolicy: 'IfNotPresent' }],
        }),
      ],
      'v1',
    );
    await agent.start();
    await until(() => statusOf(agent, 'doomed')?.phase === 'Failed', 'Failed');
    const status = statusOf(agent, 'doomed')!;
    expect(status.initContainerStatuses?.[0]?.state.terminated?.exitCode).toBe(2);
    expect(status.containerStatuses[0]?.state.waiting?.reason).toBe('PodInitializing');
    expect(status.conditions.find((c) => c.type === 'Initialized')).toMatchObject({
      status: 'False',
      reason: 'ContainersNotInitialized',
    });
    expect(runtime.containersOf('doomed', 'app')).toEqual([]);
  });

  it('retries a failing init container of an Always pod with back-off, the pod Pending', async () => {
    runtime.exitOnStart.set('init-a', 1);
    const agent = newAgent();
    agent.setDesiredPods(
      [
        pod('retrying', {
          initContainers: [{ name: 'init-a', image: IMAGE, imagePullPolicy: 'IfNotPresent' }],
        }),
      ],
      'v1',
    );
    await agent.start();
    await until(
      () =>
        statusOf(agent, 'retrying')?.initContainerStatuses?.[0]?.state.waiting?.reason ===
        'CrashLoopBackOff',
      'init CrashLoopBackOff',
    );
    expect(statusOf(agent, 'retrying')?.initContainerStatuses?.[0]?.restartCount).toBe(1);
    expect(statusOf(agent, 'retrying')?.phase).toBe('Pending');
    runtime.exitOnStart.set('init-a', 0);
    clock.advance(10_000);
    await until(
      () => statusOf(agent, 'retrying')?.phase === 'Running',
      'running once init succeeds',
    );
  });

  it('reports a volume it cannot prepare, and runs the other pods', async () => {
    const agent = newAgent();
    agent.setDesiredPods(
      [
        pod(
          'secretive',
          { volumes: [{ name: 'creds', secret: { secretName: 'db' } }] },
          { volumeMounts: [{ name: 'creds', mountPath: '/creds' }] },
        ),
        pod('plain'),
      ],
      'v1',
    );
    await agent.start();
    const status = await until(
      () => statusOf(agent, 'secretive')?.reason === 'FailedMount' && statusOf(agent, 'secretive'),
      'FailedMount',
    );
    expect(status.message).toContain('creds');
    expect(status.phase).toBe('Pending');
    expect(runtime.sandboxesOf('secretive')).toEqual([]);
    await until(() => statusOf(agent, 'plain')?.phase === 'Running', 'plain running');
  });

  it('starts while the engine does not answer, shows why, and catches up when it does', async () => {
    runtime.listError = new Error('connect ENOENT /var/run/docker.sock');
    const agent = newAgent();
    agent.setDesiredPods([pod('web')], 'v1');
    await agent.start();
    await until(() => statusOf(agent, 'web')?.reason === 'SyncError', 'SyncError in status');
    expect(statusOf(agent, 'web')?.message).toContain('ENOENT');
    runtime.listError = undefined;
    clock.advance(10_000);
    await until(
      () => statusOf(agent, 'web')?.phase === 'Running',
      'running once the engine answers',
    );
    expect(statusOf(agent, 'web')?.reason).toBeUndefined();
  });

  it('replaces a container whose spec changed, and the whole pod when a host port changed', async () => {
    const agent = newAgent();
    agent.setDesiredPods([pod('web')], 'v1');
    await agent.start();
    const first = await until(() => runningOf('web'), 'first');
    const sandbox = runtime.sandboxesOf('web')[0]!;
    agent.setDesiredPods([pod('web', {}, { args: ['changed'] })], 'v2');
    const second = await until(() => {
      const c = runningOf('web');
      return c !== undefined && c.id !== first.id && c;
    }, 'replaced container');
    expect(runtime.containers.has(first.id)).toBe(false);
    expect(runtime.sandboxesOf('web')[0]?.id).toBe(sandbox.id);
    expect(runtime.calls).toContain(`stop ${first.id} 5`);

    agent.setDesiredPods(
      [pod('web', {}, { args: ['changed'], ports: [{ containerPort: 80, hostPort: 9090 }] })],
      'v3',
    );
    await until(() => {
      const c = runningOf('web');
      return (
        c !== undefined && c.id !== second.id && runtime.sandboxesOf('web')[0]?.id !== sandbox.id
      );
    }, 'new sandbox and container');
    expect(runtime.sandboxesOf('web')).toHaveLength(1);
  });

  it('stops a removed pod gracefully and removes its containers and sandbox', async () => {
    const agent = newAgent();
    agent.setDesiredPods([pod('web'), pod('other')], 'v1');
    await agent.start();
    const web = await until(() => runningOf('web'), 'web');
    await until(() => runningOf('other'), 'other');
    agent.setDesiredPods([pod('other')], 'v2');
    await until(
      () =>
        runtime.sandboxesOf('web').length === 0 && runtime.containersOf('web', 'app').length === 0,
      'web gone',
    );
    expect(runtime.calls).toContain(`stop ${web.id} 5`);
    expect(agent.pods().map((p) => p.name)).toEqual(['other']);
    expect(runningOf('other')).toBeDefined();
  });

  it('adopts what runs after a restart of the agent, restarting nothing', async () => {
    const first = newAgent();
    first.setDesiredPods([pod('web')], 'v1');
    await first.start();
    const running = await until(() => runningOf('web'), 'running');
    await until(() => statusOf(first, 'web')?.podIP, 'pod IP');
    const podIp = statusOf(first, 'web')?.podIP;
    await first.stop();

    const callsBefore = runtime.calls.length;
    const second = newAgent();
    second.setDesiredPods([pod('web')], 'v1');
    await second.start();
    await until(() => statusOf(second, 'web')?.phase === 'Running', 'adopted and running');
    expect(statusOf(second, 'web')?.podIP).toBe(podIp);
    const mutations = runtime.calls
      .slice(callsBefore)
      .filter((c) => /^(create|start|stop|remove)/.test(c));
    expect(mutations).toEqual([]);
    expect(runningOf('web')?.id).toBe(running.id);
  });

  it("removes orphans of its node only once it knows its pods, and never touches foreign or other nodes' containers", async () => {
    const orphan = runtime.addContainer({
      [LABELS.podName]: 'gone',
      [LABELS.podNamespace]: 'default',
      [LABELS.podUid]: 'u-gone',
      [LABELS.role]: 'container',
      [LABELS.containerName]: 'app',
      [LABELS.node]: NODE,
      [LABELS.owner]: 'berth',
    });
    const otherNode = runtime.addContainer({
      [LABELS.podName]: 'theirs',
      [LABELS.podNamespace]: 'default',
      [LABELS.role]: 'container',
      [LABELS.node]: 'node-b',
      [LABELS.owner]: 'berth',
    });
    const foreign = runtime.addContainer({ 'com.example': 'mine' });
    const agent = newAgent();
    await agent.start();
    // No desired set yet: nothing is an orphan.
    expect(runtime.containers.has(orphan.id)).toBe(true);
    agent.setDesiredPods([], 'v1');
    await until(() => !runtime.containers.has(orphan.id), 'orphan removed');
    expect(runtime.calls).toContain(`stop ${orphan.id} 1`);
    expect(runtime.containers.has(otherNode.id)).toBe(true);
    expect(runtime.containers.has(foreign.id)).toBe(true);
  });

  it('marks a container Ready only after its readiness probe passes, and restarts on liveness failure', async () => {
    const agent = newAgent();
    agent.setDesiredPods(
      [
        pod(
          'probed',
          {},
          {
            readinessProbe: {
              exec: { command: ['ready'] },
              initialDelaySeconds: 5,
              periodSeconds: 2,
            },
            livenessProbe: { exec: { command: ['alive'] }, periodSeconds: 3, failureThreshold: 2 },
          },
        ),
      ],
      'v1',
    );
    await agent.start();
    const first = await until(() => runningOf('probed'), 'running');
    await until(() => statusOf(agent, 'probed')?.phase === 'Running', 'phase Running');
    expect(containerState(agent, 'probed')?.ready).toBe(false);
    clock.advance(5_000);
    await until(
      () => containerState(agent, 'probed')?.ready === true,
      'ready after the first readiness probe',
    );
    expect(runtime.calls).toContain(`exec ${first.id} ready`);

    runtime.execResults.set('alive', 1);
    const livenessRuns = () => runtime.calls.filter((c) => c === `exec ${first.id} alive`).length;
    const before = livenessRuns();
    clock.advance(3_000);
    await until(() => livenessRuns() > before, 'a failing liveness run');
    await settle();
    clock.advance(3_000);
    const restarted = await until(() => {
      const c = runningOf('probed');
      return c !== undefined && c.id !== first.id && c;
    }, 'restart after liveness failure');
    expect(restarted.labels[LABELS.restartCount]).toBe('1');
    expect(runtime.calls).toContain(`stop ${first.id} 5`);
  });

  it('holds liveness and readiness until the startup probe passes, and kills on its failure', async () => {
    runtime.execResults.set('started', 1);
    const agent = newAgent();
    agent.setDesiredPods(
      [
        pod(
          'slow',
          {},
          {
            startupProbe: { exec: { command: ['started'] }, periodSeconds: 1, failureThreshold: 5 },
            readinessProbe: { exec: { command: ['ready'] }, periodSeconds: 1 },
          },
        ),
        pod(
          'never-starts',
          {},
          {
            startupProbe: { exec: { command: ['started'] }, periodSeconds: 1, failureThreshold: 2 },
          },
        ),
      ],
      'v1',
    );
    await agent.start();
    const slow = await until(() => runningOf('slow'), 'slow running');
    const stuck = await until(() => runningOf('never-starts'), 'never-starts running');
    await until(() => statusOf(agent, 'slow')?.phase === 'Running', 'phase Running');
    for (let i = 0; i < 2; i++) {
      clock.advance(1_000);
      await settle();
    }
    expect(containerState(agent, 'slow')).toMatchObject({ started: false, ready: false });
    expect(runtime.calls.some((c) => c === `exec ${slow.id} ready`)).toBe(false);
    // Two startup failures in a row kill the other pod's container; it comes back as a restart.
    const restarted = await until(() => {
      const c = runningOf('never-starts');
      return c !== undefined && c.id !== stuck.id && c;
    }, 'restart after the startup probe failed');
    expect(restarted.labels[LABELS.restartCount]).toBe('1');

    runtime.execResults.set('started', 0);
    for (let i = 0; i < 3; i++) {
      clock.advance(1_000);
      await settle();
    }
    await until(
      () => containerState(agent, 'slow')?.ready === true,
      'ready after startup and readiness',
    );
    expect(containerState(agent, 'slow')?.started).toBe(true);
    expect(runningOf('slow')?.id).toBe(slow.id);
  });

  it('gives up on an engine call past its deadline, shows it, and retries', async () => {
    runtime.hangSandboxes = true;
    const agent = newAgent(NODE, { runtimeTimeoutMs: 100, stopTimeoutMs: 200 });
    agent.setDesiredPods([pod('hung'), pod('also')], 'v1');
    await agent.start();
    const status = await until(
      () => statusOf(agent, 'hung')?.reason === 'FailedCreatePodSandBox' && statusOf(agent, 'hung'),
      'the deadline in status',
    );
    expect(status.message).toContain('did not answer');
    await until(() => statusOf(agent, 'also')?.reason === 'FailedCreatePodSandBox', 'both failed');
    runtime.hangSandboxes = false;
    clock.advance(1_000);
    await until(
      () => statusOf(agent, 'hung')?.phase === 'Running',
      'running once the engine answers',
    );
    await until(() => statusOf(agent, 'also')?.phase === 'Running', 'the other pod too');
  });

  it('stops within stopTimeoutMs even when a pod stop hangs in the engine', async () => {
    runtime.hangingStops.add('app');
    const agent = newAgent(NODE, { stopTimeoutMs: 200 });
    agent.setDesiredPods([pod('stuck')], 'v1');
    await agent.start();
    await until(() => runningOf('stuck'), 'running');
    agent.setDesiredPods([], 'v2');
    await until(() => runtime.calls.some((c) => c.startsWith('stop ')), 'the stop under way');
    const started = Date.now();
    await agent.stop();
    const waited = Date.now() - started;
    expect(waited).toBeGreaterThanOrEqual(150);
    expect(waited).toBeLessThan(3_000);
  });

  it('calls onChange when a status changes, debounced', async () => {
    const agent = newAgent();
    let calls = 0;
    agent.onChange(() => {
      calls++;
    });
    agent.setDesiredPods([pod('web')], 'v1');
    await agent.start();
    await until(() => statusOf(agent, 'web')?.phase === 'Running', 'running');
    clock.advance(100);
    expect(calls).toBeGreaterThanOrEqual(1);
    const before = calls;
    clock.advance(100);
    expect(calls).toBe(before);
  });

  it('serves logs of a pod container, and typed errors for unknown ones', async () => {
    const agent = newAgent();
    agent.setDesiredPods([pod('web')], 'v1');
    await agent.start();
    const running = await until(() => runningOf('web'), 'running');
    const stream = await agent.logs('default', 'web', undefined, { follow: false });
    let text = '';
    for await (const chunk of stream) text += String(chunk);
    expect(text).toBe(`logs of ${running.id}\n`);
    await expect(agent.logs('default', 'nope', undefined, { follow: false })).rejects.toMatchObject(
      {
        code: 'AGENT_POD_NOT_FOUND',
      },
    );
    await expect(agent.logs('default', 'web', 'nope', { follow: false })).rejects.toMatchObject({
      code: 'AGENT_CONTAINER_NOT_FOUND',
      message: 'container nope is not valid for pod web, choose one of: [app]',
    });
    expect(await agent.capacity()).toEqual({ cpu: 4, memoryBytes: 8 * 1024 ** 3 });
  });
});

describe('pullPolicyOf', () => {
  it.each([
    ['busybox', 'Always'],
    ['busybox:latest', 'Always'],
    ['busybox:1', 'IfNotPresent'],
    ['localhost:5000/busybox', 'Always'],
    ['localhost:5000/busybox:2', 'IfNotPresent'],
    ['busybox@sha256:abc', 'IfNotPresent'],
  ])('%s defaults to %s', (image, policy) => {
    expect(pullPolicyOf({ name: 'c', image })).toBe(policy);
  });

  it('keeps a written policy', () => {
    expect(pullPolicyOf({ name: 'c', image: 'busybox', imagePullPolicy: 'Never' })).toBe('Never');
  });
});
