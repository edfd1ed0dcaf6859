/**
 * The scheduler's data: a snapshot of nodes (with the pods already on them), pods to place,
 * and one placement per pod. Plain numbers (millicores, bytes) so that the hot loop never
 * parses a quantity.
 */

export type HostPortProtocol = 'TCP' | 'UDP' | 'SCTP';

/** A container port bound on the node. `hostIP` "0.0.0.0" (or "") means every address. */
export interface HostPort {
  readonly port: number;
  readonly protocol: HostPortProtocol;
  readonly hostIP: string;
}

/** What a pod asks of a node: summed requests, host ports, and the controller owning it. */
export interface PodDemand {
  readonly cpuMillis: number;
  readonly memoryBytes: number;
  readonly hostPorts: readonly HostPort[];
  /** Key of the owning controller (e.g. "default/ReplicationController/web"); absent for bare pods. */
  readonly owner?: string;
}

/** A pod already running on a node. */
export type PlacedPod = PodDemand;

export interface PodToPlace extends PodDemand {
  /** Identifies the pod in placements and messages ("default/web-x7k2p"). */
  readonly key: string;
  /** spec.nodeName: the pod may run on this node only. */
  readonly nodeName?: string;
  /** spec.nodeSelector: labels the node must carry. */
  readonly nodeSelector?: Readonly<Record<string, string>>;
}

export interface NodeInfo {
  readonly name: string;
  readonly ready: boolean;
  readonly labels: Readonly<Record<string, string>>;
  readonly allocatable: { readonly cpuMillis: number; readonly memoryBytes: number };
  /** Pods already on the node: their requests, host ports and owning controller. */
  readonly pods: readonly PlacedPod[];
}

export type Placement =
  | { readonly pod: PodToPlace; readonly node: string }
  | { readonly pod: PodToPlace; readonly unschedulable: string };

export function isPlaced(
  placement: Placement,
): placement is { readonly pod: PodToPlace; readonly node: string } {
  return 'node' in placement;
}
