/**
 * Issue-4 plan benchmark: 10,000 objects (services, controllers, pods) against live copies
 * carrying server-made fields and status, with no change and with 1% changed (a new commit:
 * the changed objects are new, the others are the loader's cached ones), as a running operator
 * plans each sync; and the first plan after a start, when no object has been normalized yet. The baseline,
 * measured in the same run, is JSON.stringify of both sides: the least any comparison of
 * whole objects has to do.
 */
import { performance } from 'node:perf_hooks';
import { applyDefaults } from '../operator/manifests/defaults.js';
import type { ManifestObject } from '../operator/manifests/types.js';
import type { Pod, ReplicationController, Service } from '../operator/model/generated/types.js';
import {
  type DesiredObject,
  isPlanRefusal,
  type LiveObject,
  planChanges,
  refKey,
  refOf,
} from '../operator/plan/plan.js';
import { ms, printVerdicts, time, type Verdict } from './harness.js';

const OBJECTS = 10_000;
const RUNS = 9;
const ORIGIN = { file: 'bench.yaml', line: 1, column: 1 };

function container(i: number, image: string) {
  return {
    name: 'app',
    image,
    ports: [{ containerPort: 8080, name: 'http' }],
    env: [{ name: 'INDEX', value: String(i) }],
    resources: {
      limits: { cpu: '0.5', memory: '1Gi' },
      requests: { cpu: '250m', memory: '512Mi' },
    },
    readinessProbe: { httpGet: { path: '/ready', port: 'http' } },
  };
}

function manifest(i: number, image = 'nginx:1.25'): ManifestObject {
  const labels = { app: `app-${i}`, tier: 'web' };
  const metadata = { name: `obj-${i}`, labels };
  const locate = () => ORIGIN;
  switch (i % 10) {
    case 0: {
      const object: Service = {
        apiVersion: 'v1',
        kind: 'Service',
        metadata,
        spec: { selector: labels, ports: [{ port: 80, targetPort: 'http' }] },
      };
      return { kind: 'Service', object, origin: ORIGIN, locate };
    }
    case 1: {
      const object: ReplicationController = {
        apiVersion: 'v1',
        kind: 'ReplicationController',
        metadata,
        spec: {
          replicas: 3,
          template: { metadata: { labels }, spec: { containers: [container(i, image)] } },
        },
      };
      return { kind: 'ReplicationController', object, origin: ORIGIN, locate };
    }
    default: {
      const object: Pod = {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata,
        spec: { containers: [container(i, image)] },
      };
      return { kind: 'Pod', object, origin: ORIGIN, locate };
    }
  }
}

/** What the live side holds: the applied object plus what the server and the agent add. */
function liveCopy(applied: ManifestObject, i: number): LiveObject {
  const object = structuredClone(applied.object) as unknown as Record<string, unknown> & {
    metadata: Record<string, unknown>;
    spec: Record<string, unknown>;
  };
  object.metadata.uid = `00000000-0000-0000-0000-${String(i).padStart(12, '0')}`;
  object.metadata.resourceVersion = String(1000 + i);
  object.metadata.creationTimestamp = '2026-11-25T20:00:00Z';
  if (applied.kind === 'Service') {
    object.spec.clusterIP = `10.96.${(i >> 8) & 255}.${i & 255}`;
    object.spec.clusterIPs = [object.spec.clusterIP];
    object.status = { loadBalancer: {} };
  } else if (applied.kind === 'Pod') {
    object.spec.nodeName = `node-${i % 50}`;
    // The same quantities in other words.
    const [first] = object.spec.containers as { resources: { limits: Record<string, string> } }[];
    if (first !== undefined) first.resources.limits = { cpu: '500m', memory: '1024Mi' };
    object.status = { phase: 'Running', podIP: `172.17.${(i >> 8) & 255}.${i & 255}` };
  } else {
    object.status = { replicas: 3, readyReplicas: 3 };
  }
  return { kind: applied.kind, object: object as unknown as LiveObject['object'] };
}

export async function benchPlan(): Promise<Verdict[]> {
  const desired: DesiredObject[] = [];
  const live: LiveObject[] = [];
  const inventory = new Set<string>();
  for (let i = 0; i < OBJECTS; i += 1) {
    // Loaded objects come defaulted, as loadManifests gives them.
    const loaded = applyDefaults(manifest(i));
    desired.push(loaded);
    live.push(liveCopy(loaded, i));
    inventory.add(refKey(refOf(loaded.kind, loaded.object)));
  }
  const changed = desired.map((object, i) =>
    i % 100 === 7 ? applyDefaults(manifest(i, 'nginx:1.26')) : object,
  );

  const baseline = await time(RUNS, () => {
    for (const object of desired) JSON.stringify(object.object);
    for (const object of live) JSON.stringify(object.object);
  });
  let quiet = 0;
  const none = await time(RUNS, () => {
    const plan = planChanges(desired, live, inventory);
    if (isPlanRefusal(plan)) throw new Error('bench plan refused');
    quiet = plan.summary.unchanged;
  });
  let moved = 0;
  const some = await time(RUNS, () => {
    const plan = planChanges(changed, live, inventory);
    if (isPlanRefusal(plan)) throw new Error('bench plan refused');
    moved = plan.summary.update + plan.summary.replace;
  });
  // The first plan after a start: nothing normalized yet (fresh objects each run).
  const coldSamples: number[] = [];
  for (let run = 0; run < 3; run += 1) {
    const freshDesired = desired.map((o) => ({ ...o, object: structuredClone(o.object) }));
    const freshLive = live.map((o) => ({ ...o, object: structuredClone(o.object) }));
    const start = performance.now();
    planChanges(freshDesired, freshLive, inventory);
    coldSamples.push(performance.now() - start);
  }
  coldSamples.sort((a, b) => a - b);
  const coldMs = coldSamples[1] ?? Number.NaN;
  if (quiet !== OBJECTS) throw new Error(`expected ${OBJECTS} unchanged, got ${quiet}`);
  if (moved !== OBJECTS / 100) throw new Error(`expected ${OBJECTS / 100} changes, got ${moved}`);

  const ratio = (value: number) =>
    `${(value / baseline.medianMs).toFixed(1)}× baseline ${ms(baseline.medianMs)}`;
  const verdicts: Verdict[] = [
    {
      name: `plan ${OBJECTS} objects, no change`,
      figure: `${ms(none.medianMs)} (${ratio(none.medianMs)})`,
      target: '< 100 ms',
      met: none.medianMs < 100,
    },
    {
      name: `plan ${OBJECTS} objects, 1% changed`,
      figure: `${ms(some.medianMs)} (${ratio(some.medianMs)})`,
      target: '< 150 ms',
      met: some.medianMs < 150,
    },
    {
      name: `first plan after start (nothing cached), no change`,
      figure: `${ms(coldMs)} (${ratio(coldMs)})`,
      target: '< 100 ms',
      met: coldMs < 100,
    },
  ];
  printVerdicts('Plan (issue 4)', verdicts);
  return verdicts;
}
