/** Small manifest builders for the planner and diff tests. */
import type { Pod, ReplicationController, Service } from '../../operator/model/generated/types.js';
import type { DesiredObject, LiveObject } from '../../operator/plan/plan.js';

export function pod(name: string, image = 'nginx:1.25', extra: Partial<Pod> = {}): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { app: name } },
    spec: {
      containers: [
        {
          name: 'app',
          image,
          resources: { limits: { cpu: '0.5', memory: '1Gi' } },
        },
      ],
    },
    ...extra,
  };
}

export function rc(name: string, image = 'nginx:1.25', replicas = 2): ReplicationController {
  return {
    apiVersion: 'v1',
    kind: 'ReplicationController',
    metadata: { name },
    spec: {
      replicas,
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'app', image }] },
      },
    },
  };
}

export function service(name: string, port = 80, clusterIP?: string): Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name },
    spec: {
      selector: { app: name },
      ports: [{ port }],
      ...(clusterIP === undefined ? {} : { clusterIP }),
    },
  };
}

type Kinded = Pod | ReplicationController | Service;

function kindOf(object: Kinded): DesiredObject['kind'] {
  if (object.kind === undefined) throw new Error('test objects carry their kind');
  return object.kind;
}

export function want(object: Kinded, line = 1): DesiredObject {
  return { kind: kindOf(object), object, origin: { file: 'app.yaml', line, column: 1 } };
}

/** The live copy of an object: what the server adds (ids, status, allocations). */
export function applied(object: Kinded, index = 0): LiveObject {
  const copy = structuredClone(object) as Kinded & { status?: unknown };
  copy.metadata = {
    ...copy.metadata,
    uid: `uid-${index}`,
    resourceVersion: String(100 + index),
    creationTimestamp: '2026-11-25T20:00:00Z',
    generation: 1,
  };
  if (copy.kind === 'Service') {
    copy.spec.clusterIP ??= `10.96.0.${index + 1}`;
    copy.spec.clusterIPs ??= [copy.spec.clusterIP];
    copy.status = { loadBalancer: {} };
  } else if (copy.kind === 'Pod') {
    copy.spec.nodeName ??= 'node-a';
    copy.status = { phase: 'Running', podIP: `172.17.0.${index + 2}` };
  } else {
    copy.status = { replicas: 2, readyReplicas: 2 };
  }
  return { kind: kindOf(copy), object: copy };
}

export function keyOf(kind: string, name: string, namespace = 'default'): string {
  return `${kind}/${namespace}/${name}`;
}
