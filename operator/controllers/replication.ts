/**
 * The ReplicationController, as a pure decision: one RC and every live pod of the cluster in,
 * the pods to create, delete, adopt and release out, with the status `berth get rc` shows.
 * Level-triggered: it looks only at the present state, so running it again after a crash, or
 * twice on the same state, asks for the same thing.
 *
 * Kubernetes v1 semantics (pkg/controller/replication, ReplicaSet's controller): every active
 * pod in the RC's namespace matching its selector counts, whoever created it (a matching pod
 * with no controller is adopted; a pod with another controller is left alone; an owned pod
 * that stopped matching is released). Scale-down deletes the least valuable pods first
 * (pod-ranking.ts).
 *
 * Template rollout, what `kubectl rolling-update` did by hand: pods carry the hash of the
 * template they were made from; while some are from an older template, the controller keeps
 * at most replicas + 1 pods, creates one new pod, and deletes one old pod only once every new
 * pod is ready (for minReadySeconds). A new pod not ready within the deadline stalls the
 * rollout: it is reported and no old pod is taken down for it.
 */
import { applyDefaults, DEFAULT_NAMESPACE } from '../manifests/defaults.js';
import type { OwnerReference, Pod, ReplicationController } from '../model/generated/types.js';
import { mapSelectorMatches } from '../model/labels.js';
import { isActivePod, type LivePod } from './live-pod.js';
import { generatePodName, type RandomSource } from './pod-names.js';
import { byDeletionOrder } from './pod-ranking.js';
import { TEMPLATE_HASH_ANNOTATION, templateHash } from './template-hash.js';

/** How long a new pod of a rollout may take to become ready. @default 5 minutes */
export const DEFAULT_ROLLOUT_DEADLINE_MS = 5 * 60 * 1000;
/** Pods created in one pass at most (Kubernetes' burstReplicas). @default 500 */
export const DEFAULT_MAX_BURST = 500;

export interface ReconcileOptions {
  /** @default DEFAULT_ROLLOUT_DEADLINE_MS */
  readonly rolloutDeadlineMs?: number;
  /** @default DEFAULT_MAX_BURST */
  readonly maxBurst?: number;
}

export interface PodRef {
  readonly namespace: string;
  readonly name: string;
}

export interface PodCreation {
  /** The pod to create: template labels, an owner reference to the RC, API defaults applied. */
  readonly pod: Pod;
  readonly reason: string;
}

export interface PodDeletion extends PodRef {
  readonly reason: string;
}

/** Counts for `berth get rc` (DESIRED CURRENT READY) and the RC's status. */
export interface RcStatus {
  /** spec.replicas (DESIRED). */
  readonly desiredReplicas: number;
  /** Active pods counted, before this decision's changes (CURRENT). */
  readonly replicas: number;
  /** Of those, ready ones (READY). */
  readonly readyReplicas: number;
  /** Ready for at least minReadySeconds. */
  readonly availableReplicas: number;
  /** Made from the current template. */
  readonly updatedReplicas: number;
  /** The RC's metadata.generation this status was computed for, when it has one. */
  readonly observedGeneration?: number;
}

export type RolloutState =
  | { readonly state: 'complete' }
  | { readonly state: 'progressing'; readonly updated: number; readonly old: number }
  | {
      readonly state: 'stalled';
      readonly updated: number;
      readonly old: number;
      /** The new pod that did not become ready in time. */
      readonly pod: string;
      /** `rollout stalled: pod web-x2f4k not ready after 5m` */
      readonly message: string;
    };

export interface RcDecision {
  readonly creates: readonly PodCreation[];
  readonly deletes: readonly PodDeletion[];
  /** Matching pods with no controller: set `ownerReference` on them. */
  readonly adopts: readonly PodRef[];
  /** Pods this RC controls that no longer match its selector: remove the owner reference. */
  readonly releases: readonly PodRef[];
  /** The owner reference this RC's pods carry. */
  readonly ownerReference: OwnerReference;
  readonly templateHash: string;
  readonly status: RcStatus;
  readonly rollout: RolloutState;
  /** Things a person should know that are not a rollout stall (e.g. no free pod name). */
  readonly problems: readonly string[];
}

const RC_KIND = 'ReplicationController';

export function reconcileReplicationController(
  rc: ReplicationController,
  pods: readonly LivePod[],
  now: number,
  random: RandomSource,
  options: ReconcileOptions = {},
): RcDecision {
  const namespace = namespaceOf(rc);
  const takenNames = new Set<string>();
  for (const pod of pods) if (pod.namespace === namespace) takenNames.add(pod.name);
  return decideReplicationController(rc, pods, takenNames, now, random, options);
}

/**
 * The decision, for callers that keep their own index (replication-set.ts): `candidates` must
 * hold at least every pod of the namespace that matches the selector or names this RC as its
 * owner; `takenNames` every pod name in use in the namespace. Generated names are added to
 * `takenNames`, so one set serves every RC of a pass.
 */
export function decideReplicationController(
  rc: ReplicationController,
  candidates: readonly LivePod[],
  takenNames: Set<string>,
  now: number,
  random: RandomSource,
  options: ReconcileOptions = {},
): RcDecision {
  const deadlineMs = options.rolloutDeadlineMs ?? DEFAULT_ROLLOUT_DEADLINE_MS;
  const maxBurst = options.maxBurst ?? DEFAULT_MAX_BURST;
  const rcName = rc.metadata.name ?? '';
  const namespace = namespaceOf(rc);
  const selector = rc.spec.selector ?? rc.spec.template.metadata?.labels ?? {};
  const desired = Math.max(0, rc.spec.replicas ?? 1);
  const minReadyMs = Math.max(0, rc.spec.minReadySeconds ?? 0) * 1000;
  const hash = templateHash(rc.spec.template);
  const ownerReference: OwnerReference = {
    apiVersion: 'v1',
    kind: RC_KIND,
    name: rcName,
    uid: rc.metadata.uid ?? '',
    controller: true,
    blockOwnerDeletion: true,
  };

  const adopts: PodRef[] = [];
  const releases: PodRef[] = [];
  const counted: LivePod[] = [];
  // An empty selector would match every pod of the namespace; validation refuses it, and
  // here it matches nothing rather than adopting everything.
  const selectorUsable = Object.keys(selector).length > 0;
  for (const pod of candidates) {
    if (pod.namespace !== namespace) continue;
    const owner = ownership(pod, rc);
    if (owner === 'other') continue;
    const matches = selectorUsable && mapSelectorMatches(selector, pod.labels);
    if (!matches) {
      if (owner === 'this') releases.push({ namespace, name: pod.name });
      continue;
    }
    if (owner === 'none' && pod.deleting !== true) adopts.push({ namespace, name: pod.name });
    if (isActivePod(pod)) counted.push(pod);
  }

  const isUpdated = (pod: LivePod): boolean => {
    // A pod without the annotation was not made by berth from a template: it is adopted as
    // it is, as Kubernetes' RC adopts, and not rolled.
    const podHash = pod.annotations?.[TEMPLATE_HASH_ANNOTATION];
    return podHash === undefined || podHash === hash;
  };
  const isAvailable = (pod: LivePod): boolean =>
    pod.ready &&
    (minReadyMs === 0 || (pod.readySince !== undefined && pod.readySince + minReadyMs <= now));
  const updated = counted.filter(isUpdated);
  const old = counted.filter((pod) => !isUpdated(pod));
  const total = counted.length;

  let createCount = 0;
  const deletes: PodDeletion[] = [];
  const deleteFirst = (candidates: readonly LivePod[], count: number, reason: string): void => {
    for (const pod of byDeletionOrder(candidates).slice(0, Math.max(0, count))) {
      deletes.push({ namespace, name: pod.name, reason });
    }
  };
  let createReason = `scale up: ${total} of ${desired} replicas`;
  let rollout: RolloutState = { state: 'complete' };

  if (desired === 0) {
    // Scaled to zero: nothing to roll, every pod goes.
    if (total > 0) deleteFirst(counted, total, `scale down: ${total} pods for 0 replicas`);
  } else if (old.length === 0) {
    if (total < desired) createCount = desired - total;
    else if (total > desired) {
      deleteFirst(counted, total - desired, `scale down: ${total} pods for ${desired} replicas`);
    }
  } else {
    const waitingFor = updated.filter((pod) => !isAvailable(pod));
    rollout = { state: 'progressing', updated: updated.length, old: old.length };
    // Only a pod still not ready stalls; one ready but inside minReadySeconds is on its way.
    const stalledPod = byCreation(waitingFor).find(
      (pod) =>
        !pod.ready &&
        pod.creationTimestamp !== undefined &&
        now - pod.creationTimestamp >= deadlineMs,
    );
    if (stalledPod !== undefined) {
      rollout = {
        state: 'stalled',
        updated: updated.length,
        old: old.length,
        pod: stalledPod.name,
        message: `rollout stalled: pod ${stalledPod.name} not ready after ${formatDuration(deadlineMs)}`,
      };
    }
    if (total < desired) {
      // Missing pods are made from the new template at once: nothing running is replaced.
      createCount = desired - total;
      createReason = `scale up: ${total} of ${desired} replicas (new template)`;
    } else if (waitingFor.length === 0) {
      if (total > desired) {
        // Every new pod is ready: old ones make room, least valuable first.
        const excess = total - desired;
        const reason = 'rollout: replaced by a ready pod of the new template';
        deleteFirst(old, Math.min(excess, old.length), reason);
        deleteFirst(
          updated,
          excess - old.length,
          `scale down: ${total} pods for ${desired} replicas`,
        );
      } else {
        createCount = 1;
        createReason = `rollout: new template (${updated.length} of ${desired} updated)`;
      }
    } else if (total > desired + 1) {
      // Scaled down during a rollout: back to replicas + 1, least valuable of all first.
      deleteFirst(
        counted,
        total - desired - 1,
        `scale down: ${total} pods for ${desired} replicas`,
      );
    }
  }

  const problems: string[] = [];
  const creates: PodCreation[] = [];
  for (let i = 0; i < Math.min(createCount, maxBurst); i += 1) {
    const name = generatePodName(rcName, random, takenNames);
    if (name === undefined) {
      problems.push(`no free pod name for replicationcontroller/${rcName} after 100 tries`);
      break;
    }
    takenNames.add(name);
    creates.push({ pod: podFromTemplate(rc, name, hash, ownerReference), reason: createReason });
  }

  const status: RcStatus = {
    desiredReplicas: desired,
    replicas: total,
    readyReplicas: counted.filter((pod) => pod.ready).length,
    availableReplicas: counted.filter(isAvailable).length,
    updatedReplicas: updated.length,
    ...(rc.metadata.generation === undefined ? {} : { observedGeneration: rc.metadata.generation }),
  };
  return {
    creates,
    deletes,
    adopts,
    releases,
    ownerReference,
    templateHash: hash,
    status,
    rollout,
    problems,
  };
}

function namespaceOf(rc: ReplicationController): string {
  const namespace = rc.metadata.namespace;
  return namespace === undefined || namespace === '' ? DEFAULT_NAMESPACE : namespace;
}

/** Whose pod this is: this RC's, another controller's, or nobody's (an orphan to adopt). */
function ownership(pod: LivePod, rc: ReplicationController): 'this' | 'other' | 'none' {
  const owner = pod.ownerReference;
  if (owner === undefined || owner.controller === false) return 'none';
  if (owner.kind !== RC_KIND || owner.name !== rc.metadata.name) return 'other';
  // Same name but another uid: a deleted RC's pod, not ours (when both sides know uids).
  const uid = rc.metadata.uid;
  if (uid !== undefined && uid !== '' && owner.uid !== undefined && owner.uid !== '') {
    return owner.uid === uid ? 'this' : 'other';
  }
  return 'this';
}

function byCreation(pods: readonly LivePod[]): LivePod[] {
  return [...pods].sort(
    (a, b) =>
      (a.creationTimestamp ?? Number.POSITIVE_INFINITY) -
        (b.creationTimestamp ?? Number.POSITIVE_INFINITY) || (a.name < b.name ? -1 : 1),
  );
}

/** A new pod of the RC, as the API server would store it (defaults applied). */
export function podFromTemplate(
  rc: ReplicationController,
  name: string,
  hash: string,
  ownerReference: OwnerReference,
): Pod {
  const template = rc.spec.template;
  // Not cloned here: applyDefaults returns a deep copy, so the pod shares nothing with the RC.
  const pod: Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: namespaceOf(rc),
      labels: { ...(template.metadata?.labels ?? {}) },
      annotations: { ...(template.metadata?.annotations ?? {}), [TEMPLATE_HASH_ANNOTATION]: hash },
      ownerReferences: [{ ...ownerReference }],
    },
    spec: template.spec,
  };
  // applyDefaults works on loaded objects; a made-up origin is enough, it is dropped again.
  const origin = { file: '', line: 0, column: 0 };
  const defaulted = applyDefaults({ kind: 'Pod', object: pod, origin, locate: () => origin });
  return defaulted.kind === 'Pod' ? defaulted.object : structuredClone(pod);
}

/** Go's time.Duration style, as kubectl prints it: `5m`, `1m30s`, `45s`, `1h`. */
export function formatDuration(ms: number): string {
  const totalSeconds = Math.round(ms / 1000);
  const hours = Math.floor(totalSeconds / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  const seconds = totalSeconds % 60;
  let text = '';
  if (hours > 0) text += `${hours}h`;
  if (minutes > 0) text += `${minutes}m`;
  if (seconds > 0 || text === '') text += `${seconds}s`;
  return text;
}
