/**
 * Which pod to delete first when there are too many: Kubernetes' ActivePods ordering
 * (pkg/controller/controller_utils.go), least valuable first:
 * 1. unscheduled before scheduled;
 * 2. Pending before Unknown before Running;
 * 3. not ready before ready;
 * 4. ready for less time before ready for longer;
 * 5. more restarts before fewer;
 * 6. newer before older (no creation time counts as newest).
 * Ties are broken by name so the order is total and the decision reproducible.
 */
import type { PodPhase } from '../agent/lifecycle/status-types.js';
import type { LivePod } from './live-pod.js';

const PHASE_RANK: Record<PodPhase, number> = {
  Pending: 0,
  Unknown: 1,
  Running: 2,
  // Finished pods are never active; ranked first should they be passed in.
  Succeeded: -1,
  Failed: -1,
};

/** Negative when `a` is less valuable than `b` (deleted before it). */
export function compareDeletionOrder(a: LivePod, b: LivePod): number {
  const aScheduled = a.nodeName !== undefined && a.nodeName !== '';
  const bScheduled = b.nodeName !== undefined && b.nodeName !== '';
  if (aScheduled !== bScheduled) return aScheduled ? 1 : -1;
  const phase = PHASE_RANK[a.phase] - PHASE_RANK[b.phase];
  if (phase !== 0) return phase;
  if (a.ready !== b.ready) return a.ready ? 1 : -1;
  if (a.ready && b.ready) {
    // A later readySince means ready for less time: less valuable. Unknown counts as latest.
    const aSince = a.readySince ?? Number.POSITIVE_INFINITY;
    const bSince = b.readySince ?? Number.POSITIVE_INFINITY;
    if (aSince !== bSince) return aSince > bSince ? -1 : 1;
  }
  const restarts = (b.restartCount ?? 0) - (a.restartCount ?? 0);
  if (restarts !== 0) return restarts;
  const aCreated = a.creationTimestamp ?? Number.POSITIVE_INFINITY;
  const bCreated = b.creationTimestamp ?? Number.POSITIVE_INFINITY;
  if (aCreated !== bCreated) return aCreated > bCreated ? -1 : 1;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** A sorted copy, least valuable first. */
export function byDeletionOrder(pods: readonly LivePod[]): LivePod[] {
  return [...pods].sort(compareDeletionOrder);
}
