/**
 * Live pod status into the store: the engine, keeping its state in a real libsql store, writes
 * each pod's last reported status into the pod JSON of its assignment, and `berth get pods`
 * (through main, over that data dir) shows it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../operator/agent/lifecycle/clock.js';
import type { PodStatusReport } from '../../operator/agent/lifecycle/status-types.js';
import { createNodeClient } from '../../operator/api/node-client.js';
import { createNodeEndpoint } from '../../operator/api/node-endpoint.js';
import { main } from '../../operator/cli/main.js';
import { createEngine } from '../../operator/engine/engine.js';
import { createStoreState } from '../../operator/engine/store-state.js';
import { processFile } from '../../operator/manifests/load.js';
import { DEFAULT_PARSE_LIMITS } from '../../operator/manifests/types.js';
import { startEmbeddedOperator } from '../../operator/operator/index.js';
import { openStore } from '../../operator/store/store.js';
import { FakeNodeAgent, waitFor } from '../agent/fake-node-agent.js';
import { captureIo } from '../helpers/capture-io.js';

const TOKEN = 'pod-status-token';
const closers: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  while (closers.length > 0) await closers.pop()?.();
});

/** Reports each desired pod Running and ready, in the full shape a real agent sends. */
class FakeLocalAgent extends FakeNodeAgent {
  async podsOnEngine(): Promise<ReadonlySet<string>> {
    return new Set(this.desiredNames());
  }

  override pods() {
    return super.pods().map((report) => {
      const status: PodStatusReport = {
        phase: 'Running',
        conditions: [{ type: 'Ready', status: 'True' }],
        podIP: '10.0.0.2',
        containerStatuses: [
          {
            name: 'c',
            state: { running: { startedAt: new Date().toISOString() } },
            lastState: {},
            ready: true,
            restartCount: 0,
            image: 'busybox:1',
          },
        ],
      };
      return { ...report, status };
    });
  }
}

async function getPods(dataDir: string): Promise<{ exit: number; out: string; err: string }> {
  const io = captureIo();
  const exit = await main(['get', 'pods', '-o', 'wide', '--data-dir', dataDir], io);
  return { exit, out: io.out(), err: io.err() };
}

function rowOf(out: string, name: string): string | undefined {
  return out.split('\n').find((line) => line.startsWith(`${name} `));
}

interface StoredPodJson {
  readonly metadata: { readonly uid: string };
  readonly status?: unknown;
}

describe('pod status in the store', () => {
  it('an engine pass with a status report stores it, and berth get pods shows Running 1/1', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'berth-pod-status-'));
    closers.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const clock = new ManualClock();
    const endpoint = createNodeEndpoint({ token: TOKEN, now: () => clock.now() });
    const server = await endpoint.listen('127.0.0.1', 0);
    closers.push(server.close);
    const store = openStore(dataDir);
    let storeOpen = true;
    closers.push(() => {
      if (storeOpen) store.close();
    });

    const client = createNodeClient({ server: server.url, token: TOKEN, name: 'node-1' });
    await client.register({ labels: {}, capacity: { cpu: 2, memoryBytes: 2 ** 30 } });
    const state = createStoreState(store, { now: () => new Date(clock.now()).toISOString() });
    const engine = createEngine({ endpoint, state, clock, random: () => 0.5 });
    const parsed = processFile(
      'app.yaml',
      new TextEncoder().encode(`apiVersion: v1
kind: Pod
metadata: {name: solo}
spec:
  containers: [{name: c, image: busybox:1}]
`),
      DEFAULT_PARSE_LIMITS,
    );
    expect(parsed.problems).toEqual([]);
    engine.sync('app', parsed.objects);
    const storedPod = (): StoredPodJson => {
      const assignment = store.assignment('default/solo');
      if (assignment === undefined) throw new Error('no assignment for default/solo');
      return assignment.pod as StoredPodJson;
    };
    expect(store.assignment('default/solo')?.node).toBe('node-1');
    expect(storedPod().status).toBeUndefined();

    const running: PodStatusReport = {
      phase: 'Running',
      conditions: [{ type: 'Ready', status: 'True' }],
      podIP: '10.88.0.9',
      startTime: new Date().toISOString(),
      containerStatuses: [
        {
          name: 'c',
          state: { running: { startedAt: new Date().toISOString() } },
          lastState: {},
          ready: true,
          restartCount: 0,
          image: 'busybox:1',
        },
      ],
    };
    const uid = storedPod().metadata.uid;
    await client.reportStatus([{ namespace: 'default', name: 'solo', uid, status: running }]);
    engine.reconcile();
    expect(storedPod().status).toEqual(running);

    // berth get takes the data dir's lock: the engine's store is closed first, as at exit.
    store.close();
    storeOpen = false;
    const io = captureIo();
    const exit = await main(['get', 'pods', '-o', 'wide', '--data-dir', dataDir], io);
    expect(io.err()).toBe('');
    expect(exit).toBe(0);
    const row = io
      .out()
      .split('\n')
      .find((line) => line.startsWith('solo '));
    expect(row?.split(/\s+/).slice(0, 4)).toEqual(['solo', '1/1', 'Running', '0']);
    expect(row).toContain('10.88.0.9');
    expect(row).toContain('node-1');
  });

  it('the embedded operator stores what its agent reports, and get pods shows it after close', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'berth-pod-status-embedded-'));
    closers.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const operator = await startEmbeddedOperator({
      dataDir,
      nodeName: 'local',
      createAgent: async () => new FakeLocalAgent(),
    });
    let open = true;
    closers.push(async () => {
      if (open) await operator.close();
    });
    expect(await operator.nodeReady(10_000)).toBe(true);
    const parsed = processFile(
      'app.yaml',
      new TextEncoder().encode(`apiVersion: v1
kind: Pod
metadata: {name: solo}
spec:
  containers: [{name: c, image: busybox:1}]
`),
      DEFAULT_PARSE_LIMITS,
    );
    operator.engine.sync('app', parsed.objects);
    await waitFor(
      () =>
        (operator.store.assignment('default/solo')?.pod as StoredPodJson | undefined)?.status !==
        undefined,
      'the reported status in the store',
    );
    await operator.close();
    open = false;

    const run = await getPods(dataDir);
    expect(run.err).toBe('');
    expect(run.exit).toBe(0);
    const row = rowOf(run.out, 'solo');
    expect(row?.split(/\s+/).slice(0, 3)).toEqual(['solo', '1/1', 'Running']);
    expect(row).toContain('10.0.0.2');
    expect(row).toContain('local');
  });
});
