import { describe, expect, it } from 'vitest';
import {
  type ContainerDecisionInput,
  decideContainer,
  NO_EXITS,
  type RestartPolicy,
  shouldRestart,
} from '../../../operator/agent/lifecycle/restart.js';
import type { ObservedContainer } from '../../../operator/agent/runtime.js';

function observed(overrides: Partial<ObservedContainer> = {}): ObservedContainer {
  return {
    id: 'c1',
    labels: { 'io.berth.restart-count': '2' },
    role: 'container',
    podNamespace: 'default',
    podName: 'web',
    podUid: 'u1',
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

function exited(exitCode: number, ranForMs = 1_000): ObservedContainer {
  return observed({
    state: 'exited',
    exitCode,
    finishedAt: new Date(Date.parse('2026-01-01T00:00:00.000Z') + ranForMs).toISOString(),
  });
}

function input(overrides: Partial<ContainerDecisionInput>): ContainerDecisionInput {
  return {
    policy: 'Always',
    desiredHash: 'h',
    current: undefined,
    finishedBefore: false,
    memory: NO_EXITS,
    nowMs: 100_000,
    ...overrides,
  };
}

describe('shouldRestart', () => {
  it.each<[RestartPolicy, number | undefined, boolean]>([
    ['Always', 0, true],
    ['Always', 1, true],
    ['OnFailure', 0, false],
    ['OnFailure', 1, true],
    ['OnFailure', 137, true],
    ['OnFailure', undefined, true],
    ['Never', 0, false],
    ['Never', 1, false],
  ])('%s with exit %s restarts: %s', (policy, exitCode, expected) => {
    expect(shouldRestart(policy, exitCode)).toBe(expected);
  });
});

describe('decideContainer', () => {
  it.each<[string, Partial<ContainerDecisionInput>, string]>([
    ['nothing yet: create', {}, 'create'],
    ['running with the same spec: keep', { current: observed() }, 'keep'],
    ['running with another spec: replace', { current: observed({ specHash: 'old' }) }, 'replace'],
    ['exited under Always: restart at once', { current: exited(0) }, 'restart'],
    ['exit 0 under OnFailure: finished', { policy: 'OnFailure', current: exited(0) }, 'finished'],
    ['exit 1 under OnFailure: restart', { policy: 'OnFailure', current: exited(1) }, 'restart'],
    ['exit 1 under Never: finished', { policy: 'Never', current: exited(1) }, 'finished'],
    [
      'start failed (created with an error) under Never: finished',
      {
        policy: 'Never',
        current: observed({ state: 'created', error: 'port is already allocated' }),
      },
      'finished',
    ],
    [
      'removed after running under Never: finished',
      { policy: 'Never', finishedBefore: true },
      'finished',
    ],
    ['removed after running under Always: create again', { finishedBefore: true }, 'create'],
  ])('%s', (_name, overrides, kind) => {
    expect(decideContainer(input(overrides)).action.kind).toBe(kind);
  });

  it('carries the restart count across replacements and restarts', () => {
    expect(decideContainer(input({ current: exited(1) })).action).toEqual({
      kind: 'restart',
      restartCount: 3,
    });
    expect(decideContainer(input({ current: observed({ specHash: 'x' }) })).action).toEqual({
      kind: 'replace',
      restartCount: 3,
    });
    expect(decideContainer(input({ finishedBefore: true, knownRestartCount: 4 })).action).toEqual({
      kind: 'create',
      restartCount: 5,
    });
  });

  it('backs off the second crash by 10 s and remembers the schedule across syncs', () => {
    const first = decideContainer(input({ current: exited(1) }));
    expect(first.action.kind).toBe('restart');
    const secondCrash = observed({
      id: 'c2',
      state: 'exited',
      exitCode: 1,
      finishedAt: '2026-01-01T00:00:01.000Z',
    });
    const second = decideContainer(
      input({ current: secondCrash, memory: first.memory, nowMs: 200_000 }),
    );
    expect(second.action).toEqual({ kind: 'backoff', restartAtMs: 210_000 });
    // The same exit seen again later keeps the same schedule rather than starting a new one.
    const again = decideContainer(
      input({ current: secondCrash, memory: second.memory, nowMs: 205_000 }),
    );
    expect(again.action).toEqual({ kind: 'backoff', restartAtMs: 210_000 });
    const due = decideContainer(
      input({ current: secondCrash, memory: again.memory, nowMs: 210_000 }),
    );
    expect(due.action.kind).toBe('restart');
  });

  it('starts the schedule over when the container ran 10 min', () => {
    const memory = { backoff: { restartsSinceReset: 5 }, exitedId: 'old', restartAtMs: 1 };
    const longRun = exited(1, 600_000);
    expect(decideContainer(input({ current: longRun, memory })).action.kind).toBe('restart');
    expect(decideContainer(input({ current: exited(1, 599_000), memory })).action.kind).toBe(
      'backoff',
    );
  });
});
