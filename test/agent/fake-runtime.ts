/**
 * An in-memory ContainerRuntime for fast tests of the node agent's loop: containers are
 * records, "processes" end when a test says so, events go out as the engine's would. Its
 * clock is the agent's, so start and finish times follow a ManualClock.
 */
import { PassThrough } from 'node:stream';
import type { Clock } from '../../operator/agent/lifecycle/clock.js';
import {
  type ContainerRuntime,
  type CreateContainerRequest,
  type ExecResult,
  type ImagePullResult,
  LABELS,
  type ObservedContainer,
  type RuntimeEvent,
  type SandboxInfo,
} from '../../operator/agent/runtime.js';
import type { Pod } from '../../operator/model/generated/types.js';

type State = ObservedContainer['state'];

export interface FakeContainer {
  id: string;
  labels: Record<string, string>;
  state: State;
  exitCode: number | undefined;
  startedAt: string | undefined;
  finishedAt: string | undefined;
  error: string | undefined;
  image: string;
  /** For containers: the pod and index they were made from. */
  request: CreateContainerRequest | undefined;
}

export class FakeRuntime implements ContainerRuntime {
  readonly containers = new Map<string, FakeContainer>();
  readonly images = new Set<string>();
  /** Images a pull can fetch; any other pull fails like an unreachable registry. */
  readonly pullable = new Set<string>();
  /** Every call, in order, as `method arg` strings. */
  readonly calls: string[] = [];
  /** Host ports taken by something else: a sandbox that binds one fails. */
  readonly takenHostPorts = new Set<number>();
  /** Exit code of an exec, by command joined with spaces (default 0). */
  readonly execResults = new Map<string, number>();
  /** Exit code a started container's process ends with at once, by container name (none: it keeps running). */
  readonly exitOnStart = new Map<string, number>();
  /** Start of a container of this name fails with the message (left created, as Docker does). */
  readonly startErrors = new Map<string, string>();
  /** Stops of containers of these names never return (an engine stuck in a stop). */
  readonly hangingStops = new Set<string>();
  /** While true, createSandbox never returns (a hung engine). */
  hangSandboxes = false;
  /** When set, list fails with it (an engine that does not answer). */
  listError: Error | undefined;
  private readonly subscribers = new Set<{
    node: string;
    onEvent: (event: RuntimeEvent) => void;
  }>();
  private nextId = 1;
  private nextIp = 2;

  constructor(private readonly clock: Clock) {}

  private emit(container: FakeContainer, action: RuntimeEvent['action']): void {
    for (const subscriber of this.subscribers) {
      if (container.labels[LABELS.node] !== subscriber.node) continue;
      const event: RuntimeEvent = {
        containerId: container.id,
        action,
        labels: { ...container.labels },
      };
      // Engines deliver events asynchronously.
      queueMicrotask(() => subscriber.onEvent(event));
    }
  }

  private now(): string {
    return new Date(this.clock.now()).toISOString();
  }

  private get(id: string): FakeContainer {
    const container = this.containers.get(id);
    if (container === undefined)
      throw Object.assign(new Error(`no such container: ${id}`), { statusCode: 404 });
    return container;
  }

  /** Adds a container as another tool would (foreign, another node's, an orphan). */
  addContainer(
    labels: Record<string, string>,
    state: State = 'running',
    image = 'busybox',
  ): FakeContainer {
    const container: FakeContainer = {
      id: `c${this.nextId++}`,
      labels,
      state,
      exitCode: state === 'exited' ? 0 : undefined,
      startedAt: this.now(),
      finishedAt: state === 'exited' ? this.now() : undefined,
      error: undefined,
      image,
      request: undefined,
    };
    this.containers.set(container.id, container);
    return container;
  }

  /** The process of a running container ends (a crash, a `docker kill`). */
  exit(id: string, exitCode: number): void {
    const container = this.get(id);
    if (container.state !== 'running') return;
    container.state = 'exited';
    container.exitCode = exitCode;
    container.finishedAt = this.now();
    this.emit(container, 'die');
  }

  /** Berth containers of one pod container name, newest (highest restart count) first. */
  containersOf(podName: string, containerName: string): FakeContainer[] {
    return [...this.containers.values()]
      .filter(
        (c) =>
          c.labels[LABELS.podName] === podName &&
          c.labels[LABELS.containerName] === containerName &&
          c.labels[LABELS.role] === 'container',
      )
      .sort(
        (a, b) => Number(b.labels[LABELS.restartCount]) - Number(a.labels[LABELS.restartCount]),
      );
  }

  sandboxesOf(podName: string): FakeContainer[] {
    return [...this.containers.values()].filter(
      (c) => c.labels[LABELS.podName] === podName && c.labels[LABELS.role] === 'sandbox',
    );
  }

  async list(node: string): Promise<ObservedContainer[]> {
    this.calls.push(`list ${node}`);
    if (this.listError !== undefined) throw this.listError;
    return [...this.containers.values()]
      .filter((c) => c.labels[LABELS.node] === node)
      .map((c) => ({
        id: c.id,
        labels: { ...c.labels },
        role: c.labels[LABELS.role] === 'sandbox' ? 'sandbox' : 'container',
        podNamespace: c.labels[LABELS.podNamespace] ?? '',
        podName: c.labels[LABELS.podName] ?? '',
        podUid: c.labels[LABELS.podUid] ?? '',
        containerName: c.labels[LABELS.containerName] ?? '',
        specHash: c.labels[LABELS.specHash] ?? '',
        state: c.state,
        exitCode: c.exitCode,
        startedAt: c.startedAt,
        finishedAt: c.finishedAt,
        error: c.error,
        oomKilled: false,
        image: c.image,
      }));
  }

  async hasImage(image: string): Promise<boolean> {
    this.calls.push(`hasImage ${image}`);
    return this.images.has(image);
  }

  async pull(image: string): Promise<ImagePullResult> {
    this.calls.push(`pull ${image}`);
    if (this.pullable.has(image)) {
      this.images.add(image);
      return { ok: true };
    }
    return {
      ok: false,
      message: `Get "https://registry/v2/": dial tcp: lookup registry: no such host`,
    };
  }

  private podLabels(pod: Pod, node: string, role: 'sandbox' | 'container'): Record<string, string> {
    return {
      [LABELS.podName]: pod.metadata.name ?? '',
      [LABELS.podNamespace]: pod.metadata.namespace ?? 'default',
      [LABELS.podUid]: pod.metadata.uid ?? '',
      [LABELS.role]: role,
      [LABELS.node]: node,
      [LABELS.owner]: 'berth',
    };
  }

  async createSandbox(pod: Pod, node: string): Promise<SandboxInfo> {
    this.calls.push(`createSandbox ${pod.metadata.name}`);
    if (this.hangSandboxes) return new Promise<SandboxInfo>(() => undefined);
    for (const container of pod.spec.containers) {
      for (const port of container.ports ?? []) {
        if (port.hostPort !== undefined && this.takenHostPorts.has(port.hostPort)) {
          throw new Error(`Bind for 0.0.0.0:${port.hostPort} failed: port is already allocated`);
        }
      }
    }
    const container = this.addContainer(
      this.podLabels(pod, node, 'sandbox'),
      'running',
      'berth/pause:1',
    );
    container.labels[LABELS.containerName] = '';
    this.emit(container, 'start');
    return { id: container.id, ip: `172.17.0.${this.nextIp++}` };
  }

  async createContainer(request: CreateContainerRequest): Promise<string> {
    const spec = request.pod.spec.containers[request.containerIndex];
    if (spec === undefined) throw new Error('no such container index');
    this.calls.push(`createContainer ${request.pod.metadata.name}/${spec.name}`);
    const container = this.addContainer(
      {
        ...this.podLabels(request.pod, request.node, 'container'),
        [LABELS.containerName]: spec.name,
        [LABELS.specHash]: request.specHash,
        [LABELS.restartCount]: String(request.restartCount),
      },
      'created',
      spec.image,
    );
    container.startedAt = undefined;
    container.request = request;
    this.emit(container, 'create');
    return container.id;
  }

  async start(containerId: string): Promise<void> {
    this.calls.push(`start ${containerId}`);
    const container = this.get(containerId);
    const startError = this.startErrors.get(container.labels[LABELS.containerName] ?? '');
    if (startError !== undefined) {
      container.error = startError;
      throw new Error(startError);
    }
    container.state = 'running';
    container.startedAt = this.now();
    container.finishedAt = undefined;
    container.exitCode = undefined;
    this.emit(container, 'start');
    const exitCode = this.exitOnStart.get(container.labels[LABELS.containerName] ?? '');
    if (exitCode !== undefined) this.exit(containerId, exitCode);
  }

  async stop(containerId: string, graceSeconds: number): Promise<void> {
    this.calls.push(`stop ${containerId} ${graceSeconds}`);
    const container = this.containers.get(containerId);
    if (container === undefined || container.state !== 'running') return;
    if (this.hangingStops.has(container.labels[LABELS.containerName] ?? '')) {
      return new Promise<void>(() => undefined);
    }
    this.exit(containerId, 137);
  }

  async remove(containerId: string): Promise<void> {
    this.calls.push(`remove ${containerId}`);
    const container = this.containers.get(containerId);
    if (container === undefined) return;
    this.containers.delete(containerId);
    this.emit(container, 'destroy');
  }

  async exec(containerId: string, command: readonly string[]): Promise<ExecResult> {
    this.calls.push(`exec ${containerId} ${command.join(' ')}`);
    return { exitCode: this.execResults.get(command.join(' ')) ?? 0, output: '' };
  }

  events(node: string, onEvent: (event: RuntimeEvent) => void): () => void {
    const subscriber = { node, onEvent };
    this.subscribers.add(subscriber);
    return () => {
      this.subscribers.delete(subscriber);
    };
  }

  async logs(containerId: string): Promise<NodeJS.ReadableStream> {
    const stream = new PassThrough();
    stream.end(`logs of ${containerId}\n`);
    return stream;
  }

  async capacity(): Promise<{ cpu: number; memoryBytes: number }> {
    return { cpu: 4, memoryBytes: 8 * 1024 ** 3 };
  }
}
