/**
 * From a validated pod spec to what the scheduler needs: requests summed as kube-scheduler
 * does (containers added up, an init container counts alone since they run one at a time,
 * plus overhead), and the host ports the containers bind.
 */
import type { Container, PodSpec, Quantity as QuantityText } from '../model/generated/types.js';
import {
  isQuantityError,
  parseQuantity,
  type Quantity,
  toBytes,
  toMillis,
} from '../model/quantity.js';
import type { HostPort, PodToPlace } from './types.js';

function amount(text: QuantityText | undefined, convert: (q: Quantity) => number): number {
  if (text === undefined) return 0;
  const parsed = parseQuantity(text);
  // Validation has already reported unparsable quantities; they ask for nothing here.
  return isQuantityError(parsed) ? 0 : convert(parsed);
}

/** A missing request defaults to the limit, as the API server defaults it. */
function containerRequest(
  container: Container,
  resource: string,
  convert: (q: Quantity) => number,
): number {
  const resources = container.resources;
  return amount(resources?.requests?.[resource] ?? resources?.limits?.[resource], convert);
}

function podRequest(spec: PodSpec, resource: string, convert: (q: Quantity) => number): number {
  let sum = 0;
  for (const container of spec.containers) sum += containerRequest(container, resource, convert);
  for (const init of spec.initContainers ?? []) {
    sum = Math.max(sum, containerRequest(init, resource, convert));
  }
  return sum + amount(spec.overhead?.[resource], convert);
}

export function hostPortsOf(spec: PodSpec): HostPort[] {
  const ports: HostPort[] = [];
  for (const container of spec.containers) {
    for (const port of container.ports ?? []) {
      if (port.hostPort === undefined || port.hostPort <= 0) continue;
      ports.push({
        port: port.hostPort,
        protocol: port.protocol ?? 'TCP',
        hostIP: port.hostIP ?? '',
      });
    }
  }
  return ports;
}

/** The scheduler's view of a pod; `owner` is the owning controller's key, if any. */
export function podToPlace(key: string, spec: PodSpec, owner?: string): PodToPlace {
  return {
    key,
    cpuMillis: podRequest(spec, 'cpu', toMillis),
    memoryBytes: podRequest(spec, 'memory', toBytes),
    hostPorts: hostPortsOf(spec),
    ...(owner === undefined ? {} : { owner }),
    ...(spec.nodeName === undefined ? {} : { nodeName: spec.nodeName }),
    ...(spec.nodeSelector === undefined ? {} : { nodeSelector: spec.nodeSelector }),
  };
}
