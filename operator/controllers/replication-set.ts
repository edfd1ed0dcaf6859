/**
 * Every RC of the desired state in one pass. Indexes live pods once by namespace, label and
 * owner, so each RC looks only at the pods it could count (a pass is not RCs × all pods), and
 * settles orphans two RCs both match: as in Kubernetes, where the
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
  decideReplicationController,
  type RcDecision,
  type RcStatus,
  type ReconcileOptions,
} from './replication.js';

export interface NamedRcDecision {
  readonly namespace: string;
  readonly name: string;
  readonly decision: RcDecision;
}

/** One namespace's pods, indexed so an RC looks only at pods it could count or own. */
interface NamespaceIndex {
  readonly names: Set<string>;
  /** `key=value` of each label → pods carrying it. */
  readonly byLabel: Map<string, LivePod[]>;
  /** Controller owner's name → pods naming it (any kind; the decision checks the kind). */
  readonly byOwner: Map<string, LivePod[]>;
  /** Pods adopted earlier in this pass, by name → the adopting RC's name. */
  readonly claimed: Map<string, string>;
}

function push<K>(map: Map<K, LivePod[]>, key: K, pod: LivePod): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [pod]);
  else list.push(pod);
}

function addToIndex(index: NamespaceIndex, pod: LivePod): void {
  index.names.add(pod.name);
  for (const [key, value] of Object.entries(pod.labels))
    push(index.byLabel, `${key}=${value}`, pod);
  if (pod.ownerReference !== undefined) push(index.byOwner, pod.ownerReference.name, pod);
}

function buildIndex(pods: readonly LivePod[]): Map<string, NamespaceIndex> {
  const indexes = new Map<string, NamespaceIndex>();
  for (const pod of pods) {
    let index = indexes.get(pod.namespace);
    if (index === undefined) {
      index = { names: new Set(), byLabel: new Map(), byOwner: new Map(), claimed: new Map() };
      indexes.set(pod.namespace, index);
    }
    addToIndex(index, pod);
  }
  return indexes;
}

/** Pods matching the selector's rarest label, plus pods naming the RC as owner. */
function candidatesFor(index: NamespaceIndex, rc: ReplicationController, name: string): LivePod[] {
  const selector = rc.spec.selector ?? rc.spec.template.metadata?.labels ?? {};
  let matching: readonly LivePod[] = [];
  let first = true;
  for (const [key, value] of Object.entries(selector)) {
    const list = index.byLabel.get(`${key}=${value}`) ?? [];
    if (first || list.length < matching.length) matching = list;
    first = false;
  }
  const seen = new Set<string>();
  const candidates: LivePod[] = [];
  for (const pod of [...matching, ...(index.byOwner.get(name) ?? [])]) {
    if (seen.has(pod.name)) continue;
    seen.add(pod.name);
    const claimedBy = index.claimed.get(pod.name);
    candidates.push(
      claimedBy === undefined
        ? pod
        : { ...pod, ownerReference: { kind: RC_KIND, name: claimedBy, controller: true } },
    );
  }
  return candidates;
}

const RC_KIND = 'ReplicationController';

export function reconcileReplicationControllers(
  controllers: readonly ReplicationController[],
  pods: readonly LivePod[],
  now: number,
  random: RandomSource,
  options: ReconcileOptions = {},
): NamedRcDecision[] {
  const indexes = buildIndex(pods);
  const decisions: NamedRcDecision[] = [];
  for (const rc of controllers) {
    const namespace =
      rc.metadata.namespace === undefined || rc.metadata.namespace === ''
        ? DEFAULT_NAMESPACE
        : rc.metadata.namespace;
    const name = rc.metadata.name ?? '';
    let index = indexes.get(namespace);
    if (index === undefined) {
      index = { names: new Set(), byLabel: new Map(), byOwner: new Map(), claimed: new Map() };
      indexes.set(namespace, index);
    }
    const candidates = candidatesFor(index, rc, name);
    const decision = decideReplicationController(rc, candidates, index.names, now, random, options);
    decisions.push({ namespace, name, decision });
    // Later RCs see this pass's adoptions and new pods as this RC's.
    for (const ref of decision.adopts) index.claimed.set(ref.name, name);
    for (const { pod } of decision.creates) {
      addToIndex(index, {
        namespace,
        name: pod.metadata.name ?? '',
        labels: pod.metadata.labels ?? {},
        annotations: pod.metadata.annotations ?? {},
        phase: 'Pending',
        ready: false,
        ownerReference: { kind: RC_KIND, name, controller: true },
      });
    }
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
