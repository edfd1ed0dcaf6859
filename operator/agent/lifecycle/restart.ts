import { LABELS, type ObservedContainer } from '../runtime.js';
import { type BackoffState, scheduleRestart } from './backoff.js';

export type RestartPolicy = 'Always' | 'OnFailure' | 'Never';

/** Whether a container that exited with `exitCode` runs again under `policy`. */
export function shouldRestart(policy: RestartPolicy, exitCode: number | undefined): boolean {
  switch (policy) {
    case 'Always':
      return true;
    case 'OnFailure':
      // An exit code the engine never reported counts as a failure: the container did not complete.
      return exitCode !== 0;
    case 'Never':
      return false;
    default: {
      const unknown: never = policy;
      throw new Error(`unknown restart policy ${String(unknown)}`);
    }
  }
}

/** What one container of a pod needs next, from the pod's spec and what the engine shows. */
export type ContainerAction =
  /** Running with the wanted spec: nothing to do. */
  | { readonly kind: 'keep' }
  /** No container yet: create and start one. */
  | { readonly kind: 'create'; readonly restartCount: number }
  /** The spec changed: stop and remove the current one, then create the new one. */
  | { readonly kind: 'replace'; readonly restartCount: number }
  /** Exited and the policy says run again, and the backoff allows it now. */
  | { readonly kind: 'restart'; readonly restartCount: number }
  /** Exited, will restart at `restartAtMs` (CrashLoopBackOff when that is in the future). */
  | { readonly kind: 'backoff'; readonly restartAtMs: number }
  /** Exited for good under the policy. */
  | { readonly kind: 'finished' };

/** Memory of one container's exits, kept by the agent between syncs (not durable). */
export interface ExitMemory {
  readonly backoff: BackoffState;
  /** Engine id of the exited container the schedule below is for. */
  readonly exitedId: string | undefined;
  readonly restartAtMs: number | undefined;
}

export const NO_EXITS: ExitMemory = {
  backoff: { restartsSinceReset: 0 },
  exitedId: undefined,
  restartAtMs: undefined,
};

export interface ContainerDecisionInput {
  readonly policy: RestartPolicy;
  readonly desiredHash: string;
  /** The engine's current container for this name (newest), if any. */
  readonly current: ObservedContainer | undefined;
  /** True when this container ran before under the agent (so "missing" means it was removed after finishing). */
  readonly finishedBefore: boolean;
  /** Restart count of the last container the agent saw for this name (0 if none). */
  readonly knownRestartCount?: number;
  readonly memory: ExitMemory;
  readonly nowMs: number;
}

export interface ContainerDecision {
  readonly action: ContainerAction;
  readonly memory: ExitMemory;
}

const EXITED_STATES: ReadonlySet<ObservedContainer['state']> = new Set(['exited', 'dead']);

/** Restart count carried in the container's label (0 when absent or unreadable). */
export function observedRestartCount(container: ObservedContainer | undefined): number {
  const text = container?.labels[LABELS.restartCount];
  const count = text === undefined ? 0 : Number.parseInt(text, 10);
  return Number.isFinite(count) && count >= 0 ? count : 0;
}

/** Milliseconds between the engine's start and finish times, when both are known. */
export function ranForMs(container: ObservedContainer): number | undefined {
  if (container.startedAt === undefined || container.finishedAt === undefined) return undefined;
  const started = Date.parse(container.startedAt);
  const finished = Date.parse(container.finishedAt);
  if (!Number.isFinite(started) || !Number.isFinite(finished) || finished < started) {
    return undefined;
  }
  return finished - started;
}

/**
 * A container that will not run (its start failed: the engine left it `created` with an
 * error, e.g. a host port already taken) counts as exited.
 */
export function hasExited(container: ObservedContainer): boolean {
  if (EXITED_STATES.has(container.state)) return true;
  return container.state === 'created' && container.error !== undefined && container.error !== '';
}

/** The next step for one container. Pure: same input, same answer. */
export function decideContainer(input: ContainerDecisionInput): ContainerDecision {
  const { current, memory } = input;
  if (current === undefined) {
    if (input.finishedBefore && !shouldRestart(input.policy, 0)) {
      return { action: { kind: 'finished' }, memory };
    }
    // Gone after it ran (removed by hand, or with a dead sandbox): it comes back as a restart.
    const restartCount = input.finishedBefore ? (input.knownRestartCount ?? 0) + 1 : 0;
    return { action: { kind: 'create', restartCount }, memory };
  }
  const restartCount = observedRestartCount(current);
  if (current.specHash !== input.desiredHash) {
    return { action: { kind: 'replace', restartCount: restartCount + 1 }, memory: NO_EXITS };
  }
  if (!hasExited(current)) {
    // `created` without an error is a container between create and start: the sync that
    // made it starts it; a later sync starts it again (start is idempotent in effect).
    return { action: { kind: 'keep' }, memory };
  }
  if (!shouldRestart(input.policy, current.exitCode)) {
    return { action: { kind: 'finished' }, memory };
  }
  let next = memory;
  if (memory.exitedId !== current.id || memory.restartAtMs === undefined) {
    const scheduled = scheduleRestart(memory.backoff, ranForMs(current), input.nowMs);
    next = { backoff: scheduled.next, exitedId: current.id, restartAtMs: scheduled.restartAtMs };
  }
  const restartAtMs = next.restartAtMs ?? input.nowMs;
  if (restartAtMs <= input.nowMs) {
    return { action: { kind: 'restart', restartCount: restartCount + 1 }, memory: next };
  }
  return { action: { kind: 'backoff', restartAtMs }, memory: next };
}
