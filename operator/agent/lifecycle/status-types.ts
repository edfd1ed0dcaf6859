/**
 * The status the agent reports for each pod: Kubernetes' v1 PodStatus shape, reduced to the
 * fields berth fills. A typed module here rather than in schemas/: the generated PodStatus
 * is "accepted and ignored" input, while this is what the agent produces. Type aliases and
 * plain arrays (not interfaces, not readonly arrays) so a report is assignable to the
 * generated, loosely typed PodStatus that the wire protocol carries.
 */

export type PodPhase = 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown';

export type PodConditionType = 'PodScheduled' | 'Initialized' | 'ContainersReady' | 'Ready';

export type PodCondition = {
  readonly type: PodConditionType;
  readonly status: 'True' | 'False' | 'Unknown';
  readonly reason?: string;
  readonly message?: string;
  readonly lastTransitionTime?: string;
};

/** Why a container is not running yet (or again). */
export type WaitingReason =
  | 'ContainerCreating'
  | 'ErrImagePull'
  | 'ImagePullBackOff'
  | 'ErrImageNeverPull'
  | 'CrashLoopBackOff'
  | 'CreateContainerError'
  | 'CreateContainerConfigError'
  | 'RunContainerError'
  | 'PodInitializing';

export type ContainerStateWaiting = {
  readonly reason: WaitingReason;
  readonly message?: string;
};

export type ContainerStateRunning = {
  readonly startedAt: string;
};

export type ContainerStateTerminated = {
  readonly exitCode: number;
  /** Completed (exit 0), Error, OOMKilled or ContainerCannotRun. */
  readonly reason: string;
  readonly message?: string;
  readonly startedAt?: string;
  readonly finishedAt?: string;
  readonly containerID?: string;
};

/** Exactly one of the three is set, as in Kubernetes. */
export type ContainerState = {
  readonly waiting?: ContainerStateWaiting;
  readonly running?: ContainerStateRunning;
  readonly terminated?: ContainerStateTerminated;
};

export type ContainerStatusReport = {
  readonly name: string;
  readonly state: ContainerState;
  readonly lastState: ContainerState;
  readonly ready: boolean;
  readonly restartCount: number;
  readonly image: string;
  /** `docker://<id>` of the current container, when there is one. */
  readonly containerID?: string;
  readonly started?: boolean;
};

export type PodStatusReport = {
  readonly phase: PodPhase;
  readonly conditions: PodCondition[];
  /** Pod-level reason when the pod as a whole cannot run (e.g. FailedCreatePodSandBox). */
  readonly reason?: string;
  readonly message?: string;
  readonly hostIP?: string;
  readonly podIP?: string;
  readonly startTime?: string;
  readonly containerStatuses: ContainerStatusReport[];
  /** Present when the pod has init containers. */
  readonly initContainerStatuses?: ContainerStatusReport[];
};
