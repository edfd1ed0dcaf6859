import { describe, expect, it } from 'vitest';
import {
  canonicalJson,
  podUid,
  sandboxPartOf,
  specHash,
} from '../../../operator/agent/lifecycle/spec-hash.js';
import type { Pod } from '../../../operator/model/generated/types.js';

function pod(overrides: Partial<Pod['spec']> = {}): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web', namespace: 'default', uid: 'u1' },
    spec: {
      containers: [
        {
          name: 'app',
          image: 'busybox:1',
          ports: [{ containerPort: 80 }],
          volumeMounts: [{ name: 'data', mountPath: '/d' }],
        },
        { name: 'side', image: 'busybox:1' },
      ],
      volumes: [
        { name: 'data', emptyDir: {} },
        { name: 'other', emptyDir: {} },
      ],
      ...overrides,
    },
  };
}

describe('canonicalJson', () => {
  it('does not depend on key order', () => {
    expect(canonicalJson({ b: 1, a: [{ d: 2, c: 3 }] })).toBe(
      canonicalJson({ a: [{ c: 3, d: 2 }], b: 1 }),
    );
  });
});

describe('specHash', () => {
  it('is stable, and differs per container', () => {
    const p = pod();
    expect(specHash(p, p.spec.containers[0]!)).toBe(specHash(pod(), pod().spec.containers[0]!));
    expect(specHash(p, p.spec.containers[0]!)).not.toBe(specHash(p, p.spec.containers[1]!));
  });

  it('changes the container part for its own image, not for a sibling or an unmounted volume', () => {
    const base = pod();
    const changedSibling = pod();
    changedSibling.spec.containers[1]!.image = 'busybox:2';
    changedSibling.spec.volumes![1] = { name: 'other', hostPath: { path: '/tmp' } };
    expect(specHash(changedSibling, changedSibling.spec.containers[0]!)).toBe(
      specHash(base, base.spec.containers[0]!),
    );
    const changedMounted = pod({ volumes: [{ name: 'data', hostPath: { path: '/x' } }] });
    expect(specHash(changedMounted, changedMounted.spec.containers[0]!)).not.toBe(
      specHash(base, base.spec.containers[0]!),
    );
  });

  it('changes the sandbox part for every container when a host port changes', () => {
    const base = pod();
    const withHostPort = pod();
    withHostPort.spec.containers[0]!.ports = [{ containerPort: 80, hostPort: 8080 }];
    const side = (p: Pod): string => specHash(p, p.spec.containers[1]!);
    expect(sandboxPartOf(side(withHostPort))).not.toBe(sandboxPartOf(side(base)));
    expect(sandboxPartOf(side(base))).toMatch(/^[0-9a-f]{8}$/);
  });
});

describe('podUid', () => {
  it('keeps a given uid and derives a stable one otherwise', () => {
    expect(podUid(pod())).toBe('u1');
    const bare: Pod = { ...pod(), metadata: { name: 'web', namespace: 'prod' } };
    expect(podUid(bare)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(podUid(bare)).toBe(podUid({ ...bare }));
    expect(podUid(bare)).not.toBe(podUid({ ...bare, metadata: { name: 'web', namespace: 'dev' } }));
  });
});
