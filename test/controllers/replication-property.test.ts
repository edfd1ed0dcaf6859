import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { LivePod } from '../../operator/controllers/live-pod.js';
import { compareDeletionOrder } from '../../operator/controllers/pod-ranking.js';
import { reconcileReplicationController } from '../../operator/controllers/replication.js';
import { reconcileReplicationControllers } from '../../operator/controllers/replication-set.js';
import {
  TEMPLATE_HASH_ANNOTATION,
  templateHash,
} from '../../operator/controllers/template-hash.js';
import { MINUTE, makeRc, seededRandom, T0 } from './helpers.js';

const rc = makeRc({ replicas: 3 });
const currentHash = templateHash(rc.spec.template);

const podFields = fc.record({
  otherNamespace: fc.boolean(),
  matches: fc.boolean(),
  hash: fc.constantFrom<'current' | 'old' | 'none'>('current', 'old', 'none'),
  phase: fc.constantFrom('Pending', 'Running', 'Unknown', 'Succeeded', 'Failed' as const),
  ready: fc.boolean(),
  scheduled: fc.boolean(),
  createdMinutes: fc.integer({ min: 0, max: 20 }),
  readyMinutes: fc.integer({ min: 0, max: 20 }),
  restarts: fc.integer({ min: 0, max: 3 }),
  deleting: fc.boolean(),
  owner: fc.constantFrom<'this' | 'none' | 'other'>('this', 'none', 'other'),
});

type Fields = typeof podFields extends fc.Arbitrary<infer T> ? T : never;

function livePod(fields: Fields, index: number): LivePod {
  // Only a scheduled, running pod can be ready; other combinations never occur.
  const ready = fields.ready && fields.scheduled && fields.phase === 'Running';
  const pod: LivePod = {
    namespace: fields.otherNamespace ? 'other' : 'default',
    name: `web-p${index}`,
    labels: fields.matches ? { app: 'web', tier: 'front' } : { app: 'api' },
    annotations:
      fields.hash === 'none'
        ? {}
        : { [TEMPLATE_HASH_ANNOTATION]: fields.hash === 'current' ? currentHash : 'old' },
    phase: fields.phase as LivePod['phase'],
    ready,
    creationTimestamp: T0 + fields.createdMinutes * MINUTE,
    restartCount: fields.restarts,
    deleting: fields.deleting,
    ...(ready ? { readySince: T0 + fields.readyMinutes * MINUTE } : {}),
    ...(fields.scheduled ? { nodeName: 'node-1' } : {}),
  };
  if (fields.owner === 'none') return pod;
  const name = fields.owner === 'this' ? 'web' : 'api';
  return { ...pod, ownerReference: { kind: 'ReplicationController', name, controller: true } };
}

const scenario = fc.record({
  replicas: fc.integer({ min: 0, max: 6 }),
  pods: fc.array(podFields, { maxLength: 12 }),
  seed: fc.integer(),
  minutesLater: fc.integer({ min: 0, max: 30 }),
});

/** Independently of the code under test: the pods an RC counts. */
function countedBy(pods: readonly LivePod[]): LivePod[] {
  return pods.filter(
    (pod) =>
      pod.namespace === 'default' &&
      pod.labels.app === 'web' &&
      pod.ownerReference?.name !== 'api' &&
      pod.phase !== 'Succeeded' &&
      pod.phase !== 'Failed' &&
      pod.deleting !== true,
  );
}

function decide(replicas: number, pods: readonly LivePod[], seed: number, now: number) {
  const subject = { ...rc, spec: { ...rc.spec, replicas } };
  return reconcileReplicationController(subject, pods, now, seededRandom(seed));
}

describe('reconcileReplicationController properties', () => {
  it('never leaves more than replicas + 1 pods, and deletes only pods it counts', () => {
    fc.assert(
      fc.property(scenario, ({ replicas, pods: fields, seed, minutesLater }) => {
        const pods = fields.map(livePod);
        const decision = decide(replicas, pods, seed, T0 + minutesLater * MINUTE);
        const counted = countedBy(pods);
        const countedNames = new Set(counted.map((p) => p.name));
        const deleted = new Set(decision.deletes.map((d) => d.name));
        expect(deleted.size).toBe(decision.deletes.length);
        for (const name of deleted) expect(countedNames.has(name)).toBe(true);
        const after = counted.length - deleted.size + decision.creates.length;
        expect(after).toBeLessThanOrEqual(Math.max(replicas + 1, 0));
        // Creating and deleting in one pass would churn: a decision does one or the other.
        expect(decision.creates.length === 0 || deleted.size === 0).toBe(true);
        if (counted.length < replicas) expect(after).toBe(replicas);
      }),
    );
  });

  it('deletes a ready pod only when at least replicas ready pods remain', () => {
    fc.assert(
      fc.property(scenario, ({ replicas, pods: fields, seed, minutesLater }) => {
        const pods = fields.map(livePod);
        const decision = decide(replicas, pods, seed, T0 + minutesLater * MINUTE);
        const deleted = new Set(decision.deletes.map((d) => d.name));
        const counted = countedBy(pods);
        if (counted.some((p) => p.ready && deleted.has(p.name))) {
          const readyLeft = counted.filter((p) => p.ready && !deleted.has(p.name)).length;
          expect(readyLeft).toBeGreaterThanOrEqual(replicas);
        }
      }),
    );
  });

  it('never deletes an old pod for a rollout before every new pod is ready', () => {
    fc.assert(
      fc.property(scenario, ({ replicas, pods: fields, seed, minutesLater }) => {
        const pods = fields.map(livePod);
        const counted = countedBy(pods);
        // Scaling down is not a rollout step: only states within replicas + 1 are rollouts.
        fc.pre(counted.length <= replicas + 1);
        const decision = decide(replicas, pods, seed, T0 + minutesLater * MINUTE);
        const deleted = new Set(decision.deletes.map((d) => d.name));
        const isOld = (p: LivePod) =>
          p.annotations?.[TEMPLATE_HASH_ANNOTATION] !== undefined &&
          p.annotations[TEMPLATE_HASH_ANNOTATION] !== currentHash;
        if (replicas > 0 && counted.some((p) => isOld(p) && deleted.has(p.name))) {
          expect(counted.filter((p) => !isOld(p)).every((p) => p.ready)).toBe(true);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('decides the same through the indexed pass as alone', () => {
    fc.assert(
      fc.property(scenario, ({ replicas, pods: fields, seed, minutesLater }) => {
        const pods = fields.map(livePod);
        const subject = { ...rc, spec: { ...rc.spec, replicas } };
        const now = T0 + minutesLater * MINUTE;
        const alone = reconcileReplicationController(subject, pods, now, seededRandom(seed));
        const [inPass] = reconcileReplicationControllers([subject], pods, now, seededRandom(seed));
        expect(inPass?.decision).toEqual(alone);
      }),
    );
  });

  it('adopts every matching orphan and counts it', () => {
    fc.assert(
      fc.property(scenario, ({ replicas, pods: fields, seed }) => {
        const pods = fields.map(livePod);
        const decision = decide(replicas, pods, seed, T0);
        const adopted = new Set(decision.adopts.map((a) => a.name));
        for (const pod of pods) {
          const orphan =
            pod.namespace === 'default' &&
            pod.labels.app === 'web' &&
            pod.ownerReference === undefined &&
            pod.deleting !== true;
          expect(adopted.has(pod.name)).toBe(orphan);
        }
        expect(decision.status.replicas).toBe(countedBy(pods).length);
      }),
    );
  });

  it('scales down least valuable first', () => {
    fc.assert(
      fc.property(scenario, ({ replicas, pods: fields, seed }) => {
        // Without old-template pods, scale-down is one ordering over all counted pods.
        const pods = fields.map((f, i) => livePod({ ...f, hash: 'current' }, i));
        const decision = decide(replicas, pods, seed, T0);
        const deleted = new Set(decision.deletes.map((d) => d.name));
        const counted = countedBy(pods);
        for (const gone of counted.filter((p) => deleted.has(p.name))) {
          for (const kept of counted.filter((p) => !deleted.has(p.name))) {
            expect(compareDeletionOrder(gone, kept)).toBeLessThan(0);
          }
        }
      }),
    );
  });

  it('a rollout run step by step replaces every pod, one at a time, when new pods get ready', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.array(fc.boolean(), { maxLength: 40 }),
        fc.integer(),
        (replicas, readyCoins, seed) => {
          let now = T0;
          let pods: LivePod[] = Array.from({ length: replicas }, (_, i) =>
            livePod(
              {
                otherNamespace: false,
                matches: true,
                hash: 'old',
                phase: 'Running',
                ready: true,
                scheduled: true,
                createdMinutes: i,
                readyMinutes: i,
                restarts: 0,
                deleting: false,
                owner: 'this',
              },
              i,
            ),
          );
          const random = seededRandom(seed);
          const subject = { ...rc, spec: { ...rc.spec, replicas } };
          // Random readiness first, then enough steps where new pods get ready to finish.
          const coins = [...readyCoins, ...Array.from({ length: 2 * replicas + 2 }, () => true)];
          for (const coin of coins) {
            now += 10_000;
            // The cluster moves: a pending new pod may become ready (or not yet).
            pods = pods.map((p) =>
              !p.ready && coin ? { ...p, ready: true, phase: 'Running', readySince: now } : p,
            );
            const decision = reconcileReplicationController(subject, pods, now, random);
            const deleted = new Set(decision.deletes.map((d) => d.name));
            const readyBefore = pods.filter((p) => p.ready).length;
            pods = pods.filter((p) => !deleted.has(p.name));
            const readyAfter = pods.filter((p) => p.ready).length;
            expect(readyAfter).toBeGreaterThanOrEqual(Math.min(readyBefore, replicas));
            for (const { pod } of decision.creates) {
              pods.push({
                namespace: 'default',
                name: pod.metadata.name ?? '',
                labels: pod.metadata.labels ?? {},
                annotations: pod.metadata.annotations ?? {},
                phase: 'Pending',
                ready: false,
                nodeName: 'node-1',
                creationTimestamp: now,
                ownerReference: { kind: 'ReplicationController', name: 'web', controller: true },
              });
            }
            expect(pods.length).toBeLessThanOrEqual(replicas + 1);
            expect(decision.creates.length).toBeLessThanOrEqual(1);
          }
          const finished = reconcileReplicationController(subject, pods, now + 10_000, random);
          // Each old pod needs one step to create its successor and one to see it ready.
          expect(finished.rollout).toEqual({ state: 'complete' });
          expect(pods).toHaveLength(replicas);
          expect(pods.every((p) => p.annotations?.[TEMPLATE_HASH_ANNOTATION] === currentHash)).toBe(
            true,
          );
        },
      ),
    );
  });
});
