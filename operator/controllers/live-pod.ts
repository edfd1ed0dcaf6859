/**
 * What the replication controller needs to know of each live pod: a snapshot built by the
 * engine from agents' status reports (operator/agent/lifecycle/status-types.ts). Times are
 * milliseconds since the epoch, so the core compares numbers and never reads a clock.
 */
import type { PodPhase } from '../agent/lifecycle/status-types.js';

export interface LiveOwnerReference {
  readonly kind: string;
  readonly name: string;
  readonly uid?: string;
  /** True when the owner is the managing controller (only those count as owners here). */
  readonly controller?: boolean;
}

export interface LivePod {
  readonly namespace: string;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly phase: PodPhase;
  /** The pod's Ready condition is True. */
  readonly ready: boolean;
  /** When the Ready condition last turned True (ms); pods ready longer are worth more. */
  readonly readySince?: number;
  /** The node the pod is scheduled to; absent while unscheduled. */
  readonly nodeName?: string;
  /** ms since the epoch; absent for a pod the store has not stamped yet. */
  readonly creationTimestamp?: number;
  /** The pod is being deleted (a deletionTimestamp is set): it no longer counts. */
  readonly deleting?: boolean;
  /** Restarts summed over the pod's containers; more restarts make a pod worth less. */
  readonly restartCount?: number;
  readonly ownerReference?: LiveOwnerReference;
}

/** Active as Kubernetes' controllers count pods: not finished and not being deleted. */
export function isActivePod(pod: LivePod): boolean {
  return pod.phase !== 'Succeeded' && pod.phase !== 'Failed' && pod.deleting !== true;
}
