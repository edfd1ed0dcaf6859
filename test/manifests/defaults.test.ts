import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyDefaults, defaultPullPolicy } from '../../operator/manifests/defaults.js';
import type { ManifestObject } from '../../operator/manifests/types.js';
import type {
  Container,
  Pod,
  ReplicationController,
  Service,
} from '../../operator/model/generated/types.js';
import {
  basePod,
  baseRc,
  baseService,
  deepFreeze,
  podObject,
  rcObject,
  serviceObject,
} from './validate-objects.js';

function defaultedPod(change: (pod: Pod) => void = () => {}): Pod {
  const pod = basePod();
  change(pod);
  const result = applyDefaults(podObject(pod));
  if (result.kind !== 'Pod') throw new Error('expected a pod');
  return result.object;
}

function defaultedRc(
  change: (rc: ReplicationController) => void = () => {},
): ReplicationController {
  const rc = baseRc();
  change(rc);
  const result = applyDefaults(rcObject(rc));
  if (result.kind !== 'ReplicationController') throw new Error('expected a controller');
  return result.object;
}

function defaultedService(change: (service: Service) => void = () => {}): Service {
  const service = baseService();
  change(service);
  const result = applyDefaults(serviceObject(service));
  if (result.kind !== 'Service') throw new Error('expected a service');
  return result.object;
}

const first = (pod: Pod): Container => pod.spec.containers[0]!;

describe('applyDefaults: pods', () => {
  it('fills in what the API server fills in', () => {
    const pod = defaultedPod();
    expect(pod.metadata.namespace).toBe('default');
    expect(pod.spec).toMatchObject({
      restartPolicy: 'Always',
      dnsPolicy: 'ClusterFirst',
      terminationGracePeriodSeconds: 30,
      enableServiceLinks: true,
    });
    expect(first(pod)).toMatchObject({
      imagePullPolicy: 'IfNotPresent',
      terminationMessagePath: '/dev/termination-log',
      terminationMessagePolicy: 'File',
      ports: [{ containerPort: 80, protocol: 'TCP' }],
    });
  });

  it('keeps values the user wrote', () => {
    const pod = defaultedPod((p) => {
      p.metadata.namespace = 'shop';
      p.spec.restartPolicy = 'Never';
      p.spec.dnsPolicy = 'Default';
      p.spec.terminationGracePeriodSeconds = 0;
      p.spec.enableServiceLinks = false;
      first(p).imagePullPolicy = 'Never';
      first(p).terminationMessagePath = '/tmp/msg';
      first(p).ports = [{ containerPort: 53, protocol: 'UDP' }];
    });
    expect(pod.metadata.namespace).toBe('shop');
    expect(pod.spec).toMatchObject({
      restartPolicy: 'Never',
      dnsPolicy: 'Default',
      terminationGracePeriodSeconds: 0,
      enableServiceLinks: false,
    });
    expect(first(pod)).toMatchObject({
      imagePullPolicy: 'Never',
      terminationMessagePath: '/tmp/msg',
      ports: [{ containerPort: 53, protocol: 'UDP' }],
    });
  });

  it('treats an empty namespace as the default one', () => {
    expect(
      defaultedPod((p) => {
        p.metadata.namespace = '';
      }).metadata.namespace,
    ).toBe('default');
  });

  it.each([
    ['nginx', 'Always'],
    ['nginx:latest', 'Always'],
    ['nginx:1.25', 'IfNotPresent'],
    ['library/nginx', 'Always'],
    ['localhost:5000/app', 'Always'],
    ['localhost:5000/app:v2', 'IfNotPresent'],
    ['registry.example.com:443/team/app:latest', 'Always'],
    ['nginx@sha256:abcdef', 'IfNotPresent'],
    ['nginx:latest@sha256:abcdef', 'Always'],
    ['nginx:1.25@sha256:abcdef', 'IfNotPresent'],
  ] as const)('pulls %s with %s', (image, policy) => {
    expect(defaultPullPolicy(image)).toBe(policy);
    expect(
      first(
        defaultedPod((p) => {
          first(p).image = image;
        }),
      ).imagePullPolicy,
    ).toBe(policy);
  });

  it('defaults probes, treating 0 as unset as Kubernetes does', () => {
    const pod = defaultedPod((p) => {
      first(p).livenessProbe = { httpGet: { port: 80 }, periodSeconds: 0 };
      first(p).readinessProbe = { tcpSocket: { port: 80 }, periodSeconds: 5, failureThreshold: 1 };
      first(p).startupProbe = { exec: { command: ['true'] }, initialDelaySeconds: 3 };
    });
    expect(first(pod).livenessProbe).toEqual({
      httpGet: { port: 80, path: '/', scheme: 'HTTP' },
      periodSeconds: 10,
      timeoutSeconds: 1,
      successThreshold: 1,
      failureThreshold: 3,
    });
    expect(first(pod).readinessProbe).toMatchObject({
      periodSeconds: 5,
      failureThreshold: 1,
      timeoutSeconds: 1,
    });
    expect(first(pod).startupProbe).toMatchObject({ initialDelaySeconds: 3, periodSeconds: 10 });
  });

  it('keeps a written HTTP path and scheme, also in lifecycle handlers', () => {
    const pod = defaultedPod((p) => {
      first(p).livenessProbe = { httpGet: { port: 443, path: '/healthz', scheme: 'HTTPS' } };
      first(p).lifecycle = { preStop: { httpGet: { port: 80 } } };
    });
    expect(first(pod).livenessProbe?.httpGet).toEqual({
      port: 443,
      path: '/healthz',
      scheme: 'HTTPS',
    });
    expect(first(pod).lifecycle?.preStop?.httpGet).toEqual({ port: 80, path: '/', scheme: 'HTTP' });
  });

  it('defaults the field selector version of env and downwardAPI files', () => {
    const pod = defaultedPod((p) => {
      first(p).env = [{ name: 'NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }];
      p.spec.volumes = [
        {
          name: 'info',
          downwardAPI: { items: [{ path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } }] },
        },
      ];
    });
    expect(first(pod).env?.[0]?.valueFrom?.fieldRef?.apiVersion).toBe('v1');
    expect(pod.spec.volumes?.[0]?.downwardAPI).toEqual({
      defaultMode: 0o644,
      items: [{ path: 'labels', fieldRef: { fieldPath: 'metadata.labels', apiVersion: 'v1' } }],
    });
  });

  it('defaults volumes: no source is an emptyDir, file modes 0644', () => {
    const pod = defaultedPod((p) => {
      p.spec.volumes = [
        { name: 'scratch' },
        { name: 'cache', emptyDir: {} },
        { name: 'ram', emptyDir: { medium: 'Memory' } },
        { name: 'logs', hostPath: { path: '/var/log' } },
        { name: 'creds', secret: { secretName: 'db' } },
        { name: 'conf', configMap: { name: 'app', defaultMode: 0o600 } },
        { name: 'site', gitRepo: { repository: 'https://example.com/site.git' } },
      ];
    });
    expect(pod.spec.volumes).toEqual([
      { name: 'scratch', emptyDir: { medium: '' } },
      { name: 'cache', emptyDir: { medium: '' } },
      { name: 'ram', emptyDir: { medium: 'Memory' } },
      { name: 'logs', hostPath: { path: '/var/log', type: '' } },
      { name: 'creds', secret: { secretName: 'db', defaultMode: 0o644 } },
      { name: 'conf', configMap: { name: 'app', defaultMode: 0o600 } },
      { name: 'site', gitRepo: { repository: 'https://example.com/site.git' } },
    ]);
  });

  it('uses the container port as host port on the host network', () => {
    const pod = defaultedPod((p) => {
      p.spec.hostNetwork = true;
      first(p).ports = [{ containerPort: 80 }, { containerPort: 81, hostPort: 81 }];
    });
    expect(first(pod).ports).toEqual([
      { containerPort: 80, hostPort: 80, protocol: 'TCP' },
      { containerPort: 81, hostPort: 81, protocol: 'TCP' },
    ]);
    expect(first(defaultedPod()).ports?.[0]?.hostPort).toBeUndefined();
  });

  it('defaults init containers like containers', () => {
    const pod = defaultedPod((p) => {
      p.spec.initContainers = [{ name: 'init', image: 'busybox', ports: [{ containerPort: 1 }] }];
    });
    expect(pod.spec.initContainers?.[0]).toMatchObject({
      imagePullPolicy: 'Always',
      terminationMessagePath: '/dev/termination-log',
      ports: [{ containerPort: 1, protocol: 'TCP' }],
    });
  });

  it('leaves quantities as written', () => {
    const pod = defaultedPod((p) => {
      first(p).resources = { requests: { cpu: '0.5', memory: 134217728 }, limits: { cpu: '500m' } };
    });
    expect(first(pod).resources).toEqual({
      requests: { cpu: '0.5', memory: 134217728 },
      limits: { cpu: '500m' },
    });
  });
});

describe('applyDefaults: pod-only defaults', () => {
  it('requests the limit where no request is written, keeping the text', () => {
    const pod = defaultedPod((p) => {
      first(p).resources = { limits: { cpu: '0.5', memory: '1Gi' }, requests: { cpu: '100m' } };
      p.spec.initContainers = [{ name: 'init', image: 'x', resources: { limits: { memory: 64 } } }];
    });
    expect(first(pod).resources).toEqual({
      limits: { cpu: '0.5', memory: '1Gi' },
      requests: { cpu: '100m', memory: '1Gi' },
    });
    expect(pod.spec.initContainers?.[0]?.resources?.requests).toEqual({ memory: 64 });
  });

  it('gives pods, not controller templates, enableServiceLinks and requests from limits', () => {
    const rc = defaultedRc((r) => {
      r.spec.template.spec.containers[0]!.resources = { limits: { cpu: '1' } };
    });
    expect(rc.spec.template.spec.enableServiceLinks).toBeUndefined();
    expect(rc.spec.template.spec.containers[0]?.resources).toEqual({ limits: { cpu: '1' } });
  });
});

describe('applyDefaults: replication controllers', () => {
  it('defaults replicas, the template spec, and labels from the template', () => {
    const rc = defaultedRc((r) => {
      delete r.spec.replicas;
      delete r.spec.selector;
    });
    expect(rc.spec.replicas).toBe(1);
    expect(rc.spec.selector).toEqual({ app: 'frontend', tier: 'web' });
    expect(rc.metadata.labels).toEqual({ app: 'frontend', tier: 'web' });
    expect(rc.metadata.namespace).toBe('default');
    expect(rc.spec.template.spec).toMatchObject({
      restartPolicy: 'Always',
      dnsPolicy: 'ClusterFirst',
    });
    expect(rc.spec.template.spec.containers[0]?.imagePullPolicy).toBe('IfNotPresent');
  });

  it('keeps a written selector, labels and replicas (0 included)', () => {
    const rc = defaultedRc((r) => {
      r.spec.replicas = 0;
      r.metadata.labels = { owner: 'me' };
    });
    expect(rc.spec.replicas).toBe(0);
    expect(rc.spec.selector).toEqual({ app: 'frontend' });
    expect(rc.metadata.labels).toEqual({ owner: 'me' });
  });

  it('treats an empty selector as unset', () => {
    expect(
      defaultedRc((r) => {
        r.spec.selector = {};
      }).spec.selector,
    ).toEqual({ app: 'frontend', tier: 'web' });
  });

  it('copies the labels, so changing one leaves the other alone', () => {
    const rc = defaultedRc((r) => {
      delete r.spec.selector;
    });
    rc.spec.selector!.app = 'changed';
    expect(rc.spec.template.metadata?.labels?.app).toBe('frontend');
    expect(rc.metadata.labels?.app).toBe('frontend');
  });

  it('leaves the selector empty when the template has no labels', () => {
    const rc = defaultedRc((r) => {
      delete r.spec.selector;
      r.spec.template.metadata = {};
    });
    expect(rc.spec.selector).toBeUndefined();
    expect(rc.metadata.labels).toBeUndefined();
  });
});

describe('applyDefaults: services', () => {
  it('fills in type, session affinity, protocol and target port', () => {
    const service = defaultedService();
    expect(service.metadata.namespace).toBe('default');
    expect(service.spec).toEqual({
      selector: { app: 'frontend' },
      ports: [{ port: 80, protocol: 'TCP', targetPort: 80 }],
      type: 'ClusterIP',
      sessionAffinity: 'None',
      internalTrafficPolicy: 'Cluster',
    });
  });

  it.each([
    ['absent', undefined, 80],
    ['zero', 0, 80],
    ['empty', '', 80],
    ['a number', 8080, 8080],
    ['a name', 'http', 'http'],
  ] as const)('targetPort %s becomes %j', (_label, targetPort, expected) => {
    const service = defaultedService((s) => {
      s.spec.ports = targetPort === undefined ? [{ port: 80 }] : [{ port: 80, targetPort }];
    });
    expect(service.spec.ports?.[0]?.targetPort).toBe(expected);
  });

  it('defaults the traffic policy of node port services and the ClientIP timeout', () => {
    const service = defaultedService((s) => {
      s.spec.type = 'NodePort';
      s.spec.sessionAffinity = 'ClientIP';
    });
    expect(service.spec.externalTrafficPolicy).toBe('Cluster');
    expect(service.spec.sessionAffinityConfig).toEqual({ clientIP: { timeoutSeconds: 10800 } });
  });

  it('drops affinity settings when affinity is None, as Kubernetes does', () => {
    const service = defaultedService((s) => {
      s.spec.sessionAffinityConfig = { clientIP: { timeoutSeconds: 60 } };
    });
    expect(service.spec.sessionAffinity).toBe('None');
    expect(service.spec.sessionAffinityConfig).toBeUndefined();
  });

  it('keeps a written ClientIP timeout and allocates node ports for load balancers', () => {
    const service = defaultedService((s) => {
      s.spec.type = 'LoadBalancer';
      s.spec.sessionAffinity = 'ClientIP';
      s.spec.sessionAffinityConfig = { clientIP: { timeoutSeconds: 60 } };
    });
    expect(service.spec.sessionAffinityConfig).toEqual({ clientIP: { timeoutSeconds: 60 } });
    expect(service.spec.allocateLoadBalancerNodePorts).toBe(true);
    expect(service.spec.externalTrafficPolicy).toBe('Cluster');
  });

  it('gives an ExternalName service no traffic policies', () => {
    const service = defaultedService((s) => {
      s.spec = { type: 'ExternalName', externalName: 'db.example.com' };
    });
    expect(service.spec.internalTrafficPolicy).toBeUndefined();
    expect(service.spec.externalTrafficPolicy).toBeUndefined();
  });
});

describe('applyDefaults: contract', () => {
  const samples: readonly ManifestObject[] = [
    podObject(basePod()),
    rcObject(baseRc()),
    serviceObject(baseService()),
  ];

  it('does not change its input', () => {
    for (const sample of samples) {
      const frozen = {
        ...sample,
        object: deepFreeze(structuredClone(sample.object)),
      } as ManifestObject;
      const before = structuredClone(frozen.object);
      expect(() => applyDefaults(frozen)).not.toThrow();
      expect(frozen.object).toEqual(before);
    }
  });

  it('keeps kind and positions', () => {
    for (const sample of samples) {
      const result = applyDefaults(sample);
      expect(result.kind).toBe(sample.kind);
      expect(result.origin).toEqual(sample.origin);
      expect(result.locate(['spec', 'x'])).toEqual(sample.locate(['spec', 'x']));
    }
  });

  it('is idempotent on the samples', () => {
    for (const sample of samples) {
      const once = applyDefaults(sample);
      expect(applyDefaults(once).object).toEqual(once.object);
    }
  });

  // Pods with a random choice of the fields defaulting looks at, written or left out.
  const optional = <T>(arbitrary: fc.Arbitrary<T>) => fc.option(arbitrary, { nil: undefined });
  const probe = fc.record(
    {
      httpGet: optional(
        fc.record({
          port: fc.integer({ min: 1, max: 65535 }),
          path: optional(fc.constantFrom('', '/', '/x')),
        }),
      ),
      periodSeconds: optional(fc.integer({ min: 0, max: 5 })),
      timeoutSeconds: optional(fc.integer({ min: 0, max: 5 })),
      successThreshold: optional(fc.integer({ min: 0, max: 5 })),
      failureThreshold: optional(fc.integer({ min: 0, max: 5 })),
    },
    { requiredKeys: [] },
  );
  const container = fc.record(
    {
      name: fc.constantFrom('a', 'b'),
      image: fc.constantFrom('nginx', 'nginx:latest', 'nginx:1', 'r:5000/x@sha256:ab'),
      imagePullPolicy: optional(fc.constantFrom('Always', 'Never', 'IfNotPresent' as const)),
      ports: optional(
        fc.array(
          fc.record(
            {
              containerPort: fc.integer({ min: 1, max: 65535 }),
              hostPort: optional(fc.integer({ min: 0, max: 65535 })),
              protocol: optional(fc.constantFrom('TCP', 'UDP' as const)),
            },
            { requiredKeys: ['containerPort'] },
          ),
          { maxLength: 3 },
        ),
      ),
      livenessProbe: optional(probe),
    },
    { requiredKeys: ['name', 'image'] },
  );
  const pod = fc.record({
    namespace: optional(fc.constantFrom('', 'default', 'shop')),
    hostNetwork: optional(fc.boolean()),
    restartPolicy: optional(fc.constantFrom('Always', 'OnFailure', 'Never' as const)),
    containers: fc.array(container, { minLength: 1, maxLength: 3 }),
    volumes: optional(
      fc.array(
        fc.record(
          {
            name: fc.constantFrom('v', 'w'),
            emptyDir: optional(
              fc.record({ medium: optional(fc.constantFrom('', 'Memory')) }, { requiredKeys: [] }),
            ),
            secret: optional(fc.record({ secretName: fc.constant('s') })),
          },
          { requiredKeys: ['name'] },
        ),
        { maxLength: 3 },
      ),
    ),
  });

  it('is idempotent and leaves its input alone for any pod', () => {
    fc.assert(
      fc.property(pod, (generated) => {
        const written: Pod = {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata:
            generated.namespace === undefined
              ? { name: 'p' }
              : { name: 'p', namespace: generated.namespace },
          spec: JSON.parse(
            JSON.stringify({
              hostNetwork: generated.hostNetwork,
              restartPolicy: generated.restartPolicy,
              containers: generated.containers,
              volumes: generated.volumes,
            }),
          ),
        };
        const before = structuredClone(written);
        const once = applyDefaults(podObject(written));
        expect(written).toEqual(before);
        expect(applyDefaults(once).object).toEqual(once.object);
        // Defaulting adds fields and never changes a non-zero value the user wrote.
        expect(once.object).toMatchObject(JSON.parse(JSON.stringify(stripZeros(before))));
      }),
    );
  });
});

/** The written values defaulting must keep: zeros and empty strings may be replaced by defaults. */
function stripZeros(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripZeros);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(value)) {
      if (inner === 0 || inner === '') continue;
      out[key] = stripZeros(inner);
    }
    return out;
  }
  return value;
}
