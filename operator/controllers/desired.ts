/**
 * Desired state from a source's objects: the bare Pods as written, the ReplicationControllers
 * (whose pods the replication controller works out against live state) and the Services.
 */

import type { ManifestObject } from '../manifests/types.js';
import type { Pod, ReplicationController, Service } from '../model/generated/types.js';

export interface DesiredState {
  /** Bare pods, exactly as loaded (validated and defaulted), in source order. */
  readonly pods: Pod[];
  readonly controllers: ReplicationController[];
  readonly services: Service[];
}

/** Splits loaded objects by kind; the objects are already defaulted by the loader. */
export function desiredFromManifests(objects: readonly ManifestObject[]): DesiredState {
  const pods: Pod[] = [];
  const controllers: ReplicationController[] = [];
  const services: Service[] = [];
  for (const item of objects) {
    switch (item.kind) {
      case 'Pod':
        pods.push(item.object);
        break;
      case 'ReplicationController':
        controllers.push(item.object);
        break;
      case 'Service':
        services.push(item.object);
        break;
      default: {
        const unreachable: never = item;
        return unreachable;
      }
    }
  }
  return { pods, controllers, services };
}
