import type { ObservedContainer } from '../runtime.js';
import { hasExited, type RestartPolicy } from './restart.js';
import type {
  ContainerState,
  ContainerStateTerminated,
  ContainerStateWaiting,
  ContainerStatusReport,
  PodCondition,
  PodPhase,
  PodStatusReport,
} from './status-types.js';

/** Everything the agent knows about one container of a pod, at one moment. */
export interface ContainerView {
  readonly name: string;
  readonly image: string;
  /** The engine's current container for this name, if any. */
  readonly current: ObservedContainer | undefined;
  /** A reason the agent holds the container back (image pull, backoff, create error). */
  readonly waiting: ContainerStateWaiting | undefined;
  /** From probes: running and (no readiness probe, or the probe passes). */
  readonly ready: boolean;
  /** From the startup probe: false until it passes. @default true */
  readonly started?: boolean;
  readonly restartCount: number;
  /** How the previous container of this name ended, if the agent saw it. */
  readonly lastTerminated: ContainerStateTerminated | undefined;
}

export interface PodStatusInput {
  readonly restartPolicy: RestartPolicy;
  readonly containers: readonly ContainerView[];
  /** The pod's init containers, in order (none: no initContainerStatuses). */
  readonly initContainers?: readonly ContainerView[];
  /** Every init container completed. @default true */
  readonly initialized?: boolean;
  readonly podIP: string | undefined;
  readonly hostIP: string | undefined;
  readonly startTime: string | undefined;
  /** Pod-level trouble, e.g. FailedCreatePodSandBox or a volume that cannot be prepared. */
  readonly reason?: string;
  readonly message?: string;
}

/** The terminated state an exited engine container stands for. */
export function terminatedState(container: ObservedContainer): ContainerStateTerminated {
  const cannotRun =
    container.state === 'created' && container.error !== undefined && container.error !== '';
  const exitCode = container.exitCode ?? (cannotRun ? 128 : 0);
  let reason = exitCode === 0 ? 'Completed' : 'Error';
  if (container.oomKilled) reason = 'OOMKilled';
  if (cannotRun) reason = 'ContainerCannotRun';
  return {
    exitCode,
    reason,
    ...(container.error !== undefined && container.error !== ''
      ? { message: container.error }
      : {}),
    ...(container.startedAt !== undefined ? { startedAt: container.startedAt } : {}),
    ...(container.finishedAt !== undefined ? { finishedAt: container.finishedAt } : {}),
    containerID: `docker://${container.id}`,
  };
}

export function containerState(view: ContainerView): ContainerState {
  if (view.waiting !== undefined) return { waiting: view.waiting };
  const current = view.current;
  if (current === undefined) return { waiting: { reason: 'ContainerCreating' } };
  if (hasExited(current)) return { terminated: terminatedState(current) };
  if (current.state === 'created') return { waiting: { reason: 'ContainerCreating' } };
  // paused and restarting still count as running, as the kubelet reports them.
  return { running: { startedAt: current.startedAt ?? new Date(0).toISOString() } };
}

export function containerStatus(view: ContainerView): ContainerStatusReport {
  const state = containerState(view);
  return {
    name: view.name,
    state,
    lastState: view.lastTerminated === undefined ? {} : { terminated: view.lastTerminated },
    ready: state.running !== undefined && view.ready,
    restartCount: view.restartCount,
    image: view.image,
    ...(view.current !== undefined ? { containerID: `docker://${view.current.id}` } : {}),
    started: state.running !== undefined && (view.started ?? true),
  };
}

/** Kubernetes' phase rules (the kubelet's getPhase) over the containers' states. */
export function podPhase(
  policy: RestartPolicy,
  statuses: readonly ContainerStatusReport[],
): PodPhase {
  let waiting = 0;
  let running = 0;
  let stopped = 0;
  let succeeded = 0;
  for (const status of statuses) {
    if (status.state.running !== undefined) running++;
    else if (status.state.terminated !== undefined) {
      stopped++;
      if (status.state.terminated.exitCode === 0) succeeded++;
    } else if (status.lastState.terminated !== undefined) {
      // Waiting to run again (e.g. CrashLoopBackOff): it has run, so it counts as stopped.
      stopped++;
    } else waiting++;
  }
  if (statuses.length === 0 || waiting > 0) return 'Pending';
  if (running > 0) return 'Running';
  if (policy === 'Always') return 'Running';
  if (stopped === succeeded) return 'Succeeded';
  if (policy === 'Never') return 'Failed';
  return 'Running';
}

function condition(
  type: PodCondition['type'],
  ok: boolean,
  reason?: string,
  message?: string,
): PodCondition {
  return {
    type,
    status: ok ? 'True' : 'False',
    ...(reason !== undefined ? { reason } : {}),
    ...(message !== undefined ? { message } : {}),
  };
}

/**
 * The phase while init containers run: Failed once one failed for good (restartPolicy
 * Never), Pending otherwise (a failed one is retried).
 */
export function initializingPhase(
  policy: RestartPolicy,
  initStatuses: readonly ContainerStatusReport[],
): PodPhase {
  const failed = initStatuses.some(
    (status) => status.state.terminated !== undefined && status.state.terminated.exitCode !== 0,
  );
  return failed && policy === 'Never' ? 'Failed' : 'Pending';
}

export function computePodStatus(input: PodStatusInput): PodStatusReport {
  const initialized = input.initialized ?? true;
  const initContainerStatuses = (input.initContainers ?? []).map((view) => containerStatus(view));
  const containerStatuses = input.containers.map((view) =>
    // App containers wait for the init containers, as Kubernetes reports it.
    !initialized && view.current === undefined && view.waiting === undefined
      ? containerStatus({ ...view, waiting: { reason: 'PodInitializing' } })
      : containerStatus(view),
  );
  const phase = initialized
    ? podPhase(input.restartPolicy, containerStatuses)
    : initializingPhase(input.restartPolicy, initContainerStatuses);
  const incomplete = initContainerStatuses
    .filter((status) => status.state.terminated?.exitCode !== 0)
    .map((status) => status.name);
  const notReady = containerStatuses.filter((status) => !status.ready).map((s) => s.name);
  const containersReady = notReady.length === 0;
  const finished = phase === 'Succeeded' || phase === 'Failed';
  let readyReason: string | undefined;
  let readyMessage: string | undefined;
  if (finished) readyReason = 'PodCompleted';
  else if (!containersReady) {
    readyReason = 'ContainersNotReady';
    readyMessage = `containers with unready status: [${notReady.join(' ')}]`;
  }
  const ready = containersReady && phase === 'Running';
  return {
    phase,
    conditions: [
      condition('PodScheduled', true),
      initialized
        ? condition('Initialized', true)
        : condition(
            'Initialized',
            false,
            'ContainersNotInitialized',
            `containers with incomplete status: [${incomplete.join(' ')}]`,
          ),
      condition(
        'ContainersReady',
        containersReady && !finished,
        readyReason,
        finished ? undefined : readyMessage,
      ),
      condition('Ready', ready, ready ? undefined : readyReason, ready ? undefined : readyMessage),
    ],
    ...(input.reason !== undefined ? { reason: input.reason } : {}),
    ...(input.message !== undefined ? { message: input.message } : {}),
    ...(input.hostIP !== undefined ? { hostIP: input.hostIP } : {}),
    ...(input.podIP !== undefined ? { podIP: input.podIP } : {}),
    ...(input.startTime !== undefined ? { startTime: input.startTime } : {}),
    containerStatuses,
    ...(initContainerStatuses.length > 0 ? { initContainerStatuses } : {}),
  };
}

/**
 * Stamps each condition with the time its status last changed: kept from `previous` while
 * the status stays, `nowIso` when it flips (or first appears).
 */
export function withTransitionTimes(
  next: PodStatusReport,
  previous: PodStatusReport | undefined,
  nowIso: string,
): PodStatusReport {
  const conditions = next.conditions.map((condition) => {
    const before = previous?.conditions.find((c) => c.type === condition.type);
    const lastTransitionTime =
      before !== undefined && before.status === condition.status && before.lastTransitionTime
        ? before.lastTransitionTime
        : nowIso;
    return { ...condition, lastTransitionTime };
  });
  return { ...next, conditions };
}
