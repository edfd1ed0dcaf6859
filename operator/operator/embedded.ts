/**
 * The embedded operator: one process holding the store (the data dir's lock), the node
 * endpoint on loopback, the engine with its state in the store, and this host's node agent
 * attached to the endpoint like any remote one. `close` stops the loops and leaves pods
 * running, so the next operator on the same data dir adopts them.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { type Attachment, attachToOperator } from '../agent/attach.js';
import { type Clock, systemClock } from '../agent/lifecycle/clock.js';
import { createNodeClient } from '../api/node-client.js';
import { createNodeEndpoint, type NodeEndpoint } from '../api/node-endpoint.js';
import type { RandomSource } from '../controllers/pod-names.js';
import { createEngine, type Engine } from '../engine/engine.js';
import { createStoreState } from '../engine/store-state.js';
import { defaultOperatorDataDir } from '../model/data-dirs.js';
import type { Pod } from '../model/generated/types.js';
import { openStore, type Store } from '../store/store.js';

/** What the embedded operator drives of the local node agent (NodeAgent has this shape). */
export interface LocalAgent {
  setDesiredPods(pods: readonly Pod[], version: string): void;
  pods(): readonly { namespace: string; name: string; uid: string; status: object }[];
  onChange(listener: () => void): () => void;
  capacity(): Promise<{ cpu: number; memoryBytes: number }>;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** `namespace/name` of every pod with a container on the engine (removed ones linger). */
  podsOnEngine(): Promise<ReadonlySet<string>>;
}

export interface EmbeddedOperatorOptions {
  /** @default ~/.local/share/berth/operator (or $XDG_DATA_HOME/berth/operator), as `berth get` */
  readonly dataDir?: string;
  /** @default the host name */
  readonly nodeName: string;
  /** Makes the local agent. @default the Docker runtime and the real node agent */
  readonly createAgent?: (options: { node: string; dataDir: string }) => Promise<LocalAgent>;
  readonly clock?: Clock;
  readonly random?: RandomSource;
  /** Background trouble (agent attachment, engine passes), one line each. */
  readonly log?: (line: string) => void;
}

export interface EmbeddedOperator {
  readonly engine: Engine;
  readonly endpoint: NodeEndpoint;
  readonly agent: LocalAgent;
  readonly store: Store;
  readonly nodeName: string;
  /** Settles when the local node has registered and heartbeat (the engine can place pods). */
  nodeReady(timeoutMs: number): Promise<boolean>;
  /** Stops loops and the endpoint, leaves pods running, releases the lock. Safe twice. */
  close(): Promise<void>;
}

async function createDockerAgent(options: { node: string; dataDir: string }): Promise<LocalAgent> {
  // Loaded when used, so commands that never run pods never load dockerode.
  const [{ createNodeAgent, defaultHostIp }, { createDockerRuntime }] = await Promise.all([
    import('../agent/node-agent.js'),
    import('../agent/docker-runtime.js'),
  ]);
  const hostIp = defaultHostIp();
  const runtime = createDockerRuntime({ hostIP: hostIp });
  const agent = createNodeAgent({ runtime, hostIp, ...options });
  return Object.assign(agent, {
    async podsOnEngine(): Promise<ReadonlySet<string>> {
      const containers = await runtime.list(options.node);
      return new Set(containers.map((c) => `${c.podNamespace}/${c.podName}`));
    },
  });
}

export async function startEmbeddedOperator(
  options: EmbeddedOperatorOptions,
): Promise<EmbeddedOperator> {
  const dataDir = options.dataDir ?? defaultOperatorDataDir();
  const clock = options.clock ?? systemClock;
  const random = options.random ?? Math.random;
  const log = options.log ?? (() => {});
  const nodeName = options.nodeName;

  const store = openStore(dataDir);
  const cleanups: (() => Promise<void>)[] = [async () => store.close()];
  const runCleanups = async (): Promise<void> => {
    for (const cleanup of cleanups.splice(0).reverse()) {
      await cleanup().catch((error: unknown) => log(`while stopping: ${String(error)}`));
    }
  };
  try {
    const token = randomBytes(24).toString('hex');
    const endpoint = createNodeEndpoint({ token, now: () => clock.now() });
    const state = createStoreState(store, { now: () => new Date(clock.now()).toISOString() });

    // The nodes get their stored pod sets before any agent asks: an agent handed an empty
    // set would stop the pods a previous operator left running.
    const stored = new Map<string, Pod[]>();
    for (const { pod, node } of state.load().pods.values()) {
      if (node === undefined) continue;
      stored.set(node, [...(stored.get(node) ?? []), pod]);
    }
    for (const [node, pods] of stored) endpoint.assign(node, pods);

    const server = await endpoint.listen('127.0.0.1', 0);
    cleanups.push(() => server.close());

    const engine = createEngine({
      endpoint,
      state,
      clock,
      random,
      onError: (error) => log(`reconcile failed: ${String(error)}`),
    });

    const agent = await (options.createAgent ?? createDockerAgent)({
      node: nodeName,
      dataDir: path.join(dataDir, 'nodes', nodeName),
    });
    await agent.start();
    cleanups.push(() => agent.stop());
    const attachment: Attachment = attachToOperator({
      agent,
      client: createNodeClient({ server: server.url, token, name: nodeName }),
      labels: {},
      log,
    });
    cleanups.push(() => attachment.stop());
    attachment.done.catch((error: unknown) => log(`agent detached: ${String(error)}`));

    const stopEngine = engine.start(2000);
    cleanups.push(async () => stopEngine());

    return {
      engine,
      endpoint,
      agent,
      store,
      nodeName,
      nodeReady: (timeoutMs) =>
        new Promise<boolean>((resolve) => {
          if (endpoint.isReady(nodeName)) {
            resolve(true);
            return;
          }
          const cancelTimer = clock.setTimer(() => {
            unsubscribe();
            resolve(false);
          }, timeoutMs);
          const unsubscribe = endpoint.onChange(() => {
            if (!endpoint.isReady(nodeName)) return;
            cancelTimer();
            unsubscribe();
            resolve(true);
          });
        }),
      close: runCleanups,
    };
  } catch (error) {
    await runCleanups();
    throw error;
  }
}

export { defaultOperatorDataDir };
