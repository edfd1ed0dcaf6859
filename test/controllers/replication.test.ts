import { describe, expect, it } from 'vitest';
import { NAME_SUFFIX_ALPHABET } from '../../operator/controllers/pod-names.js';
import {
  formatDuration,
  reconcileReplicationController,
} from '../../operator/controllers/replication.js';
import { TEMPLATE_HASH_ANNOTATION } from '../../operator/controllers/template-hash.js';
import { MINUTE, makeRc, ownedPod, seededRandom, T0 } from './helpers.js';

const NAME_PATTERN = new RegExp(`^web-[${NAME_SUFFIX_ALPHABET}]{5}$`);

describe('reconcileReplicationController: creating pods', () => {
  it('creates the missing pods from the template, named <rc>-<5 chars>, owned and defaulted', () => {
    const rc = makeRc({ replicas: 2 });
    const decision = reconcileReplicationController(rc, [], T0, seededRandom(1));
    expect(decision.creates).toHaveLength(2);
    for (const { pod, reason } of decision.creates) {
      expect(pod.metadata.name).toMatch(NAME_PATTERN);
      expect(pod.metadata.namespace).toBe('default');
      expect(pod.metadata.labels).toEqual({ app: 'web', tier: 'front' });
      expect(pod.metadata.annotations?.[TEMPLATE_HASH_ANNOTATION]).toBe(decision.templateHash);
      expect(pod.metadata.ownerReferences).toEqual([
        {
          apiVersion: 'v1',
          kind: 'ReplicationController',
          name: 'web',
          uid: '',
          controller: true,
          blockOwnerDeletion: true,
        },
      ]);
      expect(pod.spec.restartPolicy).toBe('Always');
      expect(pod.spec.enableServiceLinks).toBe(true);
      expect(pod.spec.containers[0]?.imagePullPolicy).toBe('IfNotPresent');
      expect(reason).toBe('scale up: 0 of 2 replicas');
    }
    expect(decision.creates[0]?.pod.metadata.name).not.toBe(decision.creates[1]?.pod.metadata.name);
    expect(decision.deletes).toEqual([]);
    // The RC object itself is not changed by the decision.
    expect(rc.spec.template.metadata?.annotations).toBeUndefined();
  });

  it('is reproducible for the same random source', () => {
    const names = (seed: number) =>
      reconcileReplicationController(makeRc(), [], T0, seededRandom(seed)).creates.map(
        (c) => c.pod.metadata.name,
      );
    expect(names(7)).toEqual(names(7));
    expect(names(7)).not.toEqual(names(8));
  });

  it('never reuses a name taken in the namespace', () => {
    const rc = makeRc({ replicas: 2 });
    // A random source stuck on 0 gives "web-bbbbb" only: the second pod cannot be named.
    const stuck = () => 0;
    const taken = ownedPod(rc, 'web-bbbbb', { namespace: 'default' });
    const decision = reconcileReplicationController(rc, [taken], T0, stuck);
    expect(decision.creates).toEqual([]);
    expect(decision.problems).toEqual([
      'no free pod name for replicationcontroller/web after 100 tries',
    ]);
  });

  it('creates at most maxBurst pods in one pass', () => {
    const rc = makeRc({ replicas: 10 });
    const decision = reconcileReplicationController(rc, [], T0, seededRandom(3), { maxBurst: 4 });
    expect(decision.creates).toHaveLength(4);
  });
});

describe('reconcileReplicationController: counting and adoption', () => {
  const rc = makeRc({ replicas: 3 });

  it('counts matching orphans and adopts them instead of creating pods', () => {
    const orphan = { ...ownedPod(rc, 'hand-made'), annotations: {} };
    const { ownerReference: _, ...withoutOwner } = orphan;
    const pods = [ownedPod(rc, 'web-aaaaa'), ownedPod(rc, 'web-bbbbb'), withoutOwner];
    const decision = reconcileReplicationController(rc, pods, T0, seededRandom(1));
    expect(decision.adopts).toEqual([{ namespace: 'default', name: 'hand-made' }]);
    expect(decision.creates).toEqual([]);
    expect(decision.status.replicas).toBe(3);
    // Adopted as it is: no hash annotation means it is not rolled.
    expect(decision.rollout).toEqual({ state: 'complete' });
  });

  it.each([
    ['another namespace', { namespace: 'other' }],
    ['other labels', { labels: { app: 'api' } }],
    ['another controller', { ownerReference: { kind: 'ReplicationController', name: 'api' } }],
    ['phase Succeeded', { phase: 'Succeeded' as const }],
    ['phase Failed', { phase: 'Failed' as const }],
    ['being deleted', { deleting: true }],
  ])('does not count a pod with %s', (_label, fields) => {
    const pod = ownedPod(rc, 'web-xxxxx', fields);
    const decision = reconcileReplicationController(rc, [pod], T0, seededRandom(1));
    expect(decision.status.replicas).toBe(0);
    expect(decision.creates).toHaveLength(3);
    expect(decision.deletes).toEqual([]);
  });

  it('releases an owned pod that no longer matches the selector', () => {
    const pod = ownedPod(rc, 'web-xxxxx', { labels: { app: 'debug' } });
    const decision = reconcileReplicationController(rc, [pod], T0, seededRandom(1));
    expect(decision.releases).toEqual([{ namespace: 'default', name: 'web-xxxxx' }]);
    expect(decision.status.replicas).toBe(0);
  });

  it('reports DESIRED CURRENT READY', () => {
    const pods = [
      ownedPod(rc, 'web-a'),
      ownedPod(rc, 'web-b', { ready: false, readySince: undefined }),
    ];
    const decision = reconcileReplicationController(rc, pods, T0, seededRandom(1));
    expect(decision.status).toEqual({
      desiredReplicas: 3,
      replicas: 2,
      readyReplicas: 1,
      availableReplicas: 1,
      updatedReplicas: 2,
      observedGeneration: 3,
    });
  });
});

describe('reconcileReplicationController: scale-down order', () => {
  const rc = makeRc({ replicas: 1 });
  // From least to most valuable, one rule apart each.
  const ranked = [
    ownedPod(rc, 'unscheduled', { nodeName: undefined, phase: 'Pending', ready: false }),
    ownedPod(rc, 'pending', { phase: 'Pending', ready: false }),
    ownedPod(rc, 'unknown', { phase: 'Unknown', ready: false }),
    ownedPod(rc, 'not-ready', { ready: false }),
    ownedPod(rc, 'ready-recently', { readySince: T0 + 5 * MINUTE }),
    ownedPod(rc, 'restarted', { restartCount: 4 }),
    ownedPod(rc, 'newer', { creationTimestamp: T0 + MINUTE }),
    ownedPod(rc, 'oldest', { creationTimestamp: T0 - MINUTE }),
  ];

  it('deletes the least valuable first and keeps the most valuable', () => {
    const shuffled = [...ranked].reverse();
    const decision = reconcileReplicationController(rc, shuffled, T0, seededRandom(1));
    expect(decision.deletes.map((d) => d.name)).toEqual(ranked.slice(0, -1).map((p) => p.name));
    expect(decision.deletes[0]?.reason).toBe('scale down: 8 pods for 1 replicas');
  });

  it('scaled to zero deletes every pod, even in a rollout', () => {
    const zero = makeRc({ replicas: 0 });
    const pods = [ownedPod(zero, 'web-a', { hash: 'old' }), ownedPod(zero, 'web-b')];
    const decision = reconcileReplicationController(zero, pods, T0, seededRandom(1));
    expect(decision.deletes.map((d) => d.name).sort()).toEqual(['web-a', 'web-b']);
    expect(decision.creates).toEqual([]);
  });
});

describe('reconcileReplicationController: template rollout', () => {
  const rc = makeRc({ replicas: 2, image: 'nginx:1.26' });
  const oldPods = [
    ownedPod(rc, 'web-old1', { hash: 'old' }),
    ownedPod(rc, 'web-old2', { hash: 'old', creationTimestamp: T0 + 1 }),
  ];

  it('first creates one new pod (replicas + 1) and deletes nothing', () => {
    const decision = reconcileReplicationController(rc, oldPods, T0, seededRandom(1));
    expect(decision.creates).toHaveLength(1);
    expect(decision.creates[0]?.reason).toBe('rollout: new template (0 of 2 updated)');
    expect(decision.deletes).toEqual([]);
    expect(decision.rollout).toEqual({ state: 'progressing', updated: 0, old: 2 });
  });

  it('waits while the new pod is not ready', () => {
    const fresh = ownedPod(rc, 'web-new1', { ready: false, creationTimestamp: T0 });
    const decision = reconcileReplicationController(
      rc,
      [...oldPods, fresh],
      T0 + MINUTE,
      seededRandom(1),
    );
    expect(decision.creates).toEqual([]);
    expect(decision.deletes).toEqual([]);
    expect(decision.rollout.state).toBe('progressing');
  });

  it('deletes one old pod once the new one is ready (the newer old one first)', () => {
    const ready = ownedPod(rc, 'web-new1', { creationTimestamp: T0 + 2 });
    const decision = reconcileReplicationController(
      rc,
      [...oldPods, ready],
      T0 + MINUTE,
      seededRandom(1),
    );
    expect(decision.creates).toEqual([]);
    expect(decision.deletes).toEqual([
      {
        namespace: 'default',
        name: 'web-old2',
        reason: 'rollout: replaced by a ready pod of the new template',
      },
    ]);
  });

  it('stalls when the new pod is not ready by the deadline, and keeps the old pods', () => {
    const stuck = ownedPod(rc, 'web-new1', { ready: false, creationTimestamp: T0 });
    const decision = reconcileReplicationController(
      rc,
      [...oldPods, stuck],
      T0 + 5 * MINUTE,
      seededRandom(1),
    );
    expect(decision.rollout).toEqual({
      state: 'stalled',
      updated: 1,
      old: 2,
      pod: 'web-new1',
      message: 'rollout stalled: pod web-new1 not ready after 5m',
    });
    expect(decision.deletes).toEqual([]);
    expect(decision.creates).toEqual([]);
  });

  it('takes the deadline as an option', () => {
    const stuck = ownedPod(rc, 'web-new1', { ready: false, creationTimestamp: T0 });
    const decision = reconcileReplicationController(
      rc,
      [...oldPods, stuck],
      T0 + 90_000,
      seededRandom(1),
      { rolloutDeadlineMs: 90_000 },
    );
    expect(decision.rollout.state === 'stalled' && decision.rollout.message).toBe(
      'rollout stalled: pod web-new1 not ready after 1m30s',
    );
  });

  it('waits minReadySeconds after ready before an old pod goes', () => {
    const slow = { ...rc, spec: { ...rc.spec, minReadySeconds: 30 } };
    const ready = ownedPod(slow, 'web-new1', {
      readySince: T0,
      creationTimestamp: T0 - 10 * MINUTE,
    });
    const early = reconcileReplicationController(
      slow,
      [...oldPods, ready],
      T0 + 10_000,
      seededRandom(1),
    );
    expect(early.deletes).toEqual([]);
    // Ready but not yet available is not a stall, however long the pod took to get ready.
    expect(early.rollout.state).toBe('progressing');
    const later = reconcileReplicationController(
      slow,
      [...oldPods, ready],
      T0 + 30_000,
      seededRandom(1),
    );
    expect(later.deletes).toHaveLength(1);
  });

  it('fills missing replicas from the new template at once', () => {
    const decision = reconcileReplicationController(
      makeRc({ replicas: 4, image: 'nginx:1.26' }),
      oldPods,
      T0,
      seededRandom(1),
    );
    expect(decision.creates).toHaveLength(2);
    expect(decision.deletes).toEqual([]);
  });
});

describe('formatDuration', () => {
  it.each([
    [300_000, '5m'],
    [90_000, '1m30s'],
    [45_000, '45s'],
    [3_600_000, '1h'],
    [0, '0s'],
  ])('%d ms is %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});
