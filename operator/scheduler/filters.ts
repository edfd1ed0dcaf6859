/**
 * Feasibility checks, one small unit each, in kube-scheduler's filter order. A node is counted
 * in the "0/N nodes are available" message under the first filter that rejects it, as
 * kube-scheduler does, and the reasons are kube-scheduler's own words so that people can
 * search for them.
 */
import { type NodeState, normalizedHostIP, portKey, WILDCARD_IP } from './node-state.js';
import type { PodToPlace } from './types.js';

export const REASON_NODE_NAME = "node(s) didn't match the requested node name";
export const REASON_NOT_READY = 'node(s) had untolerated taint {node.kubernetes.io/not-ready: }';
export const REASON_NODE_SELECTOR = "node(s) didn't match Pod's node affinity/selector";
export const REASON_HOST_PORTS = "node(s) didn't have free ports for the requested pod ports";
export const REASON_INSUFFICIENT_CPU = 'Insufficient cpu';
export const REASON_INSUFFICIENT_MEMORY = 'Insufficient memory';
export const NO_NODES_MESSAGE = 'no nodes available to schedule pods';

export interface Filter {
  readonly name: string;
  /** Why the check exists, for readers and for `berth explain`-style output. */
  readonly why: string;
  /** The reasons the node is rejected, or undefined when the pod may run there. */
  check(pod: PodToPlace, node: NodeState): readonly string[] | undefined;
}

const NODE_NAME_REJECTED = [REASON_NODE_NAME] as const;
const NOT_READY_REJECTED = [REASON_NOT_READY] as const;
const SELECTOR_REJECTED = [REASON_NODE_SELECTOR] as const;
const PORTS_REJECTED = [REASON_HOST_PORTS] as const;
const CPU_REJECTED = [REASON_INSUFFICIENT_CPU] as const;
const MEMORY_REJECTED = [REASON_INSUFFICIENT_MEMORY] as const;
const BOTH_REJECTED = [REASON_INSUFFICIENT_CPU, REASON_INSUFFICIENT_MEMORY] as const;

export function matchesNodeName(pod: PodToPlace, node: NodeState): boolean {
  return pod.nodeName === undefined || pod.nodeName === node.info.name;
}

export function matchesNodeSelector(
  selector: Readonly<Record<string, string>> | undefined,
  labels: Readonly<Record<string, string>>,
): boolean {
  if (selector === undefined) return true;
  for (const key in selector) {
    if (!Object.hasOwn(labels, key) || labels[key] !== selector[key]) return false;
  }
  return true;
}

/** kube's HostPortInfo rule: same protocol and port clash when either side binds 0.0.0.0 or both bind the same IP. */
export function hostPortsFree(pod: PodToPlace, node: NodeState): boolean {
  for (const port of pod.hostPorts) {
    const bound = node.ports.get(portKey(port));
    if (bound === undefined) continue;
    const ip = normalizedHostIP(port.hostIP);
    if (ip === WILDCARD_IP) return false;
    for (const other of bound) if (other === WILDCARD_IP || other === ip) return false;
  }
  return true;
}

/** A zero request fits anywhere, even on an over-committed node, as in kube's NodeResourcesFit. */
export function cpuFits(pod: PodToPlace, node: NodeState): boolean {
  return pod.cpuMillis <= 0 || pod.cpuMillis <= node.info.allocatable.cpuMillis - node.cpuRequested;
}

export function memoryFits(pod: PodToPlace, node: NodeState): boolean {
  return (
    pod.memoryBytes <= 0 ||
    pod.memoryBytes <= node.info.allocatable.memoryBytes - node.memoryRequested
  );
}

export const nodeNameFilter: Filter = {
  name: 'NodeName',
  why: 'spec.nodeName pins the pod to one node; no other node may take it',
  check: (pod, node) => (matchesNodeName(pod, node) ? undefined : NODE_NAME_REJECTED),
};

export const nodeReadyFilter: Filter = {
  name: 'NodeReady',
  why: 'a node that is not ready cannot start containers; kube taints it not-ready and pods do not tolerate that',
  check: (_pod, node) => (node.info.ready ? undefined : NOT_READY_REJECTED),
};

export const nodeSelectorFilter: Filter = {
  name: 'NodeSelector',
  why: 'spec.nodeSelector names labels the node must carry (hardware, zone, role)',
  check: (pod, node) =>
    matchesNodeSelector(pod.nodeSelector, node.info.labels) ? undefined : SELECTOR_REJECTED,
};

export const hostPortsFilter: Filter = {
  name: 'NodePorts',
  why: 'a host port can be bound by one pod per node and protocol (and host IP)',
  check: (pod, node) => (hostPortsFree(pod, node) ? undefined : PORTS_REJECTED),
};

export const resourcesFitFilter: Filter = {
  name: 'NodeResourcesFit',
  why: "the pod's summed requests must fit in what is allocatable minus what is already requested, or the node is over-committed",
  check: (pod, node) => {
    const cpu = cpuFits(pod, node);
    const memory = memoryFits(pod, node);
    if (cpu && memory) return undefined;
    if (cpu) return MEMORY_REJECTED;
    return memory ? CPU_REJECTED : BOTH_REJECTED;
  },
};

/** In kube-scheduler's order, which decides where a node is counted in the message. */
export const FILTERS: readonly Filter[] = [
  nodeNameFilter,
  nodeReadyFilter,
  nodeSelectorFilter,
  hostPortsFilter,
  resourcesFitFilter,
];

/** The reasons of the first filter that rejects the node, or undefined when all pass. */
export function firstRejection(pod: PodToPlace, node: NodeState): readonly string[] | undefined {
  for (const filter of FILTERS) {
    const reasons = filter.check(pod, node);
    if (reasons !== undefined) return reasons;
  }
  return undefined;
}

/** Adds one node's rejection reasons to per-reason counts (`delta` -1 takes them back). */
export function countReasons(
  counts: Map<string, number>,
  reasons: readonly string[] | undefined,
  delta = 1,
): void {
  for (const reason of reasons ?? []) counts.set(reason, (counts.get(reason) ?? 0) + delta);
}

/**
 * kube-scheduler's FitError text: "0/3 nodes are available: 2 Insufficient memory, 1 node(s)
 * didn't match Pod's node affinity/selector." Counts per reason, entries sorted as strings.
 */
export function formatUnschedulable(
  nodeCount: number,
  counts: ReadonlyMap<string, number>,
): string {
  if (nodeCount === 0) return NO_NODES_MESSAGE;
  const entries: string[] = [];
  for (const [reason, count] of counts) if (count > 0) entries.push(`${count} ${reason}`);
  entries.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return `0/${nodeCount} nodes are available: ${entries.join(', ')}.`;
}

/** The message for a pod no node accepts, by the definition: every filter on every node. */
export function unschedulableMessage(pod: PodToPlace, nodes: readonly NodeState[]): string {
  const counts = new Map<string, number>();
  for (const node of nodes) countReasons(counts, firstRejection(pod, node));
  return formatUnschedulable(nodes.length, counts);
}
