/**
 * Builders for ManifestObjects in validate and defaults tests. `locate` encodes the path it was
 * asked for in the origin's file name, so tests can check that a problem points at its field.
 */

import type { ManifestObject } from '../../operator/manifests/types.js';
import type { Pod, ReplicationController, Service } from '../../operator/model/generated/types.js';
import { type FieldPath, formatFieldPath, type Origin } from '../../operator/model/problem.js';

export function locateIn(file: string): (path: FieldPath) => Origin {
  return (path) => ({ file: `${file}#${formatFieldPath(path)}`, line: path.length + 1, column: 1 });
}

export function podObject(pod: Pod, file = 'pod.yaml'): ManifestObject {
  return { kind: 'Pod', object: pod, origin: { file, line: 1, column: 1 }, locate: locateIn(file) };
}

export function rcObject(rc: ReplicationController, file = 'rc.yaml'): ManifestObject {
  return {
    kind: 'ReplicationController',
    object: rc,
    origin: { file, line: 1, column: 1 },
    locate: locateIn(file),
  };
}

export function serviceObject(service: Service, file = 'service.yaml'): ManifestObject {
  return {
    kind: 'Service',
    object: service,
    origin: { file, line: 1, column: 1 },
    locate: locateIn(file),
  };
}

/** A small valid pod; tests change one thing in a copy. */
export function basePod(): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web', labels: { app: 'web' } },
    spec: { containers: [{ name: 'web', image: 'nginx:1.25', ports: [{ containerPort: 80 }] }] },
  };
}

export function baseRc(): ReplicationController {
  return {
    apiVersion: 'v1',
    kind: 'ReplicationController',
    metadata: { name: 'frontend' },
    spec: {
      replicas: 3,
      selector: { app: 'frontend' },
      template: {
        metadata: { labels: { app: 'frontend', tier: 'web' } },
        spec: { containers: [{ name: 'php', image: 'gb-frontend:v4' }] },
      },
    },
  };
}

export function baseService(): Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'frontend' },
    spec: { selector: { app: 'frontend' }, ports: [{ port: 80 }] },
  };
}

/** Recursively freezes a value so that any mutation throws in strict mode. */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
