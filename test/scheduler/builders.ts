/** Small builders for scheduler tests: a node or a pod with only the fields a test cares about. */
import type { NodeInfo, PlacedPod, PodToPlace } from '../../operator/scheduler/index.js';

export const GI = 1024 ** 3;

export function node(name: string, overrides: Partial<NodeInfo> = {}): NodeInfo {
  return {
    name,
    ready: true,
    labels: {},
    allocatable: { cpuMillis: 4000, memoryBytes: 8 * GI },
    pods: [],
    ...overrides,
  };
}

export function pod(key: string, overrides: Partial<PodToPlace> = {}): PodToPlace {
  return { key, cpuMillis: 100, memoryBytes: 128 * 1024 ** 2, hostPorts: [], ...overrides };
}

export function placed(overrides: Partial<PlacedPod> = {}): PlacedPod {
  return { cpuMillis: 0, memoryBytes: 0, hostPorts: [], ...overrides };
}
