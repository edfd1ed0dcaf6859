/**
 * What the replication controller needs to know of each live pod: a snapshot built by the
 * engine from agents' status reports (operator/agent/lifecycle/status-types.ts). Times are
 * milliseconds since the epoch, so the core compares numbers and never reads a clock.
 */
import type { PodPhase, PodStatusReport } from '../agent/lifecycle/status-types.js';
import type { Pod } from '../model/generated/types.js';

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

/**
 * The snapshot of a pod from its object (labels, owner, node, times) and the status its agent
 * reported (phase, Ready condition, restarts). A pod with no report yet is Pending and not
 * ready. Only an owner reference marked `controller: true` makes a pod owned, as in
 * Kubernetes' GetControllerOf.
 */
export function livePodFrom(pod: Pod, status: PodStatusReport | undefined): LivePod {
  const meta = pod.metadata;
  // Reports come over the wire: a report without conditions is "not ready", never a crash.
  const readyCondition = (status?.conditions ?? []).find((condition) => condition.type === 'Ready');
  const ready = readyCondition?.status === 'True';
  const readySince = ready ? timeOf(readyCondition?.lastTransitionTime) : undefined;
  const created = timeOf(meta.creationTimestamp);
  const controllerRef = meta.ownerReferences?.find((ref) => ref.controller === true);
  const restartCount = (status?.containerStatuses ?? []).reduce(
    (sum, container) => sum + (container.restartCount ?? 0),
    0,
  );
  const nodeName = pod.spec.nodeName;
  return {
    namespace: meta.namespace === undefined || meta.namespace === '' ? 'default' : meta.namespace,
    name: meta.name ?? '',
    labels: meta.labels ?? {},
    annotations: meta.annotations ?? {},
    phase: status?.phase ?? 'Pending',
    ready,
    restartCount,
    deleting: meta.deletionTimestamp !== undefined && meta.deletionTimestamp !== '',
    ...(readySince === undefined ? {} : { readySince }),
    ...(created === undefined ? {} : { creationTimestamp: created }),
    ...(nodeName === undefined || nodeName === '' ? {} : { nodeName }),
    ...(controllerRef === undefined
      ? {}
      : {
          ownerReference: {
            kind: controllerRef.kind,
            name: controllerRef.name,
            uid: controllerRef.uid,
            controller: true,
          },
        }),
  };
}

/** RFC 3339 text to ms since the epoch; undefined when absent or unreadable. */
function timeOf(text: string | undefined): number | undefined {
  if (text === undefined || text === '') return undefined;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : ms;
}
