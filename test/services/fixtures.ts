import type { PodStatusReport } from '../../operator/agent/lifecycle/status-types.js';
import type {
  ContainerPort,
  Pod,
  Service,
  ServiceSpec,
} from '../../operator/model/generated/types.js';

export function service(
  name: string,
  spec: Partial<ServiceSpec> = {},
  namespace = 'default',
): Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace },
    spec: { selector: { app: name }, ports: [{ port: 80 }], ...spec },
  };
}

export function pod(
  name: string,
  labels: Record<string, string>,
  ports: ContainerPort[] = [],
  namespace = 'default',
): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels },
    spec: { containers: [{ name: 'main', image: 'berth-test/busybox:1', ports }] },
  };
}

export function status(
  podIP: string | undefined,
  options: { phase?: PodStatusReport['phase']; ready?: boolean } = {},
): PodStatusReport {
  return {
    phase: options.phase ?? 'Running',
    conditions: [{ type: 'Ready', status: (options.ready ?? true) ? 'True' : 'False' }],
    ...(podIP === undefined ? {} : { podIP }),
    containerStatuses: [],
  };
}
