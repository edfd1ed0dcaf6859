import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../operator/agent/lifecycle/clock.js';
import type { PodStatusReport } from '../../operator/agent/lifecycle/status-types.js';
import { createNodeClient } from '../../operator/api/node-client.js';
import {
  assignmentVersionOf,
  createNodeEndpoint,
  type NodeEndpoint,
} from '../../operator/api/node-endpoint.js';
import { createEngine } from '../../operator/engine/engine.js';
import { createMemoryState } from '../../operator/engine/state.js';
import { processFile } from '../../operator/manifests/load.js';
import { DEFAULT_PARSE_LIMITS, type ManifestObject } from '../../operator/manifests/types.js';
import { NO_NODES_MESSAGE } from '../../operator/scheduler/filters.js';
import { waitFor } from '../helpers/wait.js';

/** The loop over a real endpoint on loopback, with agents played by real node clients. */

const TOKEN = 'engine-loop-token';
const closers: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  while (closers.length > 0) await closers.pop()?.();
});

function load(yaml: string): ManifestObject[] {
  const result = processFile('app.yaml', new TextEncoder().encode(yaml), DEFAULT_PARSE_LIMITS);
  expect(result.problems).toEqual([]);
  return [...result.objects];
}

const SOLO = load(`apiVersion: v1
kind: Pod
metadata: {name: solo}
spec:
  containers: [{name: c, image: busybox:1}]
`);

async function serve(clock: ManualClock): Promise<{ endpoint: NodeEndpoint; url: string }> {
  const endpoint = createNodeEndpoint({ token: TOKEN, now: () => clock.now() });
  const server = await endpoint.listen('127.0.0.1', 0);
  closers.push(server.close);
  return { endpoint, url: server.url };
}

const until = <T>(check: () => T | Promise<T>, what: string) => waitFor(check, what, 10_000);

function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

const REGISTRATION = { labels: {}, capacity: { cpu: 2, memoryBytes: 2 ** 30 } };

describe('engine loop', () => {
  it('reports a pod Pending without nodes and assigns it once a node registers', async () => {
    const clock = new ManualClock();
    const { endpoint, url } = await serve(clock);
    const engine = createEngine({
      endpoint,
      state: createMemoryState(),
      clock,
      random: seeded(1),
    });
    const first = engine.sync('app', SOLO);
    const pending = first.reports.find((report) => report.action === 'pending');
    expect(pending?.ref.name).toBe('solo');
    expect(pending?.reason).toBe(NO_NODES_MESSAGE);

    closers.push(engine.start(60_000));
    const client = createNodeClient({ server: url, token: TOKEN, name: 'node-1' });
    await client.register(REGISTRATION);
    await until(
      () => endpoint.assignmentVersion('node-1') !== assignmentVersionOf([]),
      'the pod to be assigned after registration',
    );
    const assigned = await client.watchAssignments('', 0);
    expect(assigned.pods.map((pod) => pod.metadata.name)).toEqual(['solo']);
    expect(assigned.pods[0]?.spec.nodeName).toBe('node-1');
  });

  it('keeps the last good source when a sync is refused, and prunes with allowEmpty', async () => {
    const clock = new ManualClock();
    const { endpoint, url } = await serve(clock);
    const client = createNodeClient({ server: url, token: TOKEN, name: 'node-1' });
    await client.register(REGISTRATION);
    const engine = createEngine({ endpoint, state: createMemoryState(), clock, random: seeded(2) });
    engine.sync('app', SOLO);
    expect((await client.watchAssignments('', 0)).pods).toHaveLength(1);

    const refused = engine.sync('app', []);
    expect(refused.refused?.code).toBe('PLAN_DELETES_EVERYTHING');
    // The next pass works from the last good source: the pod stays.
    expect(engine.reconcile().refused).toBeUndefined();
    expect((await client.watchAssignments('', 0)).pods).toHaveLength(1);

    engine.sync('app', [], { allowEmpty: true });
    expect((await client.watchAssignments('', 0)).pods).toEqual([]);
  });

  it('schedules onto a node that turned ready on the periodic resync only', async () => {
    const clock = new ManualClock();
    const { endpoint, url } = await serve(clock);
    const client = createNodeClient({ server: url, token: TOKEN, name: 'node-1' });
    await client.register(REGISTRATION);
    // Missed heartbeats: the node is known but not ready.
    clock.advance(60_000);
    const engine = createEngine({ endpoint, state: createMemoryState(), clock, random: seeded(3) });
    const first = engine.sync('app', SOLO);
    expect(first.reports.find((r) => r.action === 'pending')?.reason).toMatch(/^0\/1 nodes/);
    closers.push(engine.start(1_000));
    await client.heartbeat();
    await until(async () => (await client.watchAssignments('', 0)).pods.length === 1, 'assignment');
  });

  it('stores each pod with its last reported status and keeps it while no report lists it', async () => {
    const clock = new ManualClock();
    const { endpoint, url } = await serve(clock);
    const client = createNodeClient({ server: url, token: TOKEN, name: 'node-1' });
    await client.register(REGISTRATION);
    const state = createMemoryState();
    const engine = createEngine({ endpoint, state, clock, random: seeded(4) });
    engine.sync('app', SOLO);
    const stored = state.load().pods.get('default/solo');
    expect(stored?.node).toBe('node-1');
    expect(stored?.pod.status).toBeUndefined();
    const uid = stored?.pod.metadata.uid ?? '';
    const running: PodStatusReport = {
      phase: 'Running',
      conditions: [{ type: 'Ready', status: 'True' }],
      podIP: '10.88.0.7',
      containerStatuses: [
        {
          name: 'c',
          state: { running: { startedAt: '2026-01-01T00:00:00Z' } },
          lastState: {},
          ready: true,
          restartCount: 2,
          image: 'busybox:1',
        },
      ],
    };
    const before = (await client.watchAssignments('', 0)).version;
    await client.reportStatus([{ namespace: 'default', name: 'solo', uid, status: running }]);
    engine.reconcile();
    expect(state.load().pods.get('default/solo')?.pod.status).toEqual(running);
    // Status is not desired state: the node's assignment does not change with it.
    expect(endpoint.assignmentVersion('node-1')).toBe(before);
    expect((await client.watchAssignments('', 0)).pods[0]?.status).toBeUndefined();

    // A report for another uid (an older pod of that name) is not this pod's status.
    await client.reportStatus([
      { namespace: 'default', name: 'solo', uid: 'other', status: { phase: 'Failed' } },
    ]);
    engine.reconcile();
    expect(state.load().pods.get('default/solo')?.pod.status).toEqual(running);
  });

  it('passes on a heartbeat only when readiness turns, and when a silent node turns NotReady', async () => {
    const clock = new ManualClock();
    const { endpoint, url } = await serve(clock);
    const client = createNodeClient({ server: url, token: TOKEN, name: 'node-1' });
    await client.register(REGISTRATION);
    let passes = 0;
    const engine = createEngine({
      endpoint,
      state: createMemoryState(),
      clock,
      random: seeded(5),
      heartbeatIntervalMs: 5_000,
      onPass: () => {
        passes += 1;
      },
    });
    expect(engine.sync('app', SOLO).reports.find((r) => r.action === 'scheduled')?.node).toBe(
      'node-1',
    );
    closers.push(engine.start(2_000, 600_000));
    const settle = () => new Promise((resolve) => setImmediate(resolve));
    const counted = passes;
    // Heartbeats of a ready node change no decision: no pass, and no 2 s resync while settled.
    for (let beat = 0; beat < 4; beat += 1) {
      clock.advance(5_000);
      await client.heartbeat();
      await settle();
    }
    expect(passes).toBe(counted);
    // Silent for three intervals: still ready; one millisecond later NotReady, at once.
    clock.advance(15_000);
    await settle();
    expect(passes).toBe(counted);
    expect(endpoint.isReady('node-1')).toBe(true);
    clock.advance(1);
    await settle();
    expect(endpoint.isReady('node-1')).toBe(false);
    expect(passes).toBe(counted + 1);
    // Past the grace (40 s) it stands as it did; at the eviction timeout (60 s) it turns again.
    clock.advance(60_000 - 15_001 - 1);
    await settle();
    expect(passes).toBe(counted + 1);
    clock.advance(1);
    await settle();
    expect(passes).toBe(counted + 2);
    // Back: the first heartbeat turns it Ready.
    await client.heartbeat();
    await settle();
    expect(passes).toBe(counted + 3);
    expect(endpoint.isReady('node-1')).toBe(true);
  });
});
