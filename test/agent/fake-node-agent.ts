/**
 * A node agent without containers, for testing the agent's shell (standalone feed, HTTP,
 * attached mode): it records every desired set handed to it, reports each desired pod as
 * Running, and serves logs from text set per container.
 */
import { PassThrough } from 'node:stream';
import { BerthError } from '../../operator/model/errors.js';
import type { Pod, PodStatus } from '../../operator/model/generated/types.js';

export { waitFor } from '../helpers/wait.js';

export interface FakePodReport {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly status: PodStatus;
}

export class FakeNodeAgent {
  /** Every setDesiredPods call, oldest first. */
  readonly calls: { pods: readonly Pod[]; version: string }[] = [];
  /** Log text per `ns/pod/container`; follow streams stay open until `closeFollowers`. */
  readonly logText = new Map<string, string>();
  readonly followers: PassThrough[] = [];
  stopped = false;
  private readonly listeners = new Set<() => void>();
  private desired: readonly Pod[] = [];

  setDesiredPods(pods: readonly Pod[], version: string): void {
    this.calls.push({ pods, version });
    this.desired = pods;
    this.emit();
  }

  get version(): string | undefined {
    return this.calls.at(-1)?.version;
  }

  desiredNames(): string[] {
    return this.desired.map((p) => `${p.metadata?.namespace}/${p.metadata?.name}`).sort();
  }

  pods(): FakePodReport[] {
    return this.desired.map((pod) => ({
      namespace: pod.metadata?.namespace ?? 'default',
      name: pod.metadata?.name ?? '',
      uid: pod.metadata?.uid ?? `uid-${pod.metadata?.name}`,
      status: {
        phase: 'Running',
        podIP: '10.0.0.2',
        containerStatuses: pod.spec?.containers.map((c) => ({ name: c.name, ready: true })) ?? [],
      },
    }));
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(): void {
    for (const listener of this.listeners) listener();
  }

  async logs(
    namespace: string,
    pod: string,
    container: string | undefined,
    options: { follow: boolean; tail?: number },
  ): Promise<NodeJS.ReadableStream> {
    const found = this.desired.find(
      (p) => p.metadata?.namespace === namespace && p.metadata?.name === pod,
    );
    if (found === undefined) {
      throw new BerthError('AGENT_POD_NOT_FOUND', `pod ${namespace}/${pod} not found`);
    }
    const names = found.spec?.containers.map((c) => c.name) ?? [];
    if (container === undefined && names.length !== 1) {
      throw new BerthError('AGENT_CONTAINER_NOT_FOUND', `a container name must be specified`);
    }
    const name = container ?? names[0] ?? '';
    const text = this.logText.get(`${namespace}/${pod}/${name}`);
    if (text === undefined) {
      throw new BerthError('AGENT_CONTAINER_NOT_FOUND', `container ${name} not found in ${pod}`);
    }
    if (text === 'engine failure') throw new Error('engine failed');
    let lines = text.split('\n').filter((l) => l !== '');
    if (options.tail !== undefined) lines = lines.slice(-options.tail);
    const stream = new PassThrough();
    stream.write(lines.map((l) => `${l}\n`).join(''));
    if (options.follow) this.followers.push(stream);
    else stream.end();
    return stream;
  }

  async capacity(): Promise<{ cpu: number; memoryBytes: number }> {
    return { cpu: 4, memoryBytes: 8 * 1024 ** 3 };
  }

  async start(): Promise<void> {}

  async stop(): Promise<void> {
    this.stopped = true;
  }
}

export function testPod(name: string, namespace = 'default', image = 'busybox'): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, uid: `uid-${name}` },
    spec: { containers: [{ name: 'main', image }] },
  };
}
