/**
 * Controllers: pure decisions over desired and live state (no I/O, `now` passed in).
 * - desiredFromManifests: loaded objects split into bare pods, RCs and services.
 * - reconcileReplicationController: one RC against live pods → pods to create, delete,
 *   adopt and release, its status, and the state of a template rollout.
 * - reconcileReplicationControllers: every RC in one pass (an orphan two RCs match goes to
 *   the first); toReplicationControllerStatus for the v1 status object.
 * - livePodFrom: a pod object and its agent's status report → the LivePod snapshot.
 * - compareDeletionOrder / byDeletionOrder: Kubernetes' ActivePods order (least valuable first).
 * - templateHash, generatePodName: what the RC stamps on and names its pods with.
 */
export { type DesiredState, desiredFromManifests } from './desired.js';
export { isActivePod, type LiveOwnerReference, type LivePod, livePodFrom } from './live-pod.js';
export {
  generatePodName,
  NAME_SUFFIX_ALPHABET,
  NAME_SUFFIX_LENGTH,
  type RandomSource,
  randomSuffix,
} from './pod-names.js';
export { byDeletionOrder, compareDeletionOrder } from './pod-ranking.js';
export {
  DEFAULT_MAX_BURST,
  DEFAULT_ROLLOUT_DEADLINE_MS,
  formatDuration,
  type PodCreation,
  type PodDeletion,
  type PodRef,
  podFromTemplate,
  type RcDecision,
  type RcStatus,
  type ReconcileOptions,
  type RolloutState,
  reconcileReplicationController,
} from './replication.js';
export {
  type NamedRcDecision,
  reconcileReplicationControllers,
  toReplicationControllerStatus,
} from './replication-set.js';
export { canonicalJson, TEMPLATE_HASH_ANNOTATION, templateHash } from './template-hash.js';
