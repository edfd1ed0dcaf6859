/**
 * Quietness: an object as applied (defaulted, then stored with server fields, in another key
 * order, with its quantities in other equal words) plans as unchanged, whatever the object.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normalizeUncached } from '../../operator/diff/normalize.js';
import { applyDefaults } from '../../operator/manifests/defaults.js';
import type {
  Container,
  Pod,
  ReplicationController,
} from '../../operator/model/generated/types.js';
import { isPlanRefusal, planChanges } from '../../operator/plan/plan.js';

const ORIGIN = { file: 'q.yaml', line: 1, column: 1 };

/** Equal ways to write `millis` thousandths of a core. */
function cpuForms(millis: number): string[] {
  return [`${millis}m`, String(millis / 1000), `${millis}e-3`, `${millis * 1000}u`];
}

/** Equal ways to write `mib` mebibytes. */
function memoryForms(mib: number): string[] {
  const forms = [`${mib}Mi`, `${mib * 1024}Ki`, String(mib * 1024 * 1024)];
  if (mib % 1024 === 0) forms.push(`${mib / 1024}Gi`);
  return forms;
}

const containerSeed = fc.record({
  image: fc.constantFrom<string>(
    'nginx',
    'nginx:1.25',
    'redis:latest',
    'localhost:5000/app',
    'app@sha256:abc',
  ),
  cpuMillis: fc.integer({ min: 1, max: 8000 }),
  memoryMib: fc.integer({ min: 1, max: 8192 }),
  withLimits: fc.boolean(),
  port: fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
  env: fc.array(fc.tuple(fc.constantFrom('A', 'B', 'PATH'), fc.string({ maxLength: 8 })), {
    maxLength: 3,
  }),
  probe: fc.boolean(),
  pullPolicy: fc.option(fc.constantFrom('Always', 'IfNotPresent', 'Never'), { nil: undefined }),
});
type ContainerSeed = typeof containerSeed extends fc.Arbitrary<infer T> ? T : never;

const podSeed = fc.record({
  name: fc.constantFrom('web', 'api', 'db'),
  labels: fc.dictionary(fc.constantFrom('app', 'tier', 'team'), fc.constantFrom('a', 'b', ''), {
    maxKeys: 3,
  }),
  containers: fc.array(containerSeed, { minLength: 1, maxLength: 3 }),
  restartPolicy: fc.option(fc.constantFrom('Always', 'OnFailure', 'Never'), { nil: undefined }),
  hostNetwork: fc.option(fc.boolean(), { nil: undefined }),
  asController: fc.boolean(),
  // Which equal form each side writes its quantities in.
  formsA: fc.nat(),
  formsB: fc.nat(),
});

function pick(forms: string[], index: number): string {
  return forms[index % forms.length] ?? forms[0] ?? '';
}

function buildContainer(seed: ContainerSeed, i: number, form: number): Container {
  const resources = {
    requests: {
      cpu: pick(cpuForms(seed.cpuMillis), form),
      memory: pick(memoryForms(seed.memoryMib), form + 1),
    },
  };
  return {
    name: `c${i}`,
    image: seed.image,
    ...(seed.pullPolicy === undefined ? {} : { imagePullPolicy: seed.pullPolicy }),
    resources: seed.withLimits ? { ...resources, limits: { ...resources.requests } } : resources,
    ...(seed.port === undefined ? {} : { ports: [{ containerPort: seed.port }] }),
    env: seed.env.map(([name, value]) => ({ name, value })),
    ...(seed.probe ? { livenessProbe: { httpGet: { port: seed.port ?? 80 } } } : {}),
  };
}

function build(seed: typeof podSeed extends fc.Arbitrary<infer T> ? T : never, form: number) {
  const spec = {
    containers: seed.containers.map((c, i) => buildContainer(c, i, form + i)),
    ...(seed.restartPolicy === undefined ? {} : { restartPolicy: seed.restartPolicy }),
    ...(seed.hostNetwork === undefined ? {} : { hostNetwork: seed.hostNetwork }),
  };
  const metadata = { name: seed.name, labels: seed.labels };
  const locate = () => ORIGIN;
  if (seed.asController) {
    const labels = { ...seed.labels, app: seed.name };
    const object: ReplicationController = {
      apiVersion: 'v1',
      kind: 'ReplicationController',
      metadata,
      spec: { template: { metadata: { labels }, spec } },
    };
    return applyDefaults({ kind: 'ReplicationController', object, origin: ORIGIN, locate });
  }
  const object: Pod = { apiVersion: 'v1', kind: 'Pod', metadata, spec };
  return applyDefaults({ kind: 'Pod', object, origin: ORIGIN, locate });
}

/** A JSON round trip that also reverses the key order of every map. */
function reordered<T>(value: T): T {
  return JSON.parse(
    JSON.stringify(value, (_key, item: unknown) =>
      item !== null && typeof item === 'object' && !Array.isArray(item)
        ? Object.fromEntries(Object.entries(item).reverse())
        : item,
    ),
  ) as T;
}

describe('quiet diffs (property)', () => {
  it('normalize(defaults(x)) equals itself after a JSON round trip in another key order', () => {
    fc.assert(
      fc.property(podSeed, (seed) => {
        const object = build(seed, seed.formsA);
        const again = reordered(object.object);
        expect(normalizeUncached(object.kind, again).key).toBe(
          normalizeUncached(object.kind, object.object).key,
        );
      }),
      { numRuns: 300 },
    );
  });

  it('an applied object with equal quantities in other words and server fields is unchanged', () => {
    fc.assert(
      fc.property(podSeed, (seed) => {
        const desired = build(seed, seed.formsA);
        const liveObject = reordered(build(seed, seed.formsB).object) as unknown as Record<
          string,
          unknown
        > & { metadata: Record<string, unknown>; spec: Record<string, unknown> };
        liveObject.metadata.uid = 'u-1';
        liveObject.metadata.resourceVersion = '7';
        liveObject.metadata.creationTimestamp = '2026-11-25T20:00:00Z';
        liveObject.status = { phase: 'Running' };
        if (desired.kind === 'Pod') liveObject.spec.nodeName = 'node-a';
        const live = { kind: desired.kind, object: liveObject as unknown as Pod };
        const key = `${desired.kind}/default/${seed.name}`;
        const plan = planChanges([desired], [live], new Set([key]));
        if (isPlanRefusal(plan)) throw new Error(plan.message);
        expect(plan.changes.map((c) => `${c.action}: ${c.reason}`)).toEqual(['unchanged: in sync']);
      }),
      { numRuns: 300 },
    );
  });

  it('a changed image is never quiet', () => {
    fc.assert(
      fc.property(podSeed, (seed) => {
        const desired = build(seed, seed.formsA);
        const changedSeed = {
          ...seed,
          containers: seed.containers.map((c, i) =>
            i === 0 ? { ...c, image: `${c.image}-next` } : c,
          ),
        };
        const live = build(changedSeed, seed.formsB);
        const key = `${desired.kind}/default/${seed.name}`;
        const plan = planChanges([desired], [live], new Set([key]));
        if (isPlanRefusal(plan)) throw new Error(plan.message);
        expect(plan.changes[0]?.action).toBe(desired.kind === 'Pod' ? 'replace' : 'update');
        expect(plan.changes[0]?.reason).toContain('containers[0].image');
      }),
      { numRuns: 200 },
    );
  });
});
