/**
 * Child process of bench/operator-memory.ts: the operator's real core (libsql store, node
 * endpoint on loopback, engine on the system clock) in this process, with 100 fake nodes
 * registered over HTTP. `node ... operator-memory-child.ts pods` then syncs 100
 * ReplicationControllers of 100 replicas (10,000 pods), lets every node report its pods
 * Running and Ready, and times reconcile passes: the first after the reports, passes where
 * nothing changed, passes after every node reports its whole set again with one pod's status
 * changed (1% of the pods), and syncs that scale one RC by 10. It prints one JSON line with
 * the timings and the process's memory; `baseline` does everything up to the sync and prints
 * the same line.
 * Run with `--expose-gc` so both measure after a full collection.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { systemClock } from '../operator/agent/lifecycle/clock.js';
import { createNodeClient, type NodeClient } from '../operator/api/node-client.js';
import { createNodeEndpoint } from '../operator/api/node-endpoint.js';
import type { PodReport } from '../operator/api/protocol.js';
import { createEngine } from '../operator/engine/engine.js';
import { createStoreState } from '../operator/engine/store-state.js';
import { processFile } from '../operator/manifests/load.js';
import { DEFAULT_PARSE_LIMITS, type ManifestObject } from '../operator/manifests/types.js';
import { openStore } from '../operator/store/store.js';

export const NODE_COUNT = 100;
export const RC_COUNT = 100;
export const REPLICAS = 100;
export const PASSES = 5;

export interface ChildReport {
  readonly mode: 'baseline' | 'pods';
  readonly rssBytes: number;
  readonly heapUsedBytes: number;
  readonly pods: number;
  readonly syncMs: number;
  /** The first reconcile pass after every node reported its pods (stores every status). */
  readonly firstPassMs: number;
  /** One reconcile pass each, with nothing changed since the pass before. */
  readonly passMs: readonly number[];
  /** One pass each after every node reported its set with one pod's status changed (1%). */
  readonly statusPassMs: readonly number[];
  /** One sync each (a pass) that scales one more RC from 100 to 110 replicas. */
  readonly scalePassMs: readonly number[];
}

const TOKEN = 'bench-operator-memory';

/** The RCs, the first `scaled` of them at REPLICAS + 10. */
function controllers(scaled = 0): ManifestObject[] {
  const documents: string[] = [];
  for (let i = 0; i < RC_COUNT; i += 1) {
    documents.push(`apiVersion: v1
kind: ReplicationController
metadata:
  name: app-${i}
spec:
  replicas: ${i < scaled ? REPLICAS + 10 : REPLICAS}
  selector: {app: app-${i}}
  template:
    metadata:
      labels: {app: app-${i}, tier: bench}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: main
          image: berth-test/busybox:1
          imagePullPolicy: IfNotPresent
          command: [sleep, "3600"]
          ports: [{containerPort: 8080, name: http}]
          resources:
            requests: {cpu: 10m, memory: 16Mi}
`);
  }
  const result = processFile(
    'bench.yaml',
    new TextEncoder().encode(documents.join('---\n')),
    DEFAULT_PARSE_LIMITS,
  );
  if (result.problems.length > 0) {
    throw new Error(`bench manifests are invalid: ${JSON.stringify(result.problems[0])}`);
  }
  return [...result.objects];
}

/** What a node agent reports for a pod it runs: Running, Ready, one container up. */
function runningReport(
  pod: { metadata: { namespace?: string; name?: string; uid?: string } },
  index: number,
  startedAt: string,
  restartCount = 0,
): PodReport {
  return {
    namespace: pod.metadata.namespace ?? 'default',
    name: pod.metadata.name ?? '',
    uid: pod.metadata.uid ?? '',
    status: {
      phase: 'Running',
      conditions: [
        { type: 'Initialized', status: 'True' },
        { type: 'Ready', status: 'True' },
      ],
      hostIP: '127.0.0.1',
      podIP: `10.88.${Math.floor(index / 250)}.${(index % 250) + 2}`,
      startTime: startedAt,
      containerStatuses: [
        {
          name: 'main',
          state: { running: { startedAt } },
          lastState: {},
          ready: true,
          restartCount,
          image: 'berth-test/busybox:1',
          imageID:
            'docker://sha256:0000000000000000000000000000000000000000000000000000000000000000',
          containerID: `docker://${index.toString(16).padStart(64, '0')}`,
        },
      ],
    },
  };
}

async function main(mode: 'baseline' | 'pods'): Promise<ChildReport> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'berth-bench-memory-'));
  const store = openStore(dataDir);
  const endpoint = createNodeEndpoint({ token: TOKEN, now: () => systemClock.now() });
  const server = await endpoint.listen('127.0.0.1', 0);
  try {
    const state = createStoreState(store, {
      now: () => new Date(systemClock.now()).toISOString(),
    });
    const engine = createEngine({ endpoint, state, clock: systemClock, random: Math.random });
    const clients: NodeClient[] = [];
    for (let i = 0; i < NODE_COUNT; i += 1) {
      const client = createNodeClient({ server: server.url, token: TOKEN, name: `node-${i}` });
      await client.register({
        labels: { 'bench.berth.io/rack': `r${i % 10}` },
        capacity: { cpu: 64, memoryBytes: 256 * 2 ** 30 },
      });
      clients.push(client);
    }
    const objects = mode === 'pods' ? controllers() : [];

    let syncMs = 0;
    let firstPassMs = 0;
    const passMs: number[] = [];
    const statusPassMs: number[] = [];
    const scalePassMs: number[] = [];
    let pods = 0;
    // Measured holding the 10,000 pods, before the passes that change some.
    let memory: NodeJS.MemoryUsage | undefined;
    const measure = (): NodeJS.MemoryUsage => {
      globalThis.gc?.();
      globalThis.gc?.();
      return process.memoryUsage();
    };
    // A long synchronous pass can outlast the server's keep-alive, so a reused connection
    // may be reset: such a report is sent again.
    const report = async (client: NodeClient, reports: PodReport[]): Promise<void> => {
      for (let attempt = 1; ; attempt += 1) {
        try {
          await client.reportStatus(reports);
          return;
        } catch (error) {
          if (attempt >= 3) throw error;
        }
      }
    };
    const timed = (body: () => unknown): number => {
      const start = performance.now();
      body();
      return performance.now() - start;
    };
    if (mode === 'pods') {
      const start = performance.now();
      const result = engine.sync('bench', objects);
      syncMs = performance.now() - start;
      if (result.refused !== undefined) throw new Error(`sync refused: ${result.refused.code}`);
      // Every fake node reads its assignment and reports each pod Running and Ready.
      const startedAt = new Date(systemClock.now()).toISOString();
      const assignedPods: (readonly Parameters<typeof runningReport>[0][])[] = [];
      let index = 0;
      for (const client of clients) {
        const assigned = await client.watchAssignments('', 0);
        assignedPods.push(assigned.pods);
        await report(
          client,
          assigned.pods.map((pod) => runningReport(pod, index++, startedAt)),
        );
        pods += assigned.pods.length;
      }
      firstPassMs = timed(() => engine.reconcile());
      for (let i = 0; i < PASSES; i += 1) passMs.push(timed(() => engine.reconcile()));
      memory = measure();
      for (let round = 1; round <= PASSES; round += 1) {
        // Each node reports its whole set again, in which one more of its pods restarted.
        index = 0;
        for (const [n, client] of clients.entries()) {
          const own = assignedPods[n] ?? [];
          await report(
            client,
            own.map((pod, i) => runningReport(pod, index++, startedAt, i < round ? 1 : 0)),
          );
        }
        statusPassMs.push(timed(() => engine.reconcile()));
      }
      for (let round = 1; round <= PASSES; round += 1) {
        const scaled = controllers(round);
        scalePassMs.push(
          timed(() => {
            const outcome = engine.sync('bench', scaled);
            if (outcome.refused !== undefined) throw new Error('scaling sync refused');
          }),
        );
      }
    }
    memory ??= measure();
    void [engine, objects, clients];
    return {
      mode,
      rssBytes: memory.rss,
      heapUsedBytes: memory.heapUsed,
      pods,
      syncMs,
      firstPassMs,
      passMs,
      statusPassMs,
      scalePassMs,
    };
  } finally {
    await server.close();
    store.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const mode = process.argv[2];
if (mode !== 'baseline' && mode !== 'pods') {
  console.error('usage: operator-memory-child.ts baseline|pods');
  process.exit(2);
}
const report = await main(mode);
process.stdout.write(`${JSON.stringify(report)}\n`);
process.exit(0);
