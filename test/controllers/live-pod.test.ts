import { describe, expect, it } from 'vitest';
import type { PodStatusReport } from '../../operator/agent/lifecycle/status-types.js';
import { isActivePod, livePodFrom } from '../../operator/controllers/live-pod.js';
import type { Pod } from '../../operator/model/generated/types.js';

const pod: Pod = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {
    name: 'web-x2f4k',
    namespace: 'prod',
    labels: { app: 'web' },
    creationTimestamp: '2026-01-01T00:00:00Z',
    ownerReferences: [
      { apiVersion: 'v1', kind: 'Service', name: 'not-a-controller', uid: 'u0' },
      { apiVersion: 'v1', kind: 'ReplicationController', name: 'web', uid: 'u1', controller: true },
    ],
  },
  spec: { nodeName: 'node-2', containers: [{ name: 'main', image: 'nginx' }] },
};

const running: PodStatusReport = {
  phase: 'Running',
  conditions: [
    { type: 'PodScheduled', status: 'True' },
    { type: 'Ready', status: 'True', lastTransitionTime: '2026-01-01T00:01:00Z' },
  ],
  containerStatuses: [
    {
      name: 'main',
      state: { running: { startedAt: '2026-01-01T00:00:30Z' } },
      lastState: {},
      ready: true,
      restartCount: 2,
      image: 'nginx',
    },
  ],
};

describe('livePodFrom', () => {
  it('takes labels, owner, node and times from the object and readiness from the report', () => {
    expect(livePodFrom(pod, running)).toEqual({
      namespace: 'prod',
      name: 'web-x2f4k',
      labels: { app: 'web' },
      annotations: {},
      phase: 'Running',
      ready: true,
      readySince: Date.UTC(2026, 0, 1, 0, 1),
      restartCount: 2,
      deleting: false,
      creationTimestamp: Date.UTC(2026, 0, 1),
      nodeName: 'node-2',
      ownerReference: { kind: 'ReplicationController', name: 'web', uid: 'u1', controller: true },
    });
  });

  it('reads a report without conditions or restart counts as not ready, never a crash', () => {
    const partial = { phase: 'Running' } as unknown as PodStatusReport;
    const live = livePodFrom(pod, partial);
    expect(live.phase).toBe('Running');
    expect(live.ready).toBe(false);
    expect(live.restartCount).toBe(0);
  });

  it('is a pending, unready pod before its first report', () => {
    const live = livePodFrom(pod, undefined);
    expect(live.phase).toBe('Pending');
    expect(live.ready).toBe(false);
    expect(live.readySince).toBeUndefined();
    expect(isActivePod(live)).toBe(true);
  });

  it('sees a pod being deleted as not active', () => {
    const deleting = {
      ...pod,
      metadata: { ...pod.metadata, deletionTimestamp: '2026-01-01T00:05:00Z' },
    };
    expect(isActivePod(livePodFrom(deleting, running))).toBe(false);
  });

  it('has no owner when no reference is a controller', () => {
    const loose = { ...pod, metadata: { ...pod.metadata, ownerReferences: [] } };
    expect(livePodFrom(loose, running).ownerReference).toBeUndefined();
  });
});
