/**
 * The node agent: makes the engine run exactly the pods this node is given. One serial
 * worker per pod (never two syncs of one pod at once) compares the pod's spec with what the
 * engine shows and does the difference; engine events and timers only wake workers, and a
 * periodic relist is the backstop, so a missed event loses nothing. Decisions (restarts,
 * backoff, status) are the pure functions of ./lifecycle; this file does the I/O.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { BerthError } from '../model/errors.js';
import type { Container, Pod, Probe } from '../model/generated/types.js';
import { retryDelayMs } from './lifecycle/backoff.js';
import { type Clock, systemClock } from './lifecycle/clock.js';
import { type DriftPolicy, driftPolicyOf } from './lifecycle/drift-policy.js';
import {
  initialProbeCounter,
  type ProbeCounter,
  type ProbeKind,
  probeSettings,
  recordProbeResult,
} from './lifecycle/probe-state.js';
import {
  type ContainerAction,
  decideContainer,
  type ExitMemory,
  hasExited,
  NO_EXITS,
  observedRestartCount,
  type RestartPolicy,
} from './lifecycle/restart.js';
import { podUid, sandboxHash, sandboxPartOf, specHash } from './lifecycle/spec-hash.js';
import {
  type ContainerView,
  computePodStatus,
  terminatedState,
  withTransitionTimes,
} from './lifecycle/status.js';
import type {
  ContainerStateTerminated,
  ContainerStateWaiting,
  PodStatusReport,
} from './lifecycle/status-types.js';
import { runProbe } from './probes.js';
import {
  type ContainerRuntime,
  containerNamePrefix,
  hasBerthName,
  LABELS,
  type ObservedContainer,
  type PreparedVolume,
  type RuntimeEvent,
  type SandboxInfo,
} from './runtime.js';
import { prepareVolumes, removePodVolumes, type VolumeEngine } from './volumes.js';

export type { PodStatusReport } from './lifecycle/status-types.js';

export interface PodReport {
  namespace: string;
  name: string;
  uid: string;
  status: PodStatusReport;
}

/**
 * Something the agent found or did to a pod that a person should hear of, as Kubernetes'
 * events: for now drift made outside berth (a container removed, stopped, renamed or changed
 * by hand) and what the agent did about it: `DriftRepaired` (put back), `DriftDetected` (left
 * as found: the pod's app has selfHeal off; its next sync puts it back).
 */
export interface PodEvent {
  readonly at: string;
  readonly type: 'Normal' | 'Warning';
  readonly reason: string;
  readonly namespace: string;
  readonly pod: string;
  readonly message: string;
}

export interface NodeAgent {
  /** Level-triggered: the whole set of pods this node must run, with a version. Pods not in it are stopped and removed. */
  setDesiredPods(pods: readonly Pod[], version: string): void;
  /** Current status of every desired pod. */
  pods(): PodReport[];
  /** Called (debounced) when any status changes; returns unsubscribe. */
  onChange(listener: () => void): () => void;
  /** Called once per event (drift found, repaired or left as found); returns unsubscribe. */
  onPodEvent(listener: (event: PodEvent) => void): () => void;
  logs(
    namespace: string,
    pod: string,
    container: string | undefined,
    options: { follow: boolean; tail?: number },
  ): Promise<NodeJS.ReadableStream>;
  capacity(): Promise<{ cpu: number; memoryBytes: number }>;
  /** Adopts what runs (from labels), subscribes to events, starts the relist timer. */
  start(): Promise<void>;
  /** Stops the agent's loops; pods keep running (an agent restart must not restart them). */
  stop(): Promise<void>;
}

export interface NodeAgentOptions {
  runtime: ContainerRuntime;
  node: string;
  /** The agent's own files: emptyDir volumes and what it needs to find pods again. */
  dataDir: string;
  /** @default the system clock */
  clock?: Clock;
  /** Backstop relist of the engine. @default 10000 */
  relistIntervalMs?: number;
  /** Reported as status.hostIP. @default the host's first non-loopback IPv4 address */
  hostIp?: string;
  /**
   * Engine volumes (tmpfs emptyDirs). @default the runtime itself when it offers
   * createTmpfsVolume/removePodVolumes, else none (a `medium: Memory` volume then fails).
   */
  volumeEngine?: VolumeEngine;
  /**
   * Grace period for containers of pods the agent has no spec for (orphans found after a
   * restart): there is no terminationGracePeriodSeconds to read. @default 30
   */
  orphanGraceSeconds?: number;
  /** Delay that gathers status changes into one onChange call. @default 50 */
  changeDebounceMs?: number;
  /** How long stop() waits for syncs under way, in real time. @default 5000 */
  stopTimeoutMs?: number;
  /**
   * Deadline of one engine call (a stop: its grace period plus this), as the kubelet's
   * runtime request timeout: a hung engine call fails and is retried instead of holding the
   * pod's worker for ever. Pulls keep the runtime's own deadline. @default 120000
   */
  runtimeTimeoutMs?: number;
}

const DEFAULT_GRACE_SECONDS = 30;

const WAKING_ACTIONS: ReadonlySet<RuntimeEvent['action']> = new Set([
  'die',
  'destroy',
  'start',
  'oom',
  'rename',
  'other',
]);

/**
 * After someone else's kill, the exit is looked at this much later, so a removal that follows
 * (`docker rm -f` is kill, die, destroy) shows as a removal, not as a stop.
 */
const DRIFT_SETTLE_MS = 300;
/** How many container ids each of the agent's drift memories keeps. */
const REMEMBERED_IDS = 4096;

/** Adds to an insertion-ordered set, forgetting the oldest past REMEMBERED_IDS. */
function remember<T>(set: Set<T>, value: T): void {
  set.delete(value);
  set.add(value);
  if (set.size > REMEMBERED_IDS) {
    const oldest = set.values().next();
    if (oldest.done !== true) set.delete(oldest.value);
  }
}

/** A step that failed and is retried later (image pull, container create or start). */
interface StepFailure {
  readonly failures: number;
  readonly failedAtMs: number;
  readonly retryAtMs: number;
  readonly waiting: ContainerStateWaiting;
  /** The reason shown while the retry is pending, after the failing sync (e.g. ImagePullBackOff). */
  readonly backoffWaiting: ContainerStateWaiting | undefined;
}

/** Drift left as found (selfHeal off) until the pod comes with another sync id. */
interface HeldDrift {
  readonly kind: 'removed' | 'stopped' | 'changed' | 'renamed';
  /** The engine id of the container (or sandbox) the drift was found on. */
  readonly id: string;
  /** The pod's sync id when the drift was found. */
  readonly syncId: string;
  /** What it was, for the event that says it was put back. */
  readonly what: string;
  /** A stopped container's crash-loop schedule before its stop (kept: a stop is no crash). */
  readonly exitsBefore?: ExitMemory;
}

interface ContainerMemory {
  exits: ExitMemory;
  /** Drift of this container left as found (the pod's app has selfHeal off). */
  held: HeldDrift | undefined;
  failure: StepFailure | undefined;
  lastTerminated: ContainerStateTerminated | undefined;
  /** The engine id whose end is recorded in lastTerminated. */
  lastTerminatedId: string | undefined;
  /** It ran (or was seen) under this agent, so a missing container means it was cleaned away. */
  seen: boolean;
  restartCount: number;
  /** The engine id of the container berth last made or kept for this name. */
  lastId: string | undefined;
  /** Shown until the next sync (e.g. CrashLoopBackOff while the backoff runs). */
  waiting: ContainerStateWaiting | undefined;
}

interface ContainerPlan {
  readonly container: Container;
  /** Index in spec.containers, or in spec.initContainers for an init container. */
  readonly index: number;
  readonly init: boolean;
  readonly action: ContainerAction;
  readonly current: ObservedContainer | undefined;
}

interface ProbeRunner {
  readonly containerId: string;
  readonly counters: Map<ProbeKind, ProbeCounter>;
  readonly cancels: (() => void)[];
  disposed: boolean;
}

interface PodWorker {
  readonly key: string;
  readonly namespace: string;
  readonly name: string;
  /** The desired pod (uid filled in); undefined means: stop and remove everything of it. */
  pod: Pod | undefined;
  /** Grace period of the last spec seen, for the teardown of a pod that left the set. */
  graceSeconds: number;
  /** False for an orphan found after a restart: its grace period comes from its labels. */
  specSeen: boolean;
  busy: Promise<void> | undefined;
  again: boolean;
  wakeAtMs: number | undefined;
  cancelWake: (() => void) | undefined;
  containers: Map<string, ContainerMemory>;
  volumes: Map<string, PreparedVolume> | undefined;
  volumesUid: string | undefined;
  podFailure: { reason: string; message: string; failures: number; retryAtMs: number } | undefined;
  sandbox: SandboxInfo | undefined;
  /** The engine id of the sandbox berth last made or kept. */
  lastSandboxId: string | undefined;
  /** The sandbox removed or stopped by hand, left as found: the pod is not synced meanwhile. */
  heldSandbox: HeldDrift | undefined;
  /** Containers renamed by hand and left so, by engine id. */
  heldRenames: Map<string, HeldDrift>;
  /** The held drift was read back from the data dir (it outlives an agent restart). */
  heldLoaded: boolean;
  /** The held drift as last written to the data dir ('' when none is). */
  heldJson: string;
  probes: Map<string, ProbeRunner>;
  /** Every init container has completed (or an app container exists). */
  initialized: boolean;
  observed: ObservedContainer[];
  startTime: string | undefined;
  status: PodStatusReport | undefined;
  statusJson: string;
}

function podKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/** The host's first non-loopback IPv4 address: what pods see as status.hostIP. */
export function defaultHostIp(): string {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const address of addresses ?? []) {
      if (address.family === 'IPv4' && !address.internal) return address.address;
    }
  }
  return '127.0.0.1';
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Kubernetes' default: Always for `:latest` or no tag, IfNotPresent otherwise. */
export function pullPolicyOf(container: Container): 'Always' | 'IfNotPresent' | 'Never' {
  if (container.imagePullPolicy !== undefined) return container.imagePullPolicy;
  const image = container.image;
  if (image.includes('@')) return 'IfNotPresent';
  const lastSlash = image.lastIndexOf('/');
  const colon = image.indexOf(':', lastSlash + 1);
  if (colon < 0) return 'Always';
  return image.slice(colon + 1) === 'latest' ? 'Always' : 'IfNotPresent';
}

/** Newest first: the highest restart count, then a live one before an exited one. */
function newestFirst(a: ObservedContainer, b: ObservedContainer): number {
  const byCount = observedRestartCount(b) - observedRestartCount(a);
  if (byCount !== 0) return byCount;
  return Number(hasExited(a)) - Number(hasExited(b));
}

function isVolumeEngine(value: unknown): value is VolumeEngine {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Partial<VolumeEngine>).createTmpfsVolume === 'function' &&
    typeof (value as Partial<VolumeEngine>).removePodVolumes === 'function'
  );
}

const NO_VOLUME_ENGINE: VolumeEngine = {
  createTmpfsVolume: () =>
    Promise.reject(new Error('this runtime offers no tmpfs volumes (emptyDir medium: Memory)')),
  removePodVolumes: () => Promise.resolve(),
};

function deadline<T>(call: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(
        new BerthError(
          'RUNTIME_ENGINE_FAILED',
          `the engine did not answer ${what} within ${Math.round(ms / 1000)} s`,
          { retry: true },
        ),
      );
    }, ms);
    timer.unref?.();
  });
  return Promise.race([call, expired]).finally(() => clearTimeout(timer));
}

/** The runtime with a deadline on each call the workers wait for. */
/**
 * The runtime with a deadline on every call; `own` hears of every stop and removal berth
 * itself asks for (before the engine's events of it), so drift can be told from berth's work.
 */
function withDeadlines(
  runtime: ContainerRuntime,
  ms: number,
  own: (id: string, what: 'stop' | 'remove' | 'rename') => void,
): ContainerRuntime {
  const rename = runtime.rename?.bind(runtime);
  return {
    list: (node) => deadline(runtime.list(node), ms, 'list'),
    hasImage: (image) => deadline(runtime.hasImage(image), ms, `inspect of image ${image}`),
    pull: (image) => runtime.pull(image),
    createSandbox: (pod, node) => deadline(runtime.createSandbox(pod, node), ms, 'sandbox create'),
    createContainer: (request) =>
      deadline(runtime.createContainer(request), ms, 'container create'),
    start: (id) => deadline(runtime.start(id), ms, `start of ${id}`),
    stop: (id, grace) => {
      own(id, 'stop');
      return deadline(runtime.stop(id, grace), grace * 1000 + ms, `stop of ${id}`);
    },
    remove: (id) => {
      own(id, 'remove');
      return deadline(runtime.remove(id), ms, `removal of ${id}`);
    },
    ...(rename === undefined
      ? {}
      : {
          rename: (id: string, name: string) => {
            own(id, 'rename');
            return deadline(rename(id, name), ms, `rename of ${id}`);
          },
        }),
    exec: (id, command, timeoutMs) =>
      deadline(runtime.exec(id, command, timeoutMs), timeoutMs + ms, `exec in ${id}`),
    events: (node, onEvent) => runtime.events(node, onEvent),
    logs: (id, options) => deadline(runtime.logs(id, options), ms, `logs of ${id}`),
    capacity: () => deadline(runtime.capacity(), ms, 'info'),
  };
}

export function createNodeAgent(options: NodeAgentOptions): NodeAgent {
  return new Agent(options);
}

class Agent implements NodeAgent {
  private readonly runtime: ContainerRuntime;
  private readonly node: string;
  private readonly dataDir: string;
  private readonly clock: Clock;
  private readonly relistIntervalMs: number;
  private readonly hostIp: string;
  private readonly volumeEngine: VolumeEngine;
  private readonly orphanGraceSeconds: number;
  private readonly changeDebounceMs: number;
  private readonly stopTimeoutMs: number;

  private readonly workers = new Map<string, PodWorker>();
  private readonly listeners = new Set<() => void>();
  /** Until the first desired set arrives, nothing is an orphan: the agent does not know yet. */
  private desiredKnown = false;
  private started = false;
  private stopped = false;
  private unsubscribeEvents: (() => void) | undefined;
  private cancelRelist: (() => void) | undefined;
  private cancelNotify: (() => void) | undefined;
  private relisting: Promise<void> | undefined;
  private relistAgain = false;
  private listing: Promise<ObservedContainer[]> | undefined;
  private queuedListing: Promise<ObservedContainer[]> | undefined;
  private readonly eventListeners = new Set<(event: PodEvent) => void>();
  /** Containers berth itself stopped or removed (asked before the engine's events of it). */
  private readonly ownEnds = new Set<string>();
  private readonly ownRenames = new Set<string>();
  /** Containers berth made. */
  private readonly made = new Set<string>();
  /** Containers someone else stopped or killed, from the engine's `kill`/`stop` events. */
  private readonly signalled = new Set<string>();
  /** A container's name before someone else renamed it (the first rename's old name). */
  private readonly renamedFrom = new Map<string, string>();
  /** Drift already reported, as `id:case`: one event per occurrence. */
  private readonly reported = new Set<string>();
  /** When the agent began hearing the engine's events (ms); exits before it are unexplained. */
  private eventsSinceMs: number | undefined;

  constructor(options: NodeAgentOptions) {
    this.runtime = withDeadlines(options.runtime, options.runtimeTimeoutMs ?? 120_000, (id, what) =>
      remember(what === 'rename' ? this.ownRenames : this.ownEnds, id),
    );
    this.node = options.node;
    this.dataDir = options.dataDir;
    this.clock = options.clock ?? systemClock;
    this.relistIntervalMs = options.relistIntervalMs ?? 10_000;
    this.hostIp = options.hostIp ?? defaultHostIp();
    this.volumeEngine =
      options.volumeEngine ??
      (isVolumeEngine(options.runtime) ? options.runtime : NO_VOLUME_ENGINE);
    this.orphanGraceSeconds = options.orphanGraceSeconds ?? DEFAULT_GRACE_SECONDS;
    this.changeDebounceMs = options.changeDebounceMs ?? 50;
    this.stopTimeoutMs = options.stopTimeoutMs ?? 5_000;
  }

  // ---- the contract ----

  setDesiredPods(pods: readonly Pod[], _version: string): void {
    const wanted = new Map<string, Pod>();
    for (const given of pods) {
      const namespace = given.metadata.namespace ?? 'default';
      const name = given.metadata.name ?? '';
      // A copy with the uid berth uses: labels, volume folders and hashes all hang off it.
      const pod: Pod = {
        ...given,
        metadata: { ...given.metadata, namespace, name, uid: podUid(given) },
      };
      wanted.set(podKey(namespace, name), pod);
    }
    for (const [key, pod] of wanted) {
      const worker =
        this.workers.get(key) ?? this.newWorker(pod.metadata.namespace!, pod.metadata.name!);
      const changed = JSON.stringify(worker.pod) !== JSON.stringify(pod);
      worker.pod = pod;
      worker.specSeen = true;
      worker.graceSeconds = pod.spec.terminationGracePeriodSeconds ?? DEFAULT_GRACE_SECONDS;
      if (changed) this.kick(worker);
    }
    for (const worker of this.workers.values()) {
      if (!wanted.has(worker.key) && worker.pod !== undefined) {
        worker.pod = undefined;
        this.kick(worker);
      }
    }
    const first = !this.desiredKnown;
    this.desiredKnown = true;
    if (first && this.started) this.relist();
    this.notifySoon();
  }

  pods(): PodReport[] {
    const reports: PodReport[] = [];
    for (const worker of this.workers.values()) {
      const pod = worker.pod;
      if (pod === undefined) continue;
      reports.push({
        namespace: worker.namespace,
        name: worker.name,
        uid: pod.metadata.uid!,
        // Before its first sync a pod has no status of its own: all containers are being created.
        status:
          worker.status ??
          withTransitionTimes(
            this.computeStatus(worker, pod, []),
            undefined,
            new Date(this.clock.now()).toISOString(),
          ),
      });
    }
    return reports.sort((a, b) =>
      podKey(a.namespace, a.name).localeCompare(podKey(b.namespace, b.name)),
    );
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  onPodEvent(listener: (event: PodEvent) => void): () => void {
    this.eventListeners.add(listener);
    return () => {
      this.eventListeners.delete(listener);
    };
  }

  async logs(
    namespace: string,
    pod: string,
    container: string | undefined,
    options: { follow: boolean; tail?: number },
  ): Promise<NodeJS.ReadableStream> {
    const worker = this.workers.get(podKey(namespace, pod));
    const spec = worker?.pod;
    if (worker === undefined || spec === undefined) {
      throw new BerthError(
        'AGENT_POD_NOT_FOUND',
        `pod ${namespace}/${pod} is not on node ${this.node}`,
      );
    }
    const names = spec.spec.containers.map((c) => c.name);
    let name = container;
    if (name === undefined) {
      if (names.length !== 1) {
        throw new BerthError(
          'AGENT_CONTAINER_NOT_FOUND',
          `a container name must be specified for pod ${pod}, choose one of: [${names.join(' ')}]`,
        );
      }
      name = names[0]!;
    }
    const initNames = (spec.spec.initContainers ?? []).map((c) => c.name);
    if (!names.includes(name) && !initNames.includes(name)) {
      throw new BerthError(
        'AGENT_CONTAINER_NOT_FOUND',
        `container ${name} is not valid for pod ${pod}, choose one of: [${[...initNames, ...names].join(' ')}]`,
      );
    }
    const observed = (await this.observe())
      .filter(
        (c) =>
          c.role === 'container' &&
          c.podNamespace === namespace &&
          c.podName === pod &&
          c.podUid === spec.metadata.uid &&
          c.containerName === name,
      )
      .sort(newestFirst);
    const current = observed[0];
    if (current === undefined) {
      throw new BerthError(
        'AGENT_CONTAINER_NOT_FOUND',
        `container ${name} of pod ${namespace}/${pod} has no container on node ${this.node} yet`,
      );
    }
    return this.runtime.logs(current.id, options);
  }

  capacity(): Promise<{ cpu: number; memoryBytes: number }> {
    return this.runtime.capacity();
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.stopped = false;
    this.eventsSinceMs = this.clock.now();
    this.unsubscribeEvents = this.runtime.events(this.node, (event) => this.onEvent(event));
    // The first relist adopts: every worker looks at what runs and keeps what matches.
    // An engine that does not answer yet is no reason to fail: the relist timer tries again,
    // and pods show the engine's error in their status meanwhile.
    await this.relistNow().catch(() => undefined);
    this.scheduleRelist();
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    this.stopped = true;
    this.started = false;
    this.unsubscribeEvents?.();
    this.unsubscribeEvents = undefined;
    this.cancelRelist?.();
    this.cancelRelist = undefined;
    this.cancelNotify?.();
    this.cancelNotify = undefined;
    const running: Promise<void>[] = [];
    for (const worker of this.workers.values()) {
      worker.cancelWake?.();
      worker.cancelWake = undefined;
      worker.wakeAtMs = undefined;
      for (const runner of worker.probes.values()) this.disposeProbes(runner);
      worker.probes.clear();
      if (worker.busy !== undefined) running.push(worker.busy);
    }
    if (this.relisting !== undefined) running.push(this.relisting);
    // Syncs under way finish their current engine call (a graceful stop may take a pod's whole
    // grace period, an engine may hang): wait for them, but not past stopTimeoutMs. Real time,
    // not the agent's clock: this bounds the process's shutdown, not a pod decision.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled(running),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.stopTimeoutMs);
      }),
    ]);
    clearTimeout(timer);
  }

  // ---- waking ----

  private newWorker(namespace: string, name: string): PodWorker {
    const worker: PodWorker = {
      key: podKey(namespace, name),
      namespace,
      name,
      pod: undefined,
      graceSeconds: this.orphanGraceSeconds,
      specSeen: false,
      busy: undefined,
      again: false,
      wakeAtMs: undefined,
      cancelWake: undefined,
      containers: new Map(),
      volumes: undefined,
      volumesUid: undefined,
      podFailure: undefined,
      sandbox: undefined,
      lastSandboxId: undefined,
      heldSandbox: undefined,
      heldRenames: new Map(),
      heldLoaded: false,
      heldJson: '',
      probes: new Map(),
      initialized: false,
      observed: [],
      startTime: undefined,
      status: undefined,
      statusJson: '',
    };
    this.workers.set(worker.key, worker);
    return worker;
  }

  private onEvent(event: RuntimeEvent): void {
    if (this.stopped) return;
    const id = event.containerId;
    const byBerth = this.ownEnds.has(id);
    if (!byBerth && (event.action === 'kill' || event.action === 'stop')) {
      remember(this.signalled, id);
    }
    if (
      event.action === 'rename' &&
      event.oldName !== undefined &&
      !this.ownRenames.has(id) &&
      !this.renamedFrom.has(id)
    ) {
      this.renamedFrom.set(id, event.oldName);
      if (this.renamedFrom.size > REMEMBERED_IDS) {
        const oldest = this.renamedFrom.keys().next();
        if (oldest.done !== true) this.renamedFrom.delete(oldest.value);
      }
    }
    const namespace = event.labels[LABELS.podNamespace];
    const name = event.labels[LABELS.podName];
    const worker =
      namespace !== undefined && name !== undefined
        ? this.workers.get(podKey(namespace, name))
        : undefined;
    if (worker !== undefined) {
      // What changes a pod's state: an exit, a removal, a start. `kill` comes before its `die`
      // (a list then would still see it running), `create` and `stop` follow the agent's own
      // calls or a die; waking on them would only cost lists.
      // Someone else's kill: a removal may follow at once (`docker rm -f`); its `stop` (from
      // `docker stop`) or `destroy` wakes the worker sooner.
      const drift = !byBerth && this.signalled.has(id);
      if (drift && event.action === 'die') {
        this.wakeAt(worker, this.clock.now() + DRIFT_SETTLE_MS);
      } else if (WAKING_ACTIONS.has(event.action) || (drift && event.action === 'stop')) {
        this.kick(worker);
      }
    } else if (this.desiredKnown && (event.action === 'start' || event.action === 'create')) {
      // A berth container of this node that no worker owns: the relist removes it.
      this.relist();
    }
  }

  /** Runs the worker's sync now, or once more right after the one in progress. */
  private kick(worker: PodWorker): void {
    if (!this.started || this.stopped) return;
    if (worker.busy !== undefined) {
      worker.again = true;
      return;
    }
    worker.busy = this.runWorker(worker);
  }

  private async runWorker(worker: PodWorker): Promise<void> {
    try {
      do {
        worker.again = false;
        try {
          await this.sync(worker);
        } catch (error) {
          // A sync never takes the node down: note it, retry later.
          this.recordPodFailure(worker, 'SyncError', errorText(error));
        }
      } while (worker.again && !this.stopped);
    } finally {
      worker.busy = undefined;
    }
    if (worker.pod === undefined && worker.observed.length === 0 && worker.wakeAtMs === undefined) {
      this.workers.delete(worker.key);
      this.notifySoon();
    }
  }

  private wakeAt(worker: PodWorker, atMs: number): void {
    if (this.stopped) return;
    if (worker.wakeAtMs !== undefined && worker.wakeAtMs <= atMs) return;
    worker.cancelWake?.();
    worker.wakeAtMs = atMs;
    worker.cancelWake = this.clock.setTimer(() => {
      worker.wakeAtMs = undefined;
      worker.cancelWake = undefined;
      this.kick(worker);
    }, atMs - this.clock.now());
  }

  private scheduleRelist(): void {
    if (this.stopped) return;
    this.cancelRelist = this.clock.setTimer(() => {
      this.relist();
      this.scheduleRelist();
    }, this.relistIntervalMs);
  }

  private relist(): void {
    if (this.relisting !== undefined) {
      this.relistAgain = true;
      return;
    }
    this.relisting = this.relistNow()
      .catch(() => {
        // The engine did not answer: the next relist tries again.
      })
      .finally(() => {
        this.relisting = undefined;
        if (this.relistAgain && !this.stopped) {
          this.relistAgain = false;
          this.relist();
        }
      });
  }

  /** Wakes every worker, and gives containers of unknown pods a worker that removes them. */
  private async relistNow(): Promise<void> {
    let observed: ObservedContainer[];
    try {
      observed = await this.observe();
    } catch (error) {
      // Each worker then meets the engine's error itself and shows it in its pod's status.
      for (const worker of this.workers.values()) this.kick(worker);
      throw error;
    }
    if (this.stopped) return;
    if (this.desiredKnown) {
      for (const container of observed) {
        const key = podKey(container.podNamespace, container.podName);
        if (!this.workers.has(key)) this.newWorker(container.podNamespace, container.podName);
      }
    }
    for (const worker of this.workers.values()) this.kick(worker);
  }

  /**
   * The engine's containers of this node. Calls that overlap share one list, and a call made
   * while a list runs gets the next one (it may have been made after a change the running
   * list missed).
   */
  private observe(): Promise<ObservedContainer[]> {
    if (this.listing === undefined) {
      const listing = this.runtime.list(this.node).finally(() => {
        if (this.listing === listing) this.listing = undefined;
      });
      this.listing = listing;
      return listing;
    }
    if (this.queuedListing === undefined) {
      const queued = this.listing
        .catch(() => [])
        .then(() => {
          if (this.queuedListing === queued) this.queuedListing = undefined;
          return this.observe();
        });
      this.queuedListing = queued;
    }
    return this.queuedListing;
  }

  // ---- one pod's sync ----

  private async sync(worker: PodWorker): Promise<void> {
    const all = await this.observe();
    const mine = all.filter(
      (c) => c.podNamespace === worker.namespace && c.podName === worker.name,
    );
    worker.observed = mine;
    const pod = worker.pod;
    if (pod === undefined) {
      await this.teardown(worker, mine);
      return;
    }
    const uid = pod.metadata.uid!;
    const now = this.clock.now();
    if (!worker.heldLoaded) {
      worker.heldLoaded = true;
      await this.loadHeld(worker, uid);
    }

    // Containers of an earlier pod of the same name (another uid) go first.
    const stale = mine.filter((c) => c.podUid !== uid);
    if (stale.length > 0) {
      await this.stopAndRemove(stale, worker.graceSeconds);
      worker.again = true;
      return;
    }

    // One sandbox per pod: a running one if there is, else the newest. Any other (a create
    // that finished after its deadline, say) holds nothing and goes.
    const sandboxes = mine
      .filter((c) => c.role === 'sandbox')
      .sort((a, b) => Number(b.state === 'running') - Number(a.state === 'running'));
    let sandbox = sandboxes[0];
    if (sandboxes.length > 1) {
      await this.stopAndRemove(sandboxes.slice(1), 0);
      worker.again = true;
      return;
    }
    let containers = mine.filter((c) => c.role === 'container');
    const drift = driftPolicyOf(pod);
    if (this.noteSandboxDrift(worker, sandbox, drift)) {
      // The pod's network was taken away by hand and selfHeal is off: nothing is done to the
      // pod until its app's next sync.
      worker.observed = mine;
      await this.saveHeld(worker, uid);
      this.publish(worker);
      return;
    }
    await this.repairNames(worker, mine, drift);
    // A changed sandbox part (host ports, hostname) means the whole pod is made again.
    const wantedSandboxPart = sandboxHash(pod);
    if (containers.some((c) => sandboxPartOf(c.specHash) !== wantedSandboxPart)) {
      await this.stopAndRemove(mine, worker.graceSeconds);
      worker.sandbox = undefined;
      worker.again = true;
      return;
    }

    // Volumes first: nothing starts without them.
    if (!(await this.ensureVolumes(worker, pod, now))) {
      this.publish(worker);
      return;
    }

    const policy: RestartPolicy = pod.spec.restartPolicy ?? 'Always';
    const planFor = async (
      container: Container,
      index: number,
      init: boolean,
      containerPolicy: RestartPolicy,
    ): Promise<ContainerPlan> => {
      const memory = this.memoryOf(worker, container.name);
      const ofName = containers.filter((c) => c.containerName === container.name).sort(newestFirst);
      const current = ofName[0];
      // Older containers of the same name are leftovers of restarts: their end is history.
      const leftovers = ofName.slice(1);
      if (leftovers.length > 0) await this.stopAndRemove(leftovers, 0);
      if (current !== undefined) {
        memory.seen = true;
        memory.restartCount = observedRestartCount(current);
      }
      const desiredHash = specHash(pod, container);
      const exitsBefore = memory.exits;
      const decision = decideContainer({
        policy: containerPolicy,
        desiredHash,
        current,
        finishedBefore: memory.seen,
        knownRestartCount: memory.restartCount,
        memory: memory.exits,
        nowMs: now,
      });
      memory.exits = decision.memory;
      const action = this.noteDrift(worker, container, memory, current, desiredHash, drift, {
        action: decision.action,
        exitsBefore,
        now,
      });
      memory.lastId = current?.id;
      return { container, index, init, action, current };
    };

    const plans: ContainerPlan[] = [];
    // Init containers run one at a time, in order, each to success, before any app container;
    // once an app container exists the pod counts as initialized (as the kubelet decides).
    const appNames = new Set(pod.spec.containers.map((c) => c.name));
    let initialized = containers.some((c) => appNames.has(c.containerName));
    if (!initialized) {
      // A failed init container is retried unless the pod never restarts anything.
      const initPolicy: RestartPolicy = policy === 'Never' ? 'Never' : 'OnFailure';
      initialized = true;
      for (const [index, container] of (pod.spec.initContainers ?? []).entries()) {
        const step = await planFor(container, index, true, initPolicy);
        const completed =
          step.action.kind === 'finished' &&
          (step.current === undefined || step.current.exitCode === 0);
        if (completed) continue;
        plans.push(step);
        initialized = false;
        break;
      }
    }
    worker.initialized = initialized;
    if (initialized) {
      for (const [index, container] of pod.spec.containers.entries()) {
        plans.push(await planFor(container, index, false, policy));
      }
    }
    containers = containers.filter((c) => plans.some((p) => p.current?.id === c.id));

    const needsRun = plans.some(
      (p) =>
        p.action.kind === 'create' || p.action.kind === 'replace' || p.action.kind === 'restart',
    );
    const sandboxRunning =
      sandbox !== undefined && !hasExited(sandbox) && sandbox.state !== 'created';
    const live = containers.filter((c) => !hasExited(c) && c.state !== 'created');
    if (!sandboxRunning && (needsRun || live.length > 0)) {
      // The network namespace is gone (a dead sandbox, a dockerd restart): what still runs in
      // it is stopped, and its exit handled by the restart policy in a new sandbox, as the
      // kubelet does. Containers made but never started joined the old one: they go.
      const unstarted = containers.filter((c) => c.state === 'created' && !hasExited(c));
      if (live.length > 0 || unstarted.length > 0 || sandbox !== undefined) {
        await Promise.all(live.map((c) => this.runtime.stop(c.id, worker.graceSeconds)));
        await this.stopAndRemove([...unstarted, ...(sandbox !== undefined ? [sandbox] : [])], 0);
        worker.sandbox = undefined;
        worker.again = true;
        return;
      }
      sandbox = undefined;
    }

    let acted = false;
    let sandboxInfo: SandboxInfo | undefined;
    if (needsRun) {
      sandboxInfo = await this.ensureSandbox(worker, pod, sandbox, now);
      if (sandboxInfo === undefined) {
        this.publish(worker);
        return;
      }
      if (sandbox === undefined) acted = true;
    } else if (sandbox !== undefined && sandboxRunning) {
      sandboxInfo = await this.knownSandbox(worker, pod, sandbox);
    }
    if (sandboxInfo !== undefined) worker.lastSandboxId = sandboxInfo.id;

    const runs: Promise<boolean>[] = [];
    for (const plan of plans) {
      const memory = this.memoryOf(worker, plan.container.name);
      if (plan.init) {
        for (const container of pod.spec.containers)
          this.memoryOf(worker, container.name).waiting = undefined;
      }
      memory.waiting = undefined;
      switch (plan.action.kind) {
        case 'keep':
          if (plan.current?.state === 'created') {
            // Made but never started (the agent stopped in between): start it now.
            runs.push(this.startExisting(worker, plan.container.name, plan.current.id));
          }
          break;
        case 'finished':
          if (plan.current !== undefined) this.rememberEnd(memory, plan.current);
          break;
        case 'backoff': {
          if (plan.current !== undefined) this.rememberEnd(memory, plan.current);
          const message = `back-off restarting failed container ${plan.container.name} in pod ${worker.name}`;
          memory.waiting = { reason: 'CrashLoopBackOff', message };
          this.wakeAt(worker, plan.action.restartAtMs);
          break;
        }
        case 'create':
        case 'replace':
        case 'restart':
          runs.push(
            this.runContainer(
              worker,
              pod,
              plan.container,
              plan.init,
              plan.index,
              plan.action.restartCount,
              plan.current,
              sandboxInfo!,
              now,
            ),
          );
          break;
        default: {
          const unknown: never = plan.action;
          throw new Error(`unknown action ${JSON.stringify(unknown)}`);
        }
      }
    }
    const results = await Promise.all(runs);
    if (results.some((changed) => changed)) acted = true;
    if (worker.podFailure?.reason === 'SyncError') worker.podFailure = undefined;
    // After changes, look again: the status comes from what the engine then shows.
    if (acted) worker.again = true;
    else {
      worker.sandbox = sandboxInfo ?? worker.sandbox;
      this.syncProbes(worker, pod, containers);
    }
    await this.saveHeld(worker, uid);
    this.publish(worker);
  }

  private driftFile(uid: string): string {
    return join(this.dataDir, 'pods', uid, 'drift.json');
  }

  /** The drift held for the pod before the agent restarted (selfHeal off), from the data dir. */
  private async loadHeld(worker: PodWorker, uid: string): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.driftFile(uid), 'utf8');
    } catch {
      return;
    }
    try {
      const stored = JSON.parse(text) as {
        sandbox?: HeldDrift;
        containers?: Record<string, HeldDrift>;
        renames?: Record<string, HeldDrift>;
      };
      worker.heldSandbox = stored.sandbox;
      for (const [name, held] of Object.entries(stored.containers ?? {})) {
        this.memoryOf(worker, name).held = held;
      }
      for (const [id, held] of Object.entries(stored.renames ?? {})) {
        worker.heldRenames.set(id, held);
      }
      worker.heldJson = text;
    } catch {
      // A record that cannot be read holds nothing: drift found from now on is held again.
    }
  }

  /** Writes the pod's held drift to the data dir when it changed (removed when none is left). */
  private async saveHeld(worker: PodWorker, uid: string): Promise<void> {
    const containers: Record<string, HeldDrift> = {};
    for (const [name, memory] of worker.containers) {
      if (memory.held !== undefined) containers[name] = memory.held;
    }
    const renames = Object.fromEntries(worker.heldRenames);
    const none =
      worker.heldSandbox === undefined &&
      Object.keys(containers).length === 0 &&
      Object.keys(renames).length === 0;
    const text = none
      ? ''
      : JSON.stringify({
          ...(worker.heldSandbox === undefined ? {} : { sandbox: worker.heldSandbox }),
          containers,
          renames,
        });
    if (text === worker.heldJson) return;
    const file = this.driftFile(uid);
    if (text === '') await rm(file, { force: true });
    else {
      await mkdir(join(this.dataDir, 'pods', uid), { recursive: true });
      await writeFile(file, text);
    }
    worker.heldJson = text;
  }

  // ---- drift: what someone else did to berth's containers ----

  private reportDrift(
    worker: PodWorker,
    key: string,
    message: string,
    reason: 'DriftRepaired' | 'DriftDetected' = 'DriftRepaired',
  ): void {
    if (this.reported.has(key)) return;
    remember(this.reported, key);
    const event: PodEvent = {
      at: new Date(this.clock.now()).toISOString(),
      type: 'Warning',
      reason,
      namespace: worker.namespace,
      pod: worker.name,
      message,
    };
    for (const listener of [...this.eventListeners]) {
      try {
        listener(event);
      } catch {
        // One listener's failure is its own business.
      }
    }
  }

  /** Reports drift left as found (selfHeal off) and returns what holds it. */
  private holdDrift(worker: PodWorker, held: HeldDrift, found: string): HeldDrift {
    this.reportDrift(
      worker,
      `${held.id}:${held.kind}:held`,
      `${found}; left as found: selfHeal is off for this pod's app (its next sync, e.g. berth app sync, puts it back)`,
      'DriftDetected',
    );
    return held;
  }

  /** True while drift held under `held.syncId` is to stay: selfHeal off and no sync since. */
  private stillHeld(held: HeldDrift, policy: DriftPolicy): boolean {
    return !policy.selfHeal && held.syncId === policy.syncId;
  }

  private reportPutBack(worker: PodWorker, held: HeldDrift, done: string): void {
    this.reportDrift(
      worker,
      `${held.id}:${held.kind}:put-back`,
      `${held.what} (found ${held.kind} outside berth while selfHeal was off); ${done}`,
    );
  }

  /**
   * A sandbox berth made or kept that is gone, or stopped by someone else. True when it is
   * left as found (selfHeal off): the pod is then not synced until its app's next sync.
   */
  private noteSandboxDrift(
    worker: PodWorker,
    sandbox: ObservedContainer | undefined,
    policy: DriftPolicy,
  ): boolean {
    const held = worker.heldSandbox;
    if (held !== undefined) {
      if (this.stillHeld(held, policy)) return true;
      worker.heldSandbox = undefined;
      this.reportPutBack(worker, held, "made again with the pod's containers");
      return false;
    }
    const last = worker.lastSandboxId;
    if (last === undefined || this.ownEnds.has(last)) return false;
    const what = "the pod's sandbox (its network)";
    if (sandbox === undefined || sandbox.id !== last) {
      worker.lastSandboxId = undefined;
      if (!policy.selfHeal) {
        worker.heldSandbox = this.holdDrift(
          worker,
          { kind: 'removed', id: last, syncId: policy.syncId, what },
          `${what} was removed outside berth (docker rm?)`,
        );
        return true;
      }
      this.reportDrift(
        worker,
        `${last}:removed`,
        `${what} was removed outside berth (docker rm?); made again with the pod's containers`,
      );
    } else if (hasExited(sandbox) && this.signalled.has(sandbox.id)) {
      if (!policy.selfHeal) {
        worker.heldSandbox = this.holdDrift(
          worker,
          { kind: 'stopped', id: last, syncId: policy.syncId, what },
          `${what} was stopped outside berth (docker stop or kill)`,
        );
        return true;
      }
      this.reportDrift(
        worker,
        `${last}:stopped`,
        `${what} was stopped outside berth (docker stop or kill); made again with the pod's containers`,
      );
    }
    return false;
  }

  /**
   * Containers renamed by someone else get berth's name back (their old one when known); with
   * selfHeal off they keep the new name until the app's next sync.
   */
  private async repairNames(
    worker: PodWorker,
    mine: readonly ObservedContainer[],
    policy: DriftPolicy,
  ): Promise<void> {
    const rename = this.runtime.rename;
    if (rename === undefined) return;
    for (const container of mine) {
      if (container.name === undefined || hasBerthName(container, this.node)) {
        worker.heldRenames.delete(container.id);
        continue;
      }
      const sandbox = container.role === 'sandbox';
      const what = sandbox ? "the pod's sandbox" : `container ${container.containerName}`;
      const held = worker.heldRenames.get(container.id);
      if (held === undefined && !policy.selfHeal) {
        worker.heldRenames.set(
          container.id,
          this.holdDrift(
            worker,
            { kind: 'renamed', id: container.id, syncId: policy.syncId, what },
            `${what} was renamed to ${container.name} outside berth (docker rename?)`,
          ),
        );
        continue;
      }
      if (held !== undefined && this.stillHeld(held, policy)) continue;
      const prefix = containerNamePrefix(
        sandbox ? 'sandbox' : container.containerName,
        container.podName,
        container.podNamespace,
        this.node,
      );
      const before = this.renamedFrom.get(container.id);
      const candidates = [
        ...(before?.startsWith(prefix) ? [before] : []),
        `${prefix}${randomBytes(4).toString('hex')}`,
      ];
      let restored: string | undefined;
      let failure: unknown;
      for (const name of candidates) {
        try {
          await rename(container.id, name);
          restored = name;
          break;
        } catch (error) {
          // The old name may be taken by now: a new one of berth's then.
          failure = error;
        }
      }
      if (restored === undefined) throw failure;
      this.renamedFrom.delete(container.id);
      worker.heldRenames.delete(container.id);
      if (held !== undefined) {
        this.reportPutBack(worker, held, `renamed back to ${restored}`);
        continue;
      }
      this.reportDrift(
        worker,
        `${container.id}:renamed:${container.name}`,
        `${what} was renamed to ${container.name} outside berth (docker rename?); renamed back to ${restored}`,
      );
    }
  }

  /**
   * Reports drift of one container (removed, stopped or changed by someone else), once per
   * occurrence, and returns the action that repairs it: the decision's own, except that a
   * container stopped by hand runs again at once without counting as a crash, and a changed
   * one that still runs is replaced. With selfHeal off the drift is left as found (`keep`)
   * until the pod comes with another sync id, and then repaired the same way.
   */
  private noteDrift(
    worker: PodWorker,
    container: Container,
    memory: ContainerMemory,
    current: ObservedContainer | undefined,
    desiredHash: string,
    policy: DriftPolicy,
    decided: { action: ContainerAction; exitsBefore: ExitMemory; now: number },
  ): ContainerAction {
    const { action } = decided;
    const what = `container ${container.name}`;
    const held = memory.held;
    if (held !== undefined) {
      // Put right by hand (started again) or by berth since: nothing is held any more.
      const resolved =
        current !== undefined &&
        (current.id === held.id
          ? held.kind === 'stopped' && current.state === 'running'
          : this.made.has(current.id));
      if (resolved) {
        memory.held = undefined;
        return action;
      }
      if (this.stillHeld(held, policy)) return { kind: 'keep' };
      memory.held = undefined;
      return this.putBack(worker, memory, held, current, decided);
    }
    const last = memory.lastId;
    if (current === undefined) {
      if (action.kind === 'create' && last !== undefined && !this.ownEnds.has(last)) {
        const found = `${what} was removed outside berth (docker rm?)`;
        if (!policy.selfHeal) {
          memory.held = this.holdDrift(
            worker,
            { kind: 'removed', id: last, syncId: policy.syncId, what },
            found,
          );
          return { kind: 'keep' };
        }
        this.reportDrift(worker, `${last}:removed`, `${found}; created again`);
      }
      return action;
    }
    if (last !== undefined && current.id !== last && !this.made.has(current.id)) {
      // Not the container berth made or kept, and not one berth made since: put there by hand.
      const imageChanged = current.image !== container.image;
      if (imageChanged || current.specHash !== desiredHash) {
        const change = imageChanged
          ? `image ${current.image} -> ${container.image}`
          : `spec-hash ${current.specHash} -> ${desiredHash}`;
        const found = `${what} was changed outside berth: ${change}`;
        if (!policy.selfHeal) {
          memory.held = this.holdDrift(
            worker,
            { kind: 'changed', id: current.id, syncId: policy.syncId, what },
            found,
          );
          return { kind: 'keep' };
        }
        this.reportDrift(worker, `${current.id}:changed`, `${found}; replaced`);
        if (action.kind === 'keep') {
          return { kind: 'replace', restartCount: observedRestartCount(current) + 1 };
        }
      }
      return action;
    }
    if ((action.kind !== 'restart' && action.kind !== 'backoff') || this.ownEnds.has(current.id)) {
      return action;
    }
    if (this.signalled.has(current.id)) {
      const found = `${what} was stopped outside berth (docker stop or kill)`;
      if (!policy.selfHeal) {
        memory.held = this.holdDrift(
          worker,
          {
            kind: 'stopped',
            id: current.id,
            syncId: policy.syncId,
            what,
            exitsBefore: decided.exitsBefore,
          },
          found,
        );
        memory.exits = decided.exitsBefore;
        return { kind: 'keep' };
      }
      this.reportDrift(worker, `${current.id}:stopped`, `${found}; started again`);
      // Not a crash: it runs again at once, and the crash-loop schedule stays as it was.
      memory.exits = {
        backoff: decided.exitsBefore.backoff,
        exitedId: current.id,
        restartAtMs: decided.now,
      };
      return { kind: 'restart', restartCount: observedRestartCount(current) + 1 };
    }
    // Ended by a signal while the agent heard no events (it was not running, say): a stop by
    // hand cannot be told from the process's own end.
    const finishedMs =
      current.finishedAt === undefined ? Number.NaN : Date.parse(current.finishedAt);
    const bySignal = current.exitCode !== undefined && current.exitCode > 128 && !current.oomKilled;
    const unheard = this.eventsSinceMs === undefined || !(finishedMs >= this.eventsSinceMs);
    if (bySignal && unheard) {
      this.reportDrift(
        worker,
        `${current.id}:stopped`,
        `${what} stopped (by hand or by itself) while the agent was not watching; restarted per its restartPolicy`,
      );
    }
    return action;
  }

  /** The repair of drift held until now (a sync of the pod's app came, or selfHeal is on). */
  private putBack(
    worker: PodWorker,
    memory: ContainerMemory,
    held: HeldDrift,
    current: ObservedContainer | undefined,
    decided: { action: ContainerAction; exitsBefore: ExitMemory; now: number },
  ): ContainerAction {
    const { action } = decided;
    switch (held.kind) {
      case 'removed':
        if (current === undefined && action.kind === 'create') {
          this.reportPutBack(worker, held, 'created again');
        }
        return action;
      case 'stopped':
        if (current === undefined || !hasExited(current)) return action;
        this.reportPutBack(worker, held, 'started again');
        memory.exits = {
          backoff: (held.exitsBefore ?? decided.exitsBefore).backoff,
          exitedId: current.id,
          restartAtMs: decided.now,
        };
        return { kind: 'restart', restartCount: observedRestartCount(current) + 1 };
      case 'changed':
        if (current === undefined) return action;
        this.reportPutBack(worker, held, 'replaced');
        return action.kind === 'keep'
          ? { kind: 'replace', restartCount: observedRestartCount(current) + 1 }
          : action;
      case 'renamed':
        return action;
      default: {
        const unknown: never = held.kind;
        throw new Error(`unknown drift ${String(unknown)}`);
      }
    }
  }

  private memoryOf(worker: PodWorker, name: string): ContainerMemory {
    let memory = worker.containers.get(name);
    if (memory === undefined) {
      memory = {
        exits: NO_EXITS,
        held: undefined,
        failure: undefined,
        lastTerminated: undefined,
        lastTerminatedId: undefined,
        lastId: undefined,
        seen: false,
        restartCount: 0,
        waiting: undefined,
      };
      worker.containers.set(name, memory);
    }
    return memory;
  }

  private rememberEnd(memory: ContainerMemory, container: ObservedContainer): void {
    if (!hasExited(container)) return;
    memory.lastTerminated = terminatedState(container);
    memory.lastTerminatedId = container.id;
  }

  /** True while a failed step of this kind waits for its retry (other failures do not hold it up). */
  private retryPending(worker: PodWorker, reason: string, now: number): boolean {
    const failure = worker.podFailure;
    return failure !== undefined && failure.reason === reason && failure.retryAtMs > now;
  }

  private recordPodFailure(worker: PodWorker, reason: string, message: string): void {
    const failures = (worker.podFailure?.failures ?? 0) + 1;
    const retryAtMs = this.clock.now() + retryDelayMs(failures);
    worker.podFailure = { reason, message, failures, retryAtMs };
    this.wakeAt(worker, retryAtMs);
    if (worker.pod !== undefined) this.publish(worker);
  }

  private async ensureVolumes(worker: PodWorker, pod: Pod, now: number): Promise<boolean> {
    const uid = pod.metadata.uid!;
    if (worker.volumes !== undefined && worker.volumesUid === uid) return true;
    if (this.retryPending(worker, 'FailedMount', now)) {
      this.wakeAt(worker, worker.podFailure!.retryAtMs);
      return false;
    }
    const result = await prepareVolumes(pod, this.dataDir, this.volumeEngine, { node: this.node });
    if (!result.ok) {
      this.recordPodFailure(worker, 'FailedMount', result.message);
      return false;
    }
    worker.volumes = result.volumes;
    worker.volumesUid = uid;
    worker.podFailure = undefined;
    return true;
  }

  private sandboxFile(uid: string): string {
    return join(this.dataDir, 'pods', uid, 'sandbox.json');
  }

  /** The running sandbox's info: remembered, else read back from the data dir (after a restart). */
  private async knownSandbox(
    worker: PodWorker,
    pod: Pod,
    sandbox: ObservedContainer,
  ): Promise<SandboxInfo | undefined> {
    if (worker.sandbox?.id === sandbox.id) return worker.sandbox;
    // The engine's word first; the record written at creation serves runtimes that give none.
    if (sandbox.ip !== undefined && sandbox.ip !== '') return { id: sandbox.id, ip: sandbox.ip };
    try {
      const stored = JSON.parse(
        await readFile(this.sandboxFile(pod.metadata.uid!), 'utf8'),
      ) as Partial<SandboxInfo>;
      if (stored.id === sandbox.id && typeof stored.ip === 'string')
        return { id: sandbox.id, ip: stored.ip };
    } catch {
      // No record: the sandbox is made again below.
    }
    return undefined;
  }

  private async ensureSandbox(
    worker: PodWorker,
    pod: Pod,
    sandbox: ObservedContainer | undefined,
    now: number,
  ): Promise<SandboxInfo | undefined> {
    if (sandbox !== undefined) {
      const known = await this.knownSandbox(worker, pod, sandbox);
      if (known !== undefined) return known;
      // A sandbox whose address the agent cannot learn is made again.
      await this.stopAndRemove([sandbox], 0);
    }
    if (this.retryPending(worker, 'FailedCreatePodSandBox', now)) {
      this.wakeAt(worker, worker.podFailure!.retryAtMs);
      return undefined;
    }
    try {
      const info = await this.runtime.createSandbox(pod, this.node);
      worker.podFailure = undefined;
      worker.sandbox = info;
      worker.lastSandboxId = info.id;
      worker.startTime ??= new Date(this.clock.now()).toISOString();
      await mkdir(join(this.dataDir, 'pods', pod.metadata.uid!), { recursive: true });
      await writeFile(this.sandboxFile(pod.metadata.uid!), JSON.stringify(info));
      return info;
    } catch (error) {
      this.recordPodFailure(worker, 'FailedCreatePodSandBox', errorText(error));
      return undefined;
    }
  }

  /** Images per pull policy; a waiting reason when the image is not there to use. */
  private async ensureImage(container: Container): Promise<ContainerStateWaiting | undefined> {
    const policy = pullPolicyOf(container);
    if (policy !== 'Always') {
      if (await this.runtime.hasImage(container.image)) return undefined;
      if (policy === 'Never') {
        return {
          reason: 'ErrImageNeverPull',
          message: `Container image "${container.image}" is not present with pull policy of Never`,
        };
      }
    }
    const pulled = await this.runtime.pull(container.image);
    if (pulled.ok) return undefined;
    return {
      reason: 'ErrImagePull',
      message: pulled.message ?? `failed to pull image "${container.image}"`,
    };
  }

  /** Makes and starts one container; true when the engine changed. */
  private async runContainer(
    worker: PodWorker,
    pod: Pod,
    container: Container,
    init: boolean,
    index: number,
    restartCount: number,
    current: ObservedContainer | undefined,
    sandbox: SandboxInfo,
    now: number,
  ): Promise<boolean> {
    const memory = this.memoryOf(worker, container.name);
    const failure = memory.failure;
    if (failure !== undefined && failure.retryAtMs > now) {
      // The failing sync's reason shows for the first half of the wait, then the back-off's.
      const backoffFromMs = failure.failedAtMs + (failure.retryAtMs - failure.failedAtMs) / 2;
      const inBackoff = failure.backoffWaiting !== undefined && now >= backoffFromMs;
      memory.waiting = inBackoff ? failure.backoffWaiting : failure.waiting;
      if (failure.backoffWaiting !== undefined && !inBackoff) this.wakeAt(worker, backoffFromMs);
      this.wakeAt(worker, failure.retryAtMs);
      return false;
    }
    const fail = (
      waiting: ContainerStateWaiting,
      backoffWaiting?: ContainerStateWaiting,
    ): boolean => {
      const failures = (memory.failure?.failures ?? 0) + 1;
      const failedAtMs = this.clock.now();
      const retryAtMs = failedAtMs + retryDelayMs(failures);
      memory.failure = { failures, failedAtMs, retryAtMs, waiting, backoffWaiting };
      memory.waiting = waiting;
      // The failing sync reports the error; a look half-way through the wait reports the back-off.
      if (backoffWaiting !== undefined) this.wakeAt(worker, (failedAtMs + retryAtMs) / 2);
      this.wakeAt(worker, retryAtMs);
      return false;
    };
    const imageProblem = await this.ensureImage(container);
    if (imageProblem !== undefined) {
      const backoff: ContainerStateWaiting | undefined =
        imageProblem.reason === 'ErrImagePull'
          ? {
              reason: 'ImagePullBackOff',
              message: `Back-off pulling image "${container.image}": ${imageProblem.message ?? ''}`,
            }
          : undefined;
      return fail(imageProblem, backoff);
    }
    if (current !== undefined) {
      this.rememberEnd(memory, current);
      if (!hasExited(current)) {
        // A replaced (spec changed) container stops gracefully; its end is not a crash.
        await this.runtime.stop(
          current.id,
          pod.spec.terminationGracePeriodSeconds ?? DEFAULT_GRACE_SECONDS,
        );
      }
      this.disposeProbesOf(worker, current.id);
    }
    // The old container goes once the new one is made and started (names never clash): its
    // removal is off the path of a restart. Should the agent stop in between, the next sync
    // removes it as a leftover.
    const removeOld = async (): Promise<void> => {
      if (current !== undefined) await this.runtime.remove(current.id);
    };
    let id: string;
    try {
      id = await this.runtime.createContainer({
        // The port makes containers of spec.containers: an init container goes in as the only
        // one of a copy of the pod (same metadata, volumes and sandbox).
        pod: init ? { ...pod, spec: { ...pod.spec, containers: [container] } } : pod,
        node: this.node,
        sandbox,
        containerIndex: init ? 0 : index,
        specHash: specHash(pod, container),
        restartCount,
        volumes: worker.volumes ?? new Map(),
      });
    } catch (error) {
      fail({ reason: 'CreateContainerError', message: errorText(error) });
      await removeOld();
      return current !== undefined;
    }
    remember(this.made, id);
    const before = { seen: memory.seen, restartCount: memory.restartCount };
    memory.seen = true;
    memory.restartCount = restartCount;
    try {
      await this.runtime.start(id);
    } catch (error) {
      // A container that never ran is no restart and no crash: it goes, and the attempt is
      // retried on the step's backoff (its sandbox may have died just now, for one).
      memory.seen = before.seen;
      memory.restartCount = before.restartCount;
      fail({ reason: 'RunContainerError', message: errorText(error) });
      await Promise.all([this.runtime.remove(id), removeOld()]);
      return true;
    }
    memory.failure = undefined;
    memory.lastId = id;
    await removeOld();
    return true;
  }

  private async startExisting(worker: PodWorker, name: string, id: string): Promise<boolean> {
    try {
      await this.runtime.start(id);
      return true;
    } catch (error) {
      const memory = this.memoryOf(worker, name);
      memory.waiting = { reason: 'RunContainerError', message: errorText(error) };
      await this.runtime.remove(id);
      return true;
    }
  }

  /**
   * Graceful stop of every container given (at once), then removal. `recorded` uses each
   * container's own grace-period label: for orphans, whose spec this agent never saw.
   */
  private async stopAndRemove(
    containers: readonly ObservedContainer[],
    graceSeconds: number | 'recorded',
  ): Promise<void> {
    await Promise.all(
      containers.map(async (container) => {
        if (!hasExited(container) && container.state !== 'created') {
          const recorded = Number(container.labels[LABELS.gracePeriod]);
          const grace =
            graceSeconds !== 'recorded'
              ? graceSeconds
              : Number.isInteger(recorded) && recorded >= 0
                ? recorded
                : this.orphanGraceSeconds;
          await this.runtime.stop(container.id, grace);
        }
        await this.runtime.remove(container.id);
      }),
    );
  }

  /** Removes a pod that left the desired set: containers (gracefully), then sandbox, then volumes. */
  private async teardown(worker: PodWorker, mine: readonly ObservedContainer[]): Promise<void> {
    for (const runner of worker.probes.values()) this.disposeProbes(runner);
    worker.probes.clear();
    worker.cancelWake?.();
    worker.cancelWake = undefined;
    worker.wakeAtMs = undefined;
    const uids = new Set(mine.map((c) => c.podUid));
    if (worker.volumesUid !== undefined) uids.add(worker.volumesUid);
    await this.stopAndRemove(
      mine.filter((c) => c.role === 'container'),
      worker.specSeen ? worker.graceSeconds : 'recorded',
    );
    await this.stopAndRemove(
      mine.filter((c) => c.role === 'sandbox'),
      0,
    );
    for (const uid of uids) {
      if (uid !== '') await removePodVolumes(uid, this.dataDir, this.volumeEngine, this.node);
    }
    worker.observed = [];
    worker.volumes = undefined;
    worker.volumesUid = undefined;
    worker.sandbox = undefined;
    worker.containers.clear();
    worker.status = undefined;
    worker.statusJson = '';
  }

  // ---- probes ----

  private syncProbes(worker: PodWorker, pod: Pod, containers: readonly ObservedContainer[]): void {
    const live = new Set<string>();
    for (const container of pod.spec.containers) {
      if (
        container.livenessProbe === undefined &&
        container.readinessProbe === undefined &&
        container.startupProbe === undefined
      ) {
        continue;
      }
      const current = containers
        .filter((c) => c.containerName === container.name && c.state === 'running')
        .sort(newestFirst)[0];
      if (current === undefined || worker.sandbox === undefined) continue;
      live.add(current.id);
      if (!worker.probes.has(current.id)) this.startProbes(worker, pod, container, current);
    }
    for (const [id, runner] of worker.probes) {
      if (!live.has(id)) {
        this.disposeProbes(runner);
        worker.probes.delete(id);
      }
    }
  }

  private startProbes(
    worker: PodWorker,
    pod: Pod,
    container: Container,
    current: ObservedContainer,
  ): void {
    const runner: ProbeRunner = {
      containerId: current.id,
      counters: new Map(),
      cancels: [],
      disposed: false,
    };
    worker.probes.set(current.id, runner);
    const startedMs = current.startedAt === undefined ? Number.NaN : Date.parse(current.startedAt);
    const kill = async (probe: Probe): Promise<void> => {
      // A failed liveness or startup probe: the container is stopped, and its exit is then
      // handled by the restart policy like any other.
      this.disposeProbes(runner);
      const grace =
        probe.terminationGracePeriodSeconds ??
        pod.spec.terminationGracePeriodSeconds ??
        DEFAULT_GRACE_SECONDS;
      try {
        await this.runtime.stop(current.id, grace);
      } finally {
        this.kick(worker);
      }
    };
    const run = (kind: ProbeKind, probe: Probe, onPassed?: () => void): void => {
      const settings = probeSettings(probe);
      runner.counters.set(kind, initialProbeCounter(kind));
      const sinceStart = Number.isFinite(startedMs) ? Math.max(0, this.clock.now() - startedMs) : 0;
      const firstDelay = Math.max(0, settings.initialDelayMs - sinceStart);
      const tick = async (): Promise<void> => {
        if (runner.disposed) return;
        const outcome = await runProbe(
          probe,
          {
            runtime: this.runtime,
            containerId: current.id,
            podIp: worker.sandbox?.ip ?? '127.0.0.1',
            container,
          },
          settings.timeoutMs,
        );
        if (runner.disposed) return;
        const before = runner.counters.get(kind)!;
        const after = recordProbeResult(before, outcome.ok, settings, outcome.message);
        runner.counters.set(kind, after);
        const failed =
          kind === 'liveness'
            ? !after.passing
            : kind === 'startup' && after.failures >= settings.failureThreshold;
        if (failed) {
          await kill(probe);
          return;
        }
        if (before.passing !== after.passing && worker.pod !== undefined) this.publish(worker);
        if (kind === 'startup' && after.passing) {
          // Started: the startup probe is done, the others begin.
          onPassed?.();
          return;
        }
        this.scheduleProbe(runner, tick, settings.periodMs);
      };
      this.scheduleProbe(runner, tick, firstDelay);
    };
    const others = (): void => {
      if (container.livenessProbe !== undefined) run('liveness', container.livenessProbe);
      if (container.readinessProbe !== undefined) run('readiness', container.readinessProbe);
    };
    // With a startup probe, liveness and readiness wait until it has passed, as in Kubernetes.
    if (container.startupProbe !== undefined) run('startup', container.startupProbe, others);
    else others();
  }

  private scheduleProbe(runner: ProbeRunner, tick: () => Promise<void>, delayMs: number): void {
    if (runner.disposed || this.stopped) return;
    runner.cancels.push(
      this.clock.setTimer(() => {
        tick().catch(() => {
          // A probe that throws counts as nothing; the next period tries again.
        });
      }, delayMs),
    );
  }

  private disposeProbes(runner: ProbeRunner): void {
    runner.disposed = true;
    for (const cancel of runner.cancels.splice(0)) cancel();
  }

  private disposeProbesOf(worker: PodWorker, containerId: string): void {
    const runner = worker.probes.get(containerId);
    if (runner === undefined) return;
    this.disposeProbes(runner);
    worker.probes.delete(containerId);
  }

  // ---- status ----

  private computeStatus(
    worker: PodWorker,
    pod: Pod,
    seen: readonly ObservedContainer[] = worker.observed,
  ): PodStatusReport {
    const observed = seen.filter((c) => c.podUid === pod.metadata.uid);
    const sandbox = observed.filter((c) => c.role === 'sandbox').sort(newestFirst)[0];
    const viewOf = (container: Container): ContainerView => {
      const memory = worker.containers.get(container.name);
      const current = observed
        .filter((c) => c.role === 'container' && c.containerName === container.name)
        .sort(newestFirst)[0];
      const runner = current === undefined ? undefined : worker.probes.get(current.id);
      const readiness = runner?.counters.get('readiness');
      const started =
        container.startupProbe === undefined || (runner?.counters.get('startup')?.passing ?? false);
      let waiting = memory?.waiting;
      if (waiting === undefined && current === undefined && worker.podFailure !== undefined) {
        waiting = { reason: 'ContainerCreating', message: worker.podFailure.message };
      }
      // Held back after an exit (CrashLoopBackOff): the exit just seen is the last state.
      let lastTerminated: ContainerStateTerminated | undefined;
      if (waiting !== undefined && current !== undefined && hasExited(current)) {
        lastTerminated = terminatedState(current);
      } else if (memory?.lastTerminatedId !== current?.id) {
        lastTerminated = memory?.lastTerminated;
      }
      return {
        name: container.name,
        image: container.image,
        current,
        waiting,
        ready: started && (container.readinessProbe === undefined || (readiness?.passing ?? false)),
        started,
        restartCount:
          current !== undefined ? observedRestartCount(current) : (memory?.restartCount ?? 0),
        lastTerminated,
      };
    };
    const views = pod.spec.containers.map(viewOf);
    const inits = pod.spec.initContainers ?? [];
    const remembered = worker.sandbox?.id === sandbox?.id ? worker.sandbox?.ip : undefined;
    const sandboxIp = sandbox?.ip !== undefined && sandbox.ip !== '' ? sandbox.ip : remembered;
    return computePodStatus({
      restartPolicy: pod.spec.restartPolicy ?? 'Always',
      containers: views,
      initContainers: inits.map(viewOf),
      initialized: inits.length === 0 || worker.initialized,
      podIP: sandbox !== undefined && !hasExited(sandbox) ? sandboxIp : undefined,
      hostIP: this.hostIp,
      startTime: worker.startTime ?? sandbox?.startedAt,
      ...(worker.podFailure !== undefined
        ? { reason: worker.podFailure.reason, message: worker.podFailure.message }
        : {}),
    });
  }

  private publish(worker: PodWorker): void {
    const pod = worker.pod;
    if (pod === undefined) return;
    const status = withTransitionTimes(
      this.computeStatus(worker, pod),
      worker.status,
      new Date(this.clock.now()).toISOString(),
    );
    const json = JSON.stringify(status);
    worker.status = status;
    if (json === worker.statusJson) return;
    worker.statusJson = json;
    this.notifySoon();
  }

  private notifySoon(): void {
    if (this.cancelNotify !== undefined || this.stopped) return;
    this.cancelNotify = this.clock.setTimer(() => {
      this.cancelNotify = undefined;
      for (const listener of [...this.listeners]) {
        try {
          listener();
        } catch {
          // One listener's failure is its own business.
        }
      }
    }, this.changeDebounceMs);
  }
}
