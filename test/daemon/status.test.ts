/** App health from the readout, as pure functions over plain data. */
import { describe, expect, it } from 'vitest';
import {
  appHealth,
  type PodHealthInput,
  podsHealth,
  podsOfApp,
} from '../../operator/daemon/status.js';

function pod(
  key: string,
  phase: 'Pending' | 'Running' | 'Succeeded' | 'Failed',
  ready: boolean,
  waiting?: string,
): PodHealthInput {
  return {
    key,
    status: {
      phase,
      conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }],
      containerStatuses: [
        {
          name: 'main',
          state:
            waiting === undefined
              ? { running: { startedAt: '' } }
              : { waiting: { reason: waiting } },
          lastState: {},
          ready,
          restartCount: 0,
          image: 'busybox',
        },
      ],
    },
  } as PodHealthInput;
}

describe('app health', () => {
  it('is Healthy when every pod is ready, Progressing while some start, Degraded when one fails', () => {
    expect(podsHealth([pod('default/a', 'Running', true)])).toEqual({
      health: 'Healthy',
      reason: '1 pod ready',
    });
    expect(
      podsHealth([pod('default/a', 'Running', true), pod('default/b', 'Pending', false)]),
    ).toEqual({
      health: 'Progressing',
      reason: '1 of 2 pods ready; waiting for default/b',
    });
    expect(
      podsHealth([
        pod('default/a', 'Running', true),
        pod('default/b', 'Running', false, 'CrashLoopBackOff'),
      ]),
    ).toEqual({ health: 'Degraded', reason: 'pod default/b container main: CrashLoopBackOff' });
    expect(podsHealth([pod('default/a', 'Failed', false)]).health).toBe('Degraded');
    expect(podsHealth([])).toEqual({ health: 'Healthy', reason: 'no pods' });
  });

  it('is Missing for a gone branch or nothing applied, Degraded for an invalid commit', () => {
    const lastApplied = { commit: 'a'.repeat(40), message: 'm', at: '2026-01-01T00:00:00Z' };
    expect(appHealth({ refGone: 'branch main no longer exists', lastApplied, pods: [] })).toEqual({
      health: 'Missing',
      reason: 'branch main no longer exists; keeping aaaaaaa',
    });
    expect(appHealth({ pods: [] })).toEqual({ health: 'Missing', reason: 'nothing applied yet' });
    expect(
      appHealth({
        invalid: { commit: 'b'.repeat(40), problems: ['x.yaml:1:1: bad'] },
        lastApplied,
        pods: [],
      }),
    ).toEqual({
      health: 'Degraded',
      reason: 'commit bbbbbbb does not validate (1 problem); still running aaaaaaa',
    });
  });

  it("finds an app's bare pods and its ReplicationControllers' pods", () => {
    const assignments = [
      { podKey: 'default/solo', pod: { metadata: { name: 'solo' }, spec: {} } },
      {
        podKey: 'default/web-x1',
        pod: {
          metadata: {
            name: 'web-x1',
            ownerReferences: [{ kind: 'ReplicationController', name: 'web', controller: true }],
          },
          spec: {},
        },
      },
      { podKey: 'default/other', pod: { metadata: { name: 'other' }, spec: {} } },
    ];
    const keys = new Set(['Pod/default/solo', 'ReplicationController/default/web']);
    expect(podsOfApp(keys, assignments).map((p) => p.key)).toEqual([
      'default/solo',
      'default/web-x1',
    ]);
  });
});
