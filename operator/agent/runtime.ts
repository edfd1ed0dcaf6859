/**
 * The runtime port: what the node agent needs of a container engine. The Docker adapter
 * (docker-runtime.ts, the only importer of dockerode) implements it; tests may add fakes, but
 * the same contract suite runs against Docker for real. All identity lives in container
 * labels (LABELS below), so an agent that restarts rebuilds its view from the engine alone.
 */
import type { Pod } from '../model/generated/types.js';

/** Reverse-DNS label keys on every container berth creates. */
export const LABELS = {
  podName: 'io.berth.pod.name',
  podNamespace: 'io.berth.pod.namespace',
  podUid: 'io.berth.pod.uid',
  containerName: 'io.berth.container.name',
  /** Hash of the container's spec (and the pod parts it depends on): a change means replace. */
  specHash: 'io.berth.spec-hash',
  /** `sandbox` for the pod's network holder (pause), `container` for the user's containers. */
  role: 'io.berth.role',
  /** The node (agent) that owns the container; agents sharing one engine never touch another's. */
  node: 'io.berth.node',
  /** Who made it: always `berth`. */
  owner: 'io.berth.owner',
  /** Restart count, carried across container re-creations. */
  restartCount: 'io.berth.restart-count',
  /**
   * The pod's terminationGracePeriodSeconds, so an agent that restarted stops an orphan as
   * gently as its spec asked (the kubelet keeps the same on its containers).
   */
  gracePeriod: 'io.berth.pod.termination-grace-period',
} as const;

export type ContainerRole = 'sandbox' | 'container';

/** A container as the engine reports it, reduced to what the agent decides on. */
export interface ObservedContainer {
  readonly id: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly role: ContainerRole;
  readonly podNamespace: string;
  readonly podName: string;
  readonly podUid: string;
  /** Container name within the pod; '' for the sandbox. */
  readonly containerName: string;
  readonly specHash: string;
  readonly state: 'created' | 'running' | 'paused' | 'restarting' | 'exited' | 'dead' | 'removing';
  readonly exitCode: number | undefined;
  /** ISO times from the engine; undefined when never started / not finished. */
  readonly startedAt: string | undefined;
  readonly finishedAt: string | undefined;
  /** Engine's error text when it failed to start the container (e.g. port already allocated). */
  readonly error: string | undefined;
  readonly oomKilled: boolean;
  readonly image: string;
  /**
   * The pod IP a running sandbox holds (its bridge address, or the host's for hostNetwork),
   * so an agent that restarts learns it from the engine; undefined for other containers.
   */
  readonly ip?: string | undefined;
  /** The engine's name for it (no leading slash), when the runtime knows names. */
  readonly name?: string | undefined;
}

/** What the engine says happened to a container (from its event stream). */
export interface RuntimeEvent {
  readonly containerId: string;
  readonly action:
    | 'start'
    | 'die'
    | 'destroy'
    | 'oom'
    | 'kill'
    | 'stop'
    | 'create'
    | 'rename'
    | 'other';
  readonly labels: Readonly<Record<string, string>>;
  /** For `rename`: the name before and after (no leading slash). */
  readonly oldName?: string;
  readonly newName?: string;
}

export interface ExecResult {
  readonly exitCode: number;
  readonly output: string;
}

export interface ImagePullResult {
  readonly ok: boolean;
  /** The engine's message when the pull failed. */
  readonly message?: string;
}

export interface SandboxInfo {
  readonly id: string;
  /** The pod's IP, shared by all its containers. */
  readonly ip: string;
}

export interface ContainerRuntime {
  /** Every container carrying this node's label (berth's, for this node only). */
  list(node: string): Promise<ObservedContainer[]>;
  /** Image present locally? */
  hasImage(image: string): Promise<boolean>;
  /** Pull from a registry; never throws for a failed pull, returns the engine's message. */
  pull(image: string): Promise<ImagePullResult>;
  /** Creates and starts the pod's sandbox (network namespace holder, hostname = pod name, host ports bound). */
  createSandbox(pod: Pod, node: string): Promise<SandboxInfo>;
  /** Creates (does not start) one of the pod's containers joined to the sandbox. */
  createContainer(request: CreateContainerRequest): Promise<string>;
  start(containerId: string): Promise<void>;
  /** SIGTERM, wait up to graceSeconds, then SIGKILL. Idempotent. */
  stop(containerId: string, graceSeconds: number): Promise<void>;
  /** Force-removes; missing is fine. */
  remove(containerId: string): Promise<void>;
  /** Gives the container another name (runtimes without names leave this out). */
  rename?(containerId: string, name: string): Promise<void>;
  exec(containerId: string, command: readonly string[], timeoutMs: number): Promise<ExecResult>;
  /** Subscribes to container events of this node; returns unsubscribe. Reconnects on its own. */
  events(node: string, onEvent: (event: RuntimeEvent) => void): () => void;
  logs(
    containerId: string,
    options: { follow: boolean; tail?: number },
  ): Promise<NodeJS.ReadableStream>;
  /** CPU count and memory bytes of the engine's host. */
  capacity(): Promise<{ cpu: number; memoryBytes: number }>;
}

export interface CreateContainerRequest {
  readonly pod: Pod;
  readonly node: string;
  readonly sandbox: SandboxInfo;
  readonly containerIndex: number;
  readonly specHash: string;
  readonly restartCount: number;
  /** Host paths for each of the pod's volumes, prepared by the volume manager, by volume name. */
  readonly volumes: ReadonlyMap<string, PreparedVolume>;
  /** Extra environment (service variables, later issues), applied before the container's own env. */
  readonly extraEnv?: Readonly<Record<string, string>>;
}

/**
 * A volume ready to mount. emptyDir is a host folder under the agent's data dir (bind);
 * `medium: Memory` is an engine volume of type tmpfs (one mount shared by the pod's
 * containers, unlike a per-container tmpfs mount).
 */
export type PreparedVolume =
  | { readonly kind: 'bind'; readonly hostPath: string }
  | { readonly kind: 'engine-volume'; readonly name: string };

/**
 * The name berth gives a container, before its random suffix:
 * `berth_<container>_<pod>_<namespace>_<node>_` (`sandbox` for the pod's sandbox).
 */
export function containerNamePrefix(
  container: string,
  pod: string,
  namespace: string,
  node: string,
): string {
  const parts = [container, pod, namespace, node];
  const safe = parts.map((part) => part.replace(/[^a-zA-Z0-9_.-]/g, '-'));
  return `berth_${safe.join('_')}_`;
}

/** True when the container carries a name berth gave it (the prefix and 8 hex digits). */
export function hasBerthName(container: ObservedContainer, node: string): boolean {
  if (container.name === undefined) return true;
  const prefix = containerNamePrefix(
    container.role === 'sandbox' ? 'sandbox' : container.containerName,
    container.podName,
    container.podNamespace,
    node,
  );
  return (
    container.name.startsWith(prefix) && /^[0-9a-f]{8}$/.test(container.name.slice(prefix.length))
  );
}
