import { describe, expect, it } from 'vitest';
import type { RestartPolicy } from '../../../operator/agent/lifecycle/restart.js';
import {
  type ContainerView,
  computePodStatus,
  podPhase,
  terminatedState,
  withTransitionTimes,
} from '../../../operator/agent/lifecycle/status.js';
import type { ContainerStatusReport } from '../../../operator/agent/lifecycle/status-types.js';
import type { ObservedContainer } from '../../../operator/agent/runtime.js';

function engine(overrides: Partial<ObservedContainer>): ObservedContainer {
  return {
    id: 'abc',
    labels: {},
    role: 'container',
    podNamespace: 'default',
    podName: 'web',
    podUid: 'u',
    containerName: 'app',
    specHash: 'h',
    state: 'running',
    exitCode: undefined,
    startedAt: '2026-01-01T00:00:00.000Z',
    finishedAt: undefined,
    error: undefined,
    oomKilled: false,
    image: 'busybox',
    ...overrides,
  };
}

function view(overrides: Partial<ContainerView>): ContainerView {
  return {
    name: 'app',
    image: 'busybox',
    current: undefined,
    waiting: undefined,
    ready: true,
    restartCount: 0,
    lastTerminated: undefined,
    ...overrides,
  };
}

const running = engine({});
const exit0 = engine({ state: 'exited', exitCode: 0, finishedAt: '2026-01-01T00:00:05.000Z' });
const exit1 = engine({ state: 'exited', exitCode: 1, finishedAt: '2026-01-01T00:00:05.000Z' });

function statuses(...views: ContainerView[]): ContainerStatusReport[] {
  return computePodStatus({
    restartPolicy: 'Always',
    containers: views,
    podIP: undefined,
    hostIP: undefined,
    startTime: undefined,
  }).containerStatuses;
}

describe('container states', () => {
  it('is waiting ContainerCreating with no container yet', () => {
    expect(statuses(view({}))[0]?.state).toEqual({ waiting: { reason: 'ContainerCreating' } });
  });

  it('is running with the start time', () => {
    const [status] = statuses(view({ current: running }));
    expect(status?.state).toEqual({ running: { startedAt: '2026-01-01T00:00:00.000Z' } });
    expect(status?.ready).toBe(true);
    expect(status?.containerID).toBe('docker://abc');
  });

  it('is terminated Completed or Error with the exit code', () => {
    expect(statuses(view({ current: exit0 }))[0]?.state.terminated).toMatchObject({
      exitCode: 0,
      reason: 'Completed',
      finishedAt: '2026-01-01T00:00:05.000Z',
    });
    expect(statuses(view({ current: exit1 }))[0]?.state.terminated?.reason).toBe('Error');
    expect(
      terminatedState(engine({ state: 'exited', exitCode: 137, oomKilled: true })).reason,
    ).toBe('OOMKilled');
    expect(
      terminatedState(engine({ state: 'created', error: 'port is already allocated' })),
    ).toMatchObject({
      exitCode: 128,
      reason: 'ContainerCannotRun',
      message: 'port is already allocated',
    });
  });

  it('shows what the agent holds it back for, and is then never ready', () => {
    const [status] = statuses(
      view({ current: exit1, waiting: { reason: 'CrashLoopBackOff', message: 'back-off' } }),
    );
    expect(status?.state).toEqual({ waiting: { reason: 'CrashLoopBackOff', message: 'back-off' } });
    expect(status?.ready).toBe(false);
  });
});

describe('podPhase', () => {
  const asStatus = (v: ContainerView): ContainerStatusReport => statuses(v)[0]!;
  const creating = asStatus(view({}));
  const up = asStatus(view({ current: running }));
  const done = asStatus(view({ current: exit0 }));
  const failed = asStatus(view({ current: exit1 }));
  const crashLooping = asStatus(
    view({
      waiting: { reason: 'CrashLoopBackOff' },
      lastTerminated: terminatedState(exit1),
    }),
  );

  it.each<[string, RestartPolicy, ContainerStatusReport[], string]>([
    ['no containers known', 'Always', [], 'Pending'],
    ['one still creating', 'Always', [up, creating], 'Pending'],
    ['all running', 'Never', [up, up], 'Running'],
    ['one running, one done', 'Never', [up, done], 'Running'],
    ['all done, Never', 'Never', [done, done], 'Succeeded'],
    ['one failed, Never', 'Never', [done, failed], 'Failed'],
    ['all done, OnFailure', 'OnFailure', [done], 'Succeeded'],
    ['one failed, OnFailure (it restarts)', 'OnFailure', [failed], 'Running'],
    ['all exited, Always (they restart)', 'Always', [done, failed], 'Running'],
    ['crash looping, Always', 'Always', [crashLooping], 'Running'],
  ])('%s under %s: %s', (_name, policy, list, phase) => {
    expect(podPhase(policy, list)).toBe(phase);
  });
});

describe('computePodStatus', () => {
  it('is Ready when running and every container is ready', () => {
    const status = computePodStatus({
      restartPolicy: 'Always',
      containers: [view({ current: running }), view({ name: 'side', current: running })],
      podIP: '172.17.0.5',
      hostIP: '10.0.0.1',
      startTime: '2026-01-01T00:00:00.000Z',
    });
    expect(status.phase).toBe('Running');
    expect(status.conditions.find((c) => c.type === 'Ready')).toEqual({
      type: 'Ready',
      status: 'True',
    });
    expect(status).toMatchObject({
      podIP: '172.17.0.5',
      hostIP: '10.0.0.1',
      startTime: '2026-01-01T00:00:00.000Z',
    });
  });

  it('names the unready containers', () => {
    const status = computePodStatus({
      restartPolicy: 'Always',
      containers: [
        view({ current: running }),
        view({ name: 'side', current: running, ready: false }),
      ],
      podIP: undefined,
      hostIP: undefined,
      startTime: undefined,
    });
    expect(status.conditions.find((c) => c.type === 'Ready')).toEqual({
      type: 'Ready',
      status: 'False',
      reason: 'ContainersNotReady',
      message: 'containers with unready status: [side]',
    });
  });

  it('is not Ready once completed, with reason PodCompleted', () => {
    const status = computePodStatus({
      restartPolicy: 'Never',
      containers: [view({ current: exit0 })],
      podIP: undefined,
      hostIP: undefined,
      startTime: undefined,
    });
    expect(status.phase).toBe('Succeeded');
    expect(status.conditions.find((c) => c.type === 'Ready')).toMatchObject({
      status: 'False',
      reason: 'PodCompleted',
    });
  });
});

describe('init containers', () => {
  it('keeps the pod Pending and not Initialized while they run, Failed when one fails under Never', () => {
    const base = {
      containers: [view({})],
      podIP: undefined,
      hostIP: undefined,
      startTime: undefined,
      initialized: false,
    };
    const running = computePodStatus({
      ...base,
      restartPolicy: 'Always',
      initContainers: [view({ name: 'init', current: engine({}) })],
    });
    expect(running.phase).toBe('Pending');
    expect(running.containerStatuses[0]?.state.waiting?.reason).toBe('PodInitializing');
    expect(running.conditions.find((c) => c.type === 'Initialized')).toEqual({
      type: 'Initialized',
      status: 'False',
      reason: 'ContainersNotInitialized',
      message: 'containers with incomplete status: [init]',
    });
    const failed = computePodStatus({
      ...base,
      restartPolicy: 'Never',
      initContainers: [view({ name: 'init', current: exit1 })],
    });
    expect(failed.phase).toBe('Failed');
    const retried = computePodStatus({
      ...base,
      restartPolicy: 'OnFailure',
      initContainers: [view({ name: 'init', current: exit1 })],
    });
    expect(retried.phase).toBe('Pending');
  });

  it('has no initContainerStatuses for a pod without init containers', () => {
    const status = computePodStatus({
      restartPolicy: 'Always',
      containers: [view({ current: running })],
      podIP: undefined,
      hostIP: undefined,
      startTime: undefined,
    });
    expect(status.initContainerStatuses).toBeUndefined();
  });
});

describe('withTransitionTimes', () => {
  it('keeps the time of a condition that did not change and stamps one that flipped', () => {
    const input = {
      restartPolicy: 'Always' as const,
      podIP: undefined,
      hostIP: undefined,
      startTime: undefined,
    };
    const first = withTransitionTimes(
      computePodStatus({ ...input, containers: [view({})] }),
      undefined,
      'T1',
    );
    expect(first.conditions.map((c) => c.lastTransitionTime)).toEqual(['T1', 'T1', 'T1', 'T1']);
    const second = withTransitionTimes(
      computePodStatus({ ...input, containers: [view({ current: running })] }),
      first,
      'T2',
    );
    const times = Object.fromEntries(second.conditions.map((c) => [c.type, c.lastTransitionTime]));
    expect(times).toEqual({
      PodScheduled: 'T1',
      Initialized: 'T1',
      ContainersReady: 'T2',
      Ready: 'T2',
    });
  });
});
