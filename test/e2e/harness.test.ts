/**
 * The e2e harness's reading of pods: a pod's status is the one its node reported for that
 * pod, not for an older pod of the same name still being removed.
 */
import { describe, expect, it } from 'vitest';
import type { OperatorReadout } from '../../operator/operator/session.js';
import { podsOf } from './harness.js';

function status(ready: boolean, containerID: string) {
  return {
    phase: 'Running',
    conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }],
    containerStatuses: [{ name: 'db', containerID }],
  };
}

function readout(reports: { uid: string; ready: boolean; id: string }[]): OperatorReadout {
  return {
    apps: [],
    allocations: [],
    assignments: [
      {
        podKey: 'default/mysql',
        node: 'n1',
        version: 2,
        pod: {
          metadata: { name: 'mysql', namespace: 'default', uid: 'new-uid', labels: { app: 'db' } },
          spec: { containers: [{ name: 'db', image: 'mariadb:10.11' }] },
        },
      },
    ],
    nodes: [
      {
        name: 'n1',
        labels: {},
        capacity: { cpu: 2, memoryBytes: 1 << 30 },
        registeredAt: '2026-01-01T00:00:00.000Z',
        ready: true,
        pods: reports.map((r) => ({
          namespace: 'default',
          name: 'mysql',
          uid: r.uid,
          status: status(r.ready, `docker://${r.id}`),
        })),
      },
    ],
  } as unknown as OperatorReadout; // Only the fields podsOf reads; the rest of the shape is the operator's.
}

describe('podsOf', () => {
  it("takes the status reported for the assigned pod's uid, whatever the report order", () => {
    const old = { uid: 'old-uid', ready: true, id: 'old' };
    const starting = { uid: 'new-uid', ready: false, id: 'new' };
    for (const reports of [
      [old, starting],
      [starting, old],
    ]) {
      const [pod] = podsOf(readout(reports));
      expect(pod?.ready).toBe(false);
      expect(pod?.containerIDs).toEqual(['docker://new']);
    }
  });

  it('shows no status while only the old pod is reported', () => {
    const [pod] = podsOf(readout([{ uid: 'old-uid', ready: true, id: 'old' }]));
    expect(pod?.ready).toBe(false);
    expect(pod?.phase).toBeUndefined();
    expect(pod?.containerIDs).toEqual([]);
  });
});
