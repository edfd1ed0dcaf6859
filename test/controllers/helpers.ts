import type { LivePod } from '../../operator/controllers/live-pod.js';
import type { RandomSource } from '../../operator/controllers/pod-names.js';
import {
  TEMPLATE_HASH_ANNOTATION,
  templateHash,
} from '../../operator/controllers/template-hash.js';
import type { ReplicationController } from '../../operator/model/generated/types.js';

export const T0 = Date.UTC(2026, 0, 1);
export const MINUTE = 60_000;

export function makeRc(
  overrides: { replicas?: number; image?: string; name?: string; namespace?: string } = {},
): ReplicationController {
  const name = overrides.name ?? 'web';
  return {
    apiVersion: 'v1',
    kind: 'ReplicationController',
    metadata: { name, namespace: overrides.namespace ?? 'default', generation: 3 },
    spec: {
      replicas: overrides.replicas ?? 3,
      selector: { app: name },
      template: {
        metadata: { labels: { app: name, tier: 'front' } },
        spec: { containers: [{ name: 'main', image: overrides.image ?? 'nginx:1.25' }] },
      },
    },
  };
}

/** A pod of `rc` made from its current template (or from `hash`), ready and running. */
export function ownedPod(
  rc: ReplicationController,
  name: string,
  fields: Partial<LivePod> & { hash?: string } = {},
): LivePod {
  const { hash, ...rest } = fields;
  return {
    namespace: rc.metadata.namespace ?? 'default',
    name,
    labels: { ...(rc.spec.template.metadata?.labels ?? {}) },
    annotations: { [TEMPLATE_HASH_ANNOTATION]: hash ?? templateHash(rc.spec.template) },
    phase: 'Running',
    ready: true,
    readySince: T0,
    nodeName: 'node-1',
    creationTimestamp: T0,
    ownerReference: {
      kind: 'ReplicationController',
      name: rc.metadata.name ?? '',
      controller: true,
    },
    ...rest,
  };
}

/** A deterministic random source (a 32-bit LCG), so generated names repeat run to run. */
export function seededRandom(seed: number): RandomSource {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}
