import { describe, expect, it } from 'vitest';
import {
  reconcileReplicationControllers,
  toReplicationControllerStatus,
} from '../../operator/controllers/replication-set.js';
import { makeRc, ownedPod, seededRandom, T0 } from './helpers.js';

describe('reconcileReplicationControllers', () => {
  it('gives an orphan two RCs match to the first one only', () => {
    const first = makeRc({ name: 'web', replicas: 1 });
    // A second RC with a broader selector that also matches app=web pods.
    const second = makeRc({ name: 'front', replicas: 1 });
    second.spec.selector = { tier: 'front' };
    const { ownerReference: _, ...orphan } = ownedPod(first, 'hand-made');
    const decisions = reconcileReplicationControllers(
      [first, second],
      [orphan],
      T0,
      seededRandom(2),
    );
    expect(decisions.map((d) => [d.name, d.decision.adopts.map((a) => a.name)])).toEqual([
      ['web', ['hand-made']],
      ['front', []],
    ]);
    expect(decisions[0]?.decision.creates).toEqual([]);
    // The second RC does not count the first one's pod, so it makes its own.
    expect(decisions[1]?.decision.creates).toHaveLength(1);
  });

  it('looks only at pods of each RC’s namespace', () => {
    const inProd = makeRc({ name: 'web', namespace: 'prod', replicas: 1 });
    const inDefault = makeRc({ name: 'web', replicas: 1 });
    const decisions = reconcileReplicationControllers(
      [inProd, inDefault],
      [ownedPod(inProd, 'web-aaaaa', { namespace: 'prod' })],
      T0,
      seededRandom(2),
    );
    expect(decisions.map((d) => [d.namespace, d.decision.creates.length])).toEqual([
      ['prod', 0],
      ['default', 1],
    ]);
  });

  it('does not hand out one name twice in a namespace', () => {
    const a = makeRc({ name: 'web', replicas: 1 });
    const b = { ...makeRc({ name: 'web', replicas: 1 }) };
    b.spec = { ...b.spec, selector: { app: 'other' } };
    // The same random sequence for both RCs: the second must pick another name.
    const stuckOnce = seededRandom(9);
    const decisions = reconcileReplicationControllers([a, b], [], T0, stuckOnce);
    const names = decisions.flatMap((d) => d.decision.creates.map((c) => c.pod.metadata.name));
    expect(new Set(names).size).toBe(names.length);
  });
});

describe('toReplicationControllerStatus', () => {
  it('maps the counts onto the v1 status fields', () => {
    expect(
      toReplicationControllerStatus({
        desiredReplicas: 3,
        replicas: 2,
        readyReplicas: 1,
        availableReplicas: 1,
        updatedReplicas: 2,
        observedGeneration: 4,
      }),
    ).toEqual({
      replicas: 2,
      readyReplicas: 1,
      availableReplicas: 1,
      fullyLabeledReplicas: 2,
      observedGeneration: 4,
    });
  });
});
