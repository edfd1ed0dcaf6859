/**
 * What `berth status` shows per app, and the pure rules that turn the operator's readout into
 * an app's health: its pods all ready is Healthy, some still starting is Progressing, a commit
 * that does not validate or pods that fail is Degraded, a tracked branch that is gone or
 * nothing applied yet is Missing.
 */
import type { ContainerStatusReport, PodStatusReport } from '../agent/lifecycle/status-types.js';
import type { Pod } from '../model/generated/types.js';

export type SyncState = 'Synced' | 'OutOfSync' | 'Syncing' | 'Failed';
export type HealthState = 'Healthy' | 'Progressing' | 'Degraded' | 'Missing';

export interface AppliedCommit {
  readonly commit: string;
  /** The commit's subject line ('' when it could not be read). */
  readonly message: string;
  /** ISO time the sync that applied it finished. */
  readonly at: string;
}

export interface AppStatus {
  readonly name: string;
  /** Where it is read from: a path, an https URL, or `berth://<app>` for pushed apps. */
  readonly source: string;
  /** The tracked ref; absent: the repository's HEAD. */
  readonly ref?: string;
  /** The manifest folder inside the repository. */
  readonly path?: string;
  /** The commit run instead of the ref's (`berth app pin`). */
  readonly pinned?: string;
  readonly lastApplied?: AppliedCommit;
  readonly sync: SyncState;
  readonly health: HealthState;
  /** One line saying why sync and health are what they are. */
  readonly reason: string;
  /** Validation problems (`file:line:col: ...`) or the error of the last run. */
  readonly problems: readonly string[];
}

/** What health needs of one pod of the app. */
export interface PodHealthInput {
  /** `namespace/name`. */
  readonly key: string;
  /** Absent until an agent reported the pod. */
  readonly status?: Pick<PodStatusReport, 'phase' | 'conditions' | 'reason' | 'containerStatuses'>;
  /** The pod's restartPolicy (Never/OnFailure pods may finish). */
  readonly restartPolicy?: string;
}

/** Container waiting reasons that mean the pod will not come up by itself soon. */
const FAILING_REASONS = new Set([
  'CrashLoopBackOff',
  'ErrImagePull',
  'ImagePullBackOff',
  'ErrImageNeverPull',
  'InvalidImageName',
  'CreateContainerError',
  'CreateContainerConfigError',
  'RunContainerError',
]);

/**
 * The pods that belong to an app: its bare pods (in its inventory) and the pods made for its
 * ReplicationControllers (their controller reference names one in the inventory).
 */
/** A pod berth made for the app: one of its bare pods, or a pod of one of its controllers. */
export function isPodOfApp(inventoryKeys: ReadonlySet<string>, pod: Pod): boolean {
  const namespace = pod.metadata?.namespace || 'default';
  const name = pod.metadata?.name ?? '';
  const owner = pod.metadata?.ownerReferences?.find((ref) => ref.controller === true);
  return (
    inventoryKeys.has(`Pod/${namespace}/${name}`) ||
    (owner !== undefined && inventoryKeys.has(`${owner.kind}/${namespace}/${owner.name}`))
  );
}

export function podsOfApp(
  inventoryKeys: ReadonlySet<string>,
  assignments: readonly { readonly podKey: string; readonly pod: unknown }[],
): PodHealthInput[] {
  const pods: PodHealthInput[] = [];
  for (const assignment of assignments) {
    const pod = assignment.pod as Pod | undefined;
    if (pod === undefined || pod === null || typeof pod !== 'object') continue;
    if (!isPodOfApp(inventoryKeys, pod)) continue;
    const status = (pod as { status?: PodStatusReport }).status;
    const restartPolicy = pod.spec?.restartPolicy;
    pods.push({
      key: assignment.podKey,
      ...(status === undefined ? {} : { status }),
      ...(restartPolicy === undefined ? {} : { restartPolicy }),
    });
  }
  return pods.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** Why one pod is failing, or undefined when it is not. */
function podFailure(pod: PodHealthInput): string | undefined {
  const status = pod.status;
  if (status === undefined) return undefined;
  if (status.phase === 'Failed') {
    return `pod ${pod.key} failed${status.reason === undefined ? '' : ` (${status.reason})`}`;
  }
  if (status.reason !== undefined && status.phase === 'Pending' && status.reason !== 'Scheduled') {
    // A pod-level reason while pending (e.g. FailedCreatePodSandBox) is the pod not coming up.
    if (/^Failed|Error/.test(status.reason)) return `pod ${pod.key}: ${status.reason}`;
  }
  for (const container of status.containerStatuses ?? []) {
    // Read from stored JSON: an agent of another version may leave parts out.
    const state = container.state as ContainerStatusReport['state'] | undefined;
    const waiting = state?.waiting?.reason;
    if (waiting !== undefined && FAILING_REASONS.has(waiting)) {
      return `pod ${pod.key} container ${container.name}: ${waiting}`;
    }
  }
  return undefined;
}

function podReady(pod: PodHealthInput): boolean {
  const status = pod.status;
  if (status === undefined) return false;
  if (status.phase === 'Succeeded') return pod.restartPolicy !== 'Always';
  return (status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

/** Health from the app's pods: failed ones Degraded, some not ready Progressing, else Healthy. */
export function podsHealth(pods: readonly PodHealthInput[]): {
  health: HealthState;
  reason: string;
} {
  const failures = pods.map(podFailure).filter((f): f is string => f !== undefined);
  if (failures.length > 0) {
    const more = failures.length > 1 ? ` (and ${failures.length - 1} more)` : '';
    return { health: 'Degraded', reason: `${failures[0]}${more}` };
  }
  const notReady = pods.filter((pod) => !podReady(pod));
  if (notReady.length > 0) {
    const ready = pods.length - notReady.length;
    return {
      health: 'Progressing',
      reason: `${ready} of ${pods.length} pods ready; waiting for ${notReady[0]!.key}`,
    };
  }
  if (pods.length === 0) return { health: 'Healthy', reason: 'no pods' };
  const word = pods.length === 1 ? 'pod' : 'pods';
  return { health: 'Healthy', reason: `${pods.length} ${word} ready` };
}

/** What the app's worker knows, for `appHealth`. */
export interface HealthInput {
  /** Set when the tracked ref no longer resolves, e.g. `branch main no longer exists`. */
  readonly refGone?: string;
  /** Problems of the newest commit, which was not applied. */
  readonly invalid?: { readonly commit: string; readonly problems: readonly string[] };
  readonly lastApplied?: AppliedCommit;
  readonly pods: readonly PodHealthInput[];
}

/**
 * An app's health: a gone ref or nothing applied is Missing; an invalid commit is Degraded
 * (the last good one keeps running); else what its pods say.
 */
export function appHealth(input: HealthInput): { health: HealthState; reason: string } {
  if (input.refGone !== undefined) {
    const keeps =
      input.lastApplied === undefined
        ? 'nothing was applied'
        : `keeping ${shortSha(input.lastApplied.commit)}`;
    return { health: 'Missing', reason: `${input.refGone}; ${keeps}` };
  }
  if (input.invalid !== undefined) {
    const count = input.invalid.problems.length;
    const word = count === 1 ? 'problem' : 'problems';
    const keeps =
      input.lastApplied === undefined
        ? 'nothing applied'
        : `still running ${shortSha(input.lastApplied.commit)}`;
    return {
      health: 'Degraded',
      reason: `commit ${shortSha(input.invalid.commit)} does not validate (${count} ${word}); ${keeps}`,
    };
  }
  if (input.lastApplied === undefined) return { health: 'Missing', reason: 'nothing applied yet' };
  return podsHealth(input.pods);
}

export function shortSha(commit: string): string {
  return commit.slice(0, 7);
}
