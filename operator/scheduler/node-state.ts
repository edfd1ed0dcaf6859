/**
 * A node as the scheduler sees it during one batch: its fixed facts plus what has been placed
 * on it so far (existing pods and this batch's placements). Both schedulers mutate these as
 * they place, so a later pod sees earlier placements.
 */
import type { HostPort, NodeInfo, PodDemand } from './types.js';

export interface NodeState {
  readonly info: NodeInfo;
  /** Position in the name-sorted node list; ties are broken by it, so by name. */
  readonly index: number;
  cpuRequested: number;
  memoryRequested: number;
  /** Bound host ports, keyed "protocol/port", with the host IPs bound ("0.0.0.0" for all). */
  readonly ports: Map<string, string[]>;
  /** Pods per owning controller on this node. */
  readonly owners: Map<string, number>;
}

export const WILDCARD_IP = '0.0.0.0';

export function portKey(port: HostPort): string {
  return `${port.protocol}/${port.port}`;
}

export function normalizedHostIP(ip: string): string {
  return ip === '' || ip === '::' ? WILDCARD_IP : ip;
}

/** Adds a pod's requests, ports and owner to the node. */
export function addPod(node: NodeState, pod: PodDemand): void {
  node.cpuRequested += pod.cpuMillis;
  node.memoryRequested += pod.memoryBytes;
  for (const port of pod.hostPorts) {
    const key = portKey(port);
    const ips = node.ports.get(key);
    if (ips === undefined) node.ports.set(key, [normalizedHostIP(port.hostIP)]);
    else ips.push(normalizedHostIP(port.hostIP));
  }
  if (pod.owner !== undefined) node.owners.set(pod.owner, (node.owners.get(pod.owner) ?? 0) + 1);
}

/** Code-unit order, not locale order: the same on every machine, so plans are stable. */
export function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The batch's starting state: nodes sorted by name, with their existing pods added. */
export function buildNodeStates(nodes: readonly NodeInfo[]): NodeState[] {
  const sorted = [...nodes].sort((a, b) => compareNames(a.name, b.name));
  return sorted.map((info, index) => {
    const state: NodeState = {
      info,
      index,
      cpuRequested: 0,
      memoryRequested: 0,
      ports: new Map(),
      owners: new Map(),
    };
    for (const pod of info.pods) addPod(state, pod);
    return state;
  });
}
