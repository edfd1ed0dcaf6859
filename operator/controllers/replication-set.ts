/**
 * Every RC of the desired state in one pass. Groups live pods by namespace once (so a pass is
 * not RCs × all pods), and settles orphans two RCs both match: as in Kubernetes, where the
 * first controller to adopt a pod owns it, the RC earlier in the list adopts it and later
 * ones see it as another controller's pod.
 */
import { DEFAULT_NAMESPACE } from '../manifests/defaults.js';
import type {
  ReplicationController,
  ReplicationControllerStatus,
} from '../model/generated/types.js';
import type { LivePod } from './live-pod.js';
import type { RandomSource } from './pod-names.js';
import {
  type RcDecision,
  type RcStatus,
  type ReconcileOptions,
  reconcileReplicationController,
} from './replication.js';

export interface NamedRcDecision {
  readonly namespace: string;
  readonly name: string;
  readonly decision: RcDecision;
}

export function reconcileReplicationControllers(
  controllers: readonly ReplicationController[],
  pods: readonly LivePod[],
  now: number,
  random: RandomSource,
  options: ReconcileOptions = {},
): NamedRcDecision[] {
  const byNamespace = new Map<string, LivePod[]>();
  for (const pod of pods) {
    const list = byNamespace.get(pod.namespace);
    if (list === undefined) byNamespace.set(pod.namespace, [pod]);
    else list.push(pod);
  }
  const decisions: NamedRcDecision[] = [];
  for (const rc of controllers) {
    const namespace =
      rc.metadata.namespace === undefined || rc.metadata.namespace === ''
        ? DEFAULT_NAMESPACE
        : rc.metadata.namespace;
    const name = rc.metadata.name ?? '';
    const inNamespace = byNamespace.get(namespace) ?? [];
    const decision = reconcileReplicationController(rc, inNamespace, now, random, options);
    decisions.push({ namespace, name, decision });
    if (decision.adopts.length === 0 && decision.creates.length === 0) continue;
    // Later RCs see this pass's adoptions as owned, and its new names as taken.
    const adopted = new Set(decision.adopts.map((ref) => ref.name));
    const owner = { kind: 'ReplicationController', name, controller: true } as const;
    const next = inNamespace.map((pod) =>
      adopted.has(pod.name) ? { ...pod, ownerReference: owner } : pod,
    );
    for (const { pod } of decision.creates) {
      next.push({
        namespace,
        name: pod.metadata.name ?? '',
        labels: pod.metadata.labels ?? {},
        annotations: pod.metadata.annotations ?? {},
        phase: 'Pending',
        ready: false,
        ownerReference: owner,
      });
    }
    byNamespace.set(namespace, next);
  }
  return decisions;
}

/** The v1 status object of an RC from a decision's counts (what `-o yaml` shows). */
export function toReplicationControllerStatus(status: RcStatus): ReplicationControllerStatus {
  return {
    replicas: status.replicas,
    readyReplicas: status.readyReplicas,
    availableReplicas: status.availableReplicas,
    // berth counts only pods with every selector label, so all are fully labeled.
    fullyLabeledReplicas: status.replicas,
    ...(status.observedGeneration === undefined
      ? {}
      : { observedGeneration: status.observedGeneration }),
  };
}
