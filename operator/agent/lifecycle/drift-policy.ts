import type { Pod } from '../../model/generated/types.js';

/**
 * What the agent does about drift (a pod's container removed, stopped, renamed or changed by
 * hand), as the operator stamps it on each pod of an app from the app's `selfHeal` setting:
 *
 * - `berth.io/self-heal: "false"`: drift is left as found and reported (`DriftDetected`);
 *   absent (the default), drift is put back at once and reported (`DriftRepaired`).
 * - `berth.io/sync-id`: the app's newest successful sync. Drift left alone is put back once
 *   the pod comes with another sync id, or with self-heal on again.
 *
 * Restarts the pod's own restartPolicy asks for (a process that exited by itself) are not
 * drift: they happen either way.
 */
export const SELF_HEAL_ANNOTATION = 'berth.io/self-heal';
export const SYNC_ID_ANNOTATION = 'berth.io/sync-id';

export interface DriftPolicy {
  /** Put drift back at once. */
  readonly selfHeal: boolean;
  /** The sync whose state the pod is held to; drift held under another one is put back. */
  readonly syncId: string;
}

export function driftPolicyOf(pod: Pod): DriftPolicy {
  const annotations = pod.metadata.annotations;
  return {
    selfHeal: annotations?.[SELF_HEAL_ANNOTATION] !== 'false',
    syncId: annotations?.[SYNC_ID_ANNOTATION] ?? '',
  };
}
